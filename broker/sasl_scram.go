package broker

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SASL mechanisms the broker implements.
const (
	MechPlain       = "PLAIN"
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechSCRAMSHA512 = "SCRAM-SHA-512"
)

// DefaultSCRAMIterations is the PBKDF2 iteration count --add-scram-user
// uses: Kafka's default and its minimum for both SCRAM mechanisms.
const DefaultSCRAMIterations = 4096

// errAuthFailed is what every credential mismatch returns, whatever the cause
// (unknown user, wrong password, bad proof), so clients cannot probe for users.
var errAuthFailed = errors.New("invalid credentials")

// scramHash is one SCRAM mechanism's hash function.
type scramHash struct {
	mech string
	new  func() hash.Hash
	size int
}

var (
	scram256 = scramHash{MechSCRAMSHA256, sha256.New, sha256.Size}
	scram512 = scramHash{MechSCRAMSHA512, sha512.New, sha512.Size}
)

func scramHashFor(mech string) (scramHash, bool) {
	switch mech {
	case MechSCRAMSHA256:
		return scram256, true
	case MechSCRAMSHA512:
		return scram512, true
	}
	return scramHash{}, false
}

func (h scramHash) hmac(key []byte, parts ...string) []byte {
	m := hmac.New(h.new, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func (h scramHash) sum(b []byte) []byte {
	d := h.new()
	d.Write(b)
	return d.Sum(nil)
}

// scramCredential is what RFC 5802 lets a server store instead of the
// password: enough to verify a proof, useless for logging in elsewhere.
type scramCredential struct {
	salt       []byte
	iterations int
	storedKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	serverKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// newSCRAMCredential derives a credential for password with a fresh salt.
func newSCRAMCredential(h scramHash, password string, iterations int) (scramCredential, error) {
	salt := make([]byte, 32)
	rand.Read(salt)
	return deriveSCRAM(h, password, salt, iterations)
}

func deriveSCRAM(h scramHash, password string, salt []byte, iterations int) (scramCredential, error) {
	salted, err := pbkdf2.Key(h.new, password, salt, iterations, h.size)
	if err != nil {
		return scramCredential{}, fmt.Errorf("derive %s key: %w", h.mech, err)
	}
	return scramCredential{
		salt:       salt,
		iterations: iterations,
		storedKey:  h.sum(h.hmac(salted, "Client Key")),
		serverKey:  h.hmac(salted, "Server Key"),
	}, nil
}

// credentials maps mechanism → user → credential. It is read-only once loaded.
type credentials map[string]map[string]scramCredential

// The credentials file holds one line per user and SCRAM mechanism; blank
// lines and lines starting with # are ignored:
//
//	alice SCRAM-SHA-512 iterations=4096,salt=<base64>,stored_key=<base64>,server_key=<base64>
//
// The value part is Kafka's own SCRAM credential string (as kafka-configs
// stores it). Passwords are never stored. PLAIN logins are checked against
// the user's SCRAM-SHA-512 (else SCRAM-SHA-256) credential by deriving it from
// the password sent, so PLAIN needs no separate, weaker entry.
func parseCredentials(data []byte) (credentials, error) {
	creds := credentials{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want \"<user> <mechanism> <credential>\", got %d fields", line, len(fields))
		}
		user, mech := fields[0], strings.ToUpper(fields[1])
		h, ok := scramHashFor(mech)
		if !ok {
			return nil, fmt.Errorf("line %d: mechanism %q: want %s or %s (PLAIN logins use these entries)", line, fields[1], MechSCRAMSHA256, MechSCRAMSHA512)
		}
		c, err := parseSCRAMCredential(fields[2], h)
		if err != nil {
			return nil, fmt.Errorf("line %d: user %q: %w", line, user, err)
		}
		if creds[mech] == nil {
			creds[mech] = map[string]scramCredential{}
		}
		if _, dup := creds[mech][user]; dup {
			return nil, fmt.Errorf("line %d: user %q has a second %s entry", line, user, mech)
		}
		creds[mech][user] = c
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return creds, nil
}

func parseSCRAMCredential(s string, h scramHash) (scramCredential, error) {
	var c scramCredential
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("%q: want key=value", kv)
		}
		if seen[k] {
			return c, fmt.Errorf("%s given twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "iterations":
			c.iterations, err = strconv.Atoi(v)
			if err == nil && (c.iterations < DefaultSCRAMIterations || c.iterations > 1<<20) {
				err = fmt.Errorf("iterations %d outside [%d, %d]", c.iterations, DefaultSCRAMIterations, 1<<20)
			}
		case "salt":
			c.salt, err = base64.StdEncoding.DecodeString(v)
			if err == nil && len(c.salt) < 8 {
				err = fmt.Errorf("salt of %d bytes, want at least 8", len(c.salt))
			}
		case "stored_key":
			c.storedKey, err = decodeKey(v, h.size)
		case "server_key":
			c.serverKey, err = decodeKey(v, h.size)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", k, err)
		}
	}
	for _, k := range []string{"iterations", "salt", "stored_key", "server_key"} {
		if !seen[k] {
			return c, fmt.Errorf("%s missing", k)
		}
	}
	return c, nil
}

func decodeKey(v string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err == nil && len(b) != size {
		err = fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, err
}

func (c scramCredential) String() string {
	return fmt.Sprintf("iterations=%d,salt=%s,stored_key=%s,server_key=%s", c.iterations,
		base64.StdEncoding.EncodeToString(c.salt), base64.StdEncoding.EncodeToString(c.storedKey), base64.StdEncoding.EncodeToString(c.serverKey))
}

// AddSCRAMUser writes SCRAM-SHA-256 and SCRAM-SHA-512 credentials for user
// into the credentials file at path (created with mode 0600 if missing),
// replacing the user's previous entries. The password itself is not stored.
func AddSCRAMUser(path, user, password string, iterations int) error {
	if user == "" || strings.ContainsAny(user, " \t\r\n#") {
		return fmt.Errorf("user name %q: must be non-empty without spaces or #", user)
	}
	if password == "" {
		return errors.New("empty password")
	}
	if iterations < DefaultSCRAMIterations {
		return fmt.Errorf("iterations %d: want at least %d", iterations, DefaultSCRAMIterations)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read credentials: %w", err)
	}
	if _, err := parseCredentials(old); err != nil {
		return fmt.Errorf("credentials file %s: %w", path, err)
	}
	var out strings.Builder
	if len(old) == 0 {
		out.WriteString("# kbench broker SASL credentials: <user> <mechanism> <salted SCRAM credential>\n")
	}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == user {
			continue
		}
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	for _, h := range []scramHash{scram256, scram512} {
		c, err := newSCRAMCredential(h, password, iterations)
		if err != nil {
			return err
		}
		fmt.Fprintf(&out, "%s %s %s\n", user, h.mech, c)
	}
	// Write a sibling and rename, so a crash never leaves a half file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(out.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// saslSession is one mechanism's server side of an authentication exchange.
type saslSession interface {
	// step takes the client's next token and returns the server's answer;
	// done reports a successful end. Any error ends the exchange.
	step(in []byte) (out []byte, done bool, err error)
	// user is the authenticated (or claimed) user name, for logs.
	user() string
}

// plainSession implements RFC 4616: one token, authzid NUL authcid NUL passwd.
type plainSession struct {
	creds credentials
	name  string
}

func (s *plainSession) user() string { return s.name }

func (s *plainSession) step(in []byte) ([]byte, bool, error) {
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 {
		return nil, false, errors.New("malformed PLAIN token")
	}
	authzid, authcid, pass := string(parts[0]), string(parts[1]), string(parts[2])
	s.name = authcid
	if authcid == "" || pass == "" {
		return nil, false, errors.New("malformed PLAIN token: empty user or password")
	}
	if authzid != "" && authzid != authcid {
		// Kafka's rule: no impersonation.
		return nil, false, errors.New("authorization id differs from the user name")
	}
	for _, h := range []scramHash{scram512, scram256} {
		c, ok := s.creds[h.mech][authcid]
		if !ok {
			continue
		}
		got, err := deriveSCRAM(h, pass, c.salt, c.iterations)
		if err != nil {
			return nil, false, err
		}
		if subtle.ConstantTimeCompare(got.storedKey, c.storedKey) != 1 {
			return nil, false, errAuthFailed
		}
		return []byte{}, true, nil
	}
	return nil, false, errAuthFailed
}

// scramSession implements the server side of RFC 5802 (SCRAM) without
// channel binding, as Kafka does.
type scramSession struct {
	h       scramHash
	creds   map[string]scramCredential
	secret  []byte // per-broker key for the fake credentials of unknown users
	name    string
	cred    scramCredential
	known   bool
	gs2     string // the client-first gs2 header, echoed base64 in client-final
	bare    string // client-first-message-bare
	nonce   string // client nonce + server nonce
	srvMsg  string // server-first-message
	stepNum int
}

func (s *scramSession) user() string { return s.name }

func (s *scramSession) step(in []byte) ([]byte, bool, error) {
	s.stepNum++
	switch s.stepNum {
	case 1:
		out, err := s.clientFirst(string(in))
		return out, false, err
	case 2:
		out, err := s.clientFinal(string(in))
		return out, err == nil, err
	}
	return nil, false, errors.New("SCRAM exchange already finished")
}

// clientFirst parses gs2-header client-first-message-bare:
// "n,[a=authzid],n=user,r=nonce[,extensions]".
func (s *scramSession) clientFirst(msg string) ([]byte, error) {
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, errors.New("malformed SCRAM client-first message")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, errors.New("SCRAM channel binding is not supported")
	default:
		return nil, errors.New("malformed SCRAM gs2 header")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errors.New("malformed SCRAM client-first message")
	}
	s.gs2 = flag + "," + authzid + ","
	s.bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, errors.New("malformed SCRAM client-first message: want n=user,r=nonce")
	}
	name, err := unescapeSASLName(attrs[0][2:])
	if err != nil {
		return nil, err
	}
	s.name = name
	if authzid != "" {
		az, err := unescapeSASLName(strings.TrimPrefix(authzid, "a="))
		if err != nil || !strings.HasPrefix(authzid, "a=") || az != name {
			return nil, errors.New("authorization id differs from the user name")
		}
	}
	for _, ext := range attrs[2:] {
		if strings.HasPrefix(ext, "tokenauth=") {
			return nil, errors.New("delegation tokens are not supported")
		}
	}
	cnonce := attrs[1][2:]
	if cnonce == "" || !printableNoComma(cnonce) {
		return nil, errors.New("malformed SCRAM client nonce")
	}
	s.cred, s.known = s.creds[name]
	if !s.known {
		// Carry on with a credential nobody can match, so an unknown user
		// fails exactly like a wrong password.
		s.cred = scramCredential{salt: s.h.hmac(s.secret, "salt", name)[:16], iterations: DefaultSCRAMIterations,
			storedKey: s.h.hmac(s.secret, "stored", name), serverKey: s.h.hmac(s.secret, "server", name)}
	}
	snonce := make([]byte, 24)
	rand.Read(snonce)
	s.nonce = cnonce + base64.RawURLEncoding.EncodeToString(snonce)
	s.srvMsg = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(s.cred.salt), s.cred.iterations)
	return []byte(s.srvMsg), nil
}

// clientFinal checks "c=<base64 gs2 header>,r=<nonce>[,ext],p=<proof>".
func (s *scramSession) clientFinal(msg string) ([]byte, error) {
	withoutProof, proofAttr, ok := cutLast(msg, ",p=")
	if !ok {
		return nil, errors.New("malformed SCRAM client-final message: no proof")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, errors.New("malformed SCRAM client-final message: want c=...,r=...")
	}
	cb, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil || string(cb) != s.gs2 {
		return nil, errors.New("SCRAM channel binding data does not match the gs2 header")
	}
	// librdkafka sends its client nonce again in front of the combined
	// nonce; Apache Kafka accepts any nonce ending with the combined one, so
	// we do too (the server part, which makes the exchange fresh, must match).
	if !strings.HasSuffix(attrs[1][2:], s.nonce) {
		return nil, errors.New("SCRAM nonce mismatch")
	}
	proof, err := base64.StdEncoding.DecodeString(proofAttr)
	if err != nil || len(proof) != s.h.size {
		return nil, errors.New("malformed SCRAM client proof")
	}
	authMsg := s.bare + "," + s.srvMsg + "," + withoutProof
	sig := s.h.hmac(s.cred.storedKey, authMsg)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if subtle.ConstantTimeCompare(s.h.sum(clientKey), s.cred.storedKey) != 1 || !s.known {
		return nil, errAuthFailed
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(s.h.hmac(s.cred.serverKey, authMsg))), nil
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// unescapeSASLName decodes RFC 5802 saslname: "=2C" is ',' and "=3D" is '='.
func unescapeSASLName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty SCRAM user name")
	}
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("bad escape in SCRAM user name")
		}
		i += 2
	}
	return b.String(), nil
}

func printableNoComma(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
