package broker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const (
	testUser = "alice"
	testPass = "alice-s3cret"
)

// secureSetup is a broker with a listener protocol, its throwaway certs and
// its credentials file.
type secureSetup struct {
	b        *Broker
	certDir  string
	credFile string
}

func startSecureBroker(t *testing.T, protocol string, mod ...func(*Config)) secureSetup {
	t.Helper()
	dir := t.TempDir()
	s := secureSetup{certDir: filepath.Join(dir, "certs"), credFile: filepath.Join(dir, "credentials")}
	if err := GenerateCerts(s.certDir); err != nil {
		t.Fatal(err)
	}
	if err := AddSCRAMUser(s.credFile, testUser, testPass, DefaultSCRAMIterations); err != nil {
		t.Fatal(err)
	}
	s.b = startBroker(t, func(c *Config) {
		c.Security.Protocol = protocol
		if strings.HasSuffix(protocol, "SSL") {
			c.Security.TLSCert = filepath.Join(s.certDir, "broker.pem")
			c.Security.TLSKey = filepath.Join(s.certDir, "broker.key")
		}
		if strings.HasPrefix(protocol, "SASL_") {
			c.Security.SASLCredentials = s.credFile
		}
		for _, m := range mod {
			m(c)
		}
	})
	return s
}

func (s secureSetup) clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(s.certDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

func mechanism(name, user, pass string) sasl.Mechanism {
	switch name {
	case MechPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case MechSCRAMSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// roundTrip produces n records with cl and reads them back with a second
// client built from the same options.
func roundTrip(t *testing.T, b *Broker, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	p := newClient(t, b, append([]kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic)}, opts...)...)
	for i := 0; i < n; i++ {
		if err := p.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("v-%d", i))).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	c := newClient(t, b, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	got := 0
	for got < n {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", got, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v-%d", got); string(r.Value) != want {
				t.Fatalf("record %d: got %q, want %q", got, r.Value, want)
			}
			got++
		})
	}
}

func TestSASLFranz(t *testing.T) {
	for _, proto := range []string{ProtocolSASLPlaintext, ProtocolSASLSSL} {
		s := startSecureBroker(t, proto)
		for _, mech := range []string{MechPlain, MechSCRAMSHA256, MechSCRAMSHA512} {
			for _, raw := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/handshake-v1", proto, mech)
				if raw {
					name = fmt.Sprintf("%s/%s/handshake-v0", proto, mech)
				}
				t.Run(name, func(t *testing.T) {
					opts := []kgo.Opt{}
					if proto == ProtocolSASLSSL {
						opts = append(opts, kgo.DialTLSConfig(s.clientTLS(t)))
					}
					if raw {
						// SaslHandshake v0: the tokens then travel as bare frames.
						v := kversion.Stable()
						v.SetMaxKeyVersion(saslHandshakeKey, 0)
						opts = append(opts, kgo.MaxVersions(v))
					}
					good := append(opts, kgo.SASL(mechanism(mech, testUser, testPass)))
					roundTrip(t, s.b, strings.ToLower(strings.ReplaceAll(name, "/", "-")), 20, good...)

					bad := append(opts, kgo.SASL(mechanism(mech, testUser, "wrong")), kgo.RetryTimeout(2*time.Second))
					cl := newClient(t, s.b, bad...)
					start := time.Now()
					ctx := testCtx(t, 20*time.Second)
					err := cl.Ping(ctx)
					if err == nil {
						t.Fatal("ping with a wrong password succeeded")
					}
					if elapsed := time.Since(start); elapsed > 5*time.Second {
						t.Fatalf("wrong password failed after %s, want a quick failure", elapsed)
					}
					if !raw && !errors.Is(err, kerr.SaslAuthenticationFailed) {
						t.Fatalf("wrong password: got %v, want SASL_AUTHENTICATION_FAILED", err)
					}
				})
			}
		}
	}
}

func TestSSLListener(t *testing.T) {
	t.Run("server auth only", func(t *testing.T) {
		s := startSecureBroker(t, ProtocolSSL)
		roundTrip(t, s.b, "ssl", 50, kgo.DialTLSConfig(s.clientTLS(t)))
		// Under TLS the record bytes are copied, never sent with sendfile.
		if n := s.b.SendfileBytes(); n != 0 {
			t.Fatalf("sendfile bytes under TLS: got %d, want 0", n)
		}
		// A plaintext client gets nowhere.
		cl := newClient(t, s.b, kgo.RetryTimeout(time.Second), kgo.RequestRetries(0))
		if err := cl.Ping(testCtx(t, 10*time.Second)); err == nil {
			t.Fatal("plaintext client pinged an SSL listener")
		}
	})
	t.Run("client certificates required", func(t *testing.T) {
		var certDir string
		s := startSecureBroker(t, ProtocolSSL, func(c *Config) {
			certDir = filepath.Dir(c.Security.TLSCert)
			c.Security.TLSClientCA = filepath.Join(certDir, "ca.pem")
		})
		noCert := newClient(t, s.b, kgo.DialTLSConfig(s.clientTLS(t)), kgo.RetryTimeout(time.Second))
		if err := noCert.Ping(testCtx(t, 10*time.Second)); err == nil {
			t.Fatal("client without a certificate was accepted")
		}
		cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "client.pem"), filepath.Join(certDir, "client.key"))
		if err != nil {
			t.Fatal(err)
		}
		tc := s.clientTLS(t)
		tc.Certificates = []tls.Certificate{cert}
		roundTrip(t, s.b, "mtls", 10, kgo.DialTLSConfig(tc))
	})
	t.Run("plaintext still uses sendfile", func(t *testing.T) {
		b := startBroker(t)
		roundTrip(t, b, "plain", 50)
		if b.SendfileBytes() == 0 {
			t.Fatal("no sendfile bytes on a PLAINTEXT listener")
		}
	})
}

// handshakeReq builds a SaslHandshake request.
func handshakeReq(version int16, mech string) kmsg.Request {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.Version, r.Mechanism = version, mech
	return r
}

func authReq(token string) kmsg.Request {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.Version = 1
	r.SASLAuthBytes = []byte(token)
	return r
}

func metadataReq() kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 1
	return r
}

// TestSASLGate checks by hand what may be sent before authentication.
func TestSASLGate(t *testing.T) {
	s := startSecureBroker(t, ProtocolSASLPlaintext, func(c *Config) {
		c.Security.SASLMechanisms = []string{MechPlain, MechSCRAMSHA512}
	})
	plainToken := "\x00" + testUser + "\x00" + testPass
	t.Run("metadata before authentication closes", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(metadataReq(), 1))
		c.expectClosed()
	})
	t.Run("api versions is allowed", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(kmsg.NewPtrApiVersionsRequest(), 1))
		resp := kmsg.NewPtrApiVersionsResponse()
		c.read(resp, false)
		if resp.ErrorCode != 0 {
			t.Fatalf("api versions: got code %d, want 0", resp.ErrorCode)
		}
	})
	t.Run("authenticate before handshake closes", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(authReq(plainToken), 1))
		c.expectClosed()
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(handshakeReq(1, "SCRAM-SHA-256"), 1))
		resp := kmsg.NewPtrSASLHandshakeResponse()
		resp.Version = 1
		c.read(resp, false)
		if resp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(resp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-512" {
			t.Fatalf("got code %d mechanisms %v, want %d [PLAIN SCRAM-SHA-512]", resp.ErrorCode, resp.SupportedMechanisms, kerr.UnsupportedSaslMechanism.Code)
		}
		c.expectClosed()
	})
	t.Run("handshake v1 then authenticate", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(handshakeReq(1, MechPlain), 1))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs, false)
		if hs.ErrorCode != 0 {
			t.Fatalf("handshake: got code %d, want 0", hs.ErrorCode)
		}
		c.send(frame(authReq(plainToken), 2))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		ar.Version = 1
		c.read(ar, false)
		if ar.ErrorCode != 0 {
			t.Fatalf("authenticate: got code %d, want 0", ar.ErrorCode)
		}
		c.send(frame(metadataReq(), 3))
		md := kmsg.NewPtrMetadataResponse()
		md.Version = 1
		if corr := c.read(md, false); corr != 3 || len(md.Brokers) != 1 {
			t.Fatalf("metadata after authentication: corr %d, %d brokers", corr, len(md.Brokers))
		}
		// A second handshake on an authenticated connection is illegal.
		c.send(frame(handshakeReq(1, MechPlain), 4))
		c.read(hs, false)
		if hs.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("second handshake: got code %d, want %d", hs.ErrorCode, kerr.IllegalSaslState.Code)
		}
	})
	t.Run("wrong password answers and closes", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(handshakeReq(1, MechPlain), 1))
		c.read(kmsg.NewPtrSASLHandshakeResponse(), false)
		c.send(frame(authReq("\x00"+testUser+"\x00nope"), 2))
		ar := kmsg.NewPtrSASLAuthenticateResponse()
		ar.Version = 1
		c.read(ar, false)
		if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil {
			t.Fatalf("got code %d, want %d with a message", ar.ErrorCode, kerr.SaslAuthenticationFailed.Code)
		}
		c.expectClosed()
	})
	t.Run("handshake v0 raw tokens", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(handshakeReq(0, MechPlain), 1))
		c.read(kmsg.NewPtrSASLHandshakeResponse(), false)
		c.send(binary.BigEndian.AppendUint32(nil, uint32(len(plainToken))))
		c.send([]byte(plainToken))
		var empty [4]byte
		if _, err := io.ReadFull(c.nc, empty[:]); err != nil || empty != [4]byte{} {
			t.Fatalf("raw PLAIN answer: got %x %v, want an empty token", empty, err)
		}
		c.send(frame(metadataReq(), 2))
		md := kmsg.NewPtrMetadataResponse()
		md.Version = 1
		if corr := c.read(md, false); corr != 2 {
			t.Fatalf("metadata after raw authentication: corr %d, want 2", corr)
		}
	})
	t.Run("handshake v0 wrong password closes", func(t *testing.T) {
		c := dialRaw(t, s.b)
		c.send(frame(handshakeReq(0, MechPlain), 1))
		c.read(kmsg.NewPtrSASLHandshakeResponse(), false)
		bad := "\x00" + testUser + "\x00nope"
		c.send(append(binary.BigEndian.AppendUint32(nil, uint32(len(bad))), bad...))
		c.expectClosed()
	})
	t.Run("SASL on a PLAINTEXT listener", func(t *testing.T) {
		b := startBroker(t)
		c := dialRaw(t, b)
		c.send(frame(handshakeReq(1, MechPlain), 1))
		hs := kmsg.NewPtrSASLHandshakeResponse()
		hs.Version = 1
		c.read(hs, false)
		if hs.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("got code %d, want ILLEGAL_SASL_STATE (%d)", hs.ErrorCode, kerr.IllegalSaslState.Code)
		}
	})
	stillServes := func() {
		c := dialRaw(t, s.b)
		c.send(frame(kmsg.NewPtrApiVersionsRequest(), 9))
		c.read(kmsg.NewPtrApiVersionsResponse(), false)
	}
	stillServes()
}

// TestSCRAMRFC7677 replays the SCRAM-SHA-256 exchange of RFC 7677 section 3
// through the server side: same salt, iterations and nonces, so the proof
// must verify and the server signature must match the RFC's.
func TestSCRAMRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := deriveSCRAM(scram256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	s := &scramSession{h: scram256, creds: map[string]scramCredential{"user": cred}}
	if _, err := s.clientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"); err != nil {
		t.Fatal(err)
	}
	// Put the RFC's server nonce in place of our random one.
	s.nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	s.srvMsg = "r=" + s.nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	out, err := s.clientFinal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	if err != nil {
		t.Fatalf("RFC 7677 proof rejected: %v", err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(out) != want {
		t.Fatalf("server final: got %q, want %q", out, want)
	}
	// One flipped proof bit must fail.
	s2 := *s
	if _, err := s2.clientFinal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="); !errors.Is(err, errAuthFailed) {
		t.Fatalf("bad proof: got %v, want %v", err, errAuthFailed)
	}
}

func TestSCRAMMalformed(t *testing.T) {
	cred, _ := deriveSCRAM(scram512, "pw", []byte("saltsalt"), 4096)
	for _, tc := range []struct{ name, first, final string }{
		{"channel binding", "p=tls-unique,,n=alice,r=abc", ""},
		{"no nonce", "n,,n=alice", ""},
		{"bad gs2", "x,,n=alice,r=abc", ""},
		{"authzid differs", "n,a=bob,n=alice,r=abc", ""},
		{"bad escape", "n,,n=al=ice,r=abc", ""},
		{"delegation token", "n,,n=alice,r=abc,tokenauth=true", ""},
		{"no proof", "n,,n=alice,r=abc", "c=biws,r=abc"},
		{"wrong channel binding", "n,,n=alice,r=abc", "c=eSws,r=%s,p=AAAA"},
		{"wrong nonce", "n,,n=alice,r=abc", "c=biws,r=abcX,p=AAAA"},
		{"short proof", "n,,n=alice,r=abc", "c=biws,r=%s,p=AAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scramSession{h: scram512, creds: map[string]scramCredential{"alice": cred}, secret: []byte("k")}
			_, _, err := s.step([]byte(tc.first))
			if tc.final == "" {
				if err == nil {
					t.Fatal("client-first accepted, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("client-first: %v", err)
			}
			final := tc.final
			if strings.Contains(final, "%s") {
				final = fmt.Sprintf(final, s.nonce)
			}
			if _, done, err := s.step([]byte(final)); err == nil || done {
				t.Fatalf("client-final %q accepted", final)
			}
		})
	}
	t.Run("unknown user fails like a wrong password", func(t *testing.T) {
		s := &scramSession{h: scram512, creds: map[string]scramCredential{}, secret: []byte("k")}
		out, _, err := s.step([]byte("n,,n=mallory,r=abc"))
		if err != nil || !strings.Contains(string(out), ",s=") {
			t.Fatalf("unknown user: got %q %v, want a server-first message", out, err)
		}
	})
}

func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds")
	if err := AddSCRAMUser(path, "alice", "first-pass", DefaultSCRAMIterations); err != nil {
		t.Fatal(err)
	}
	if err := AddSCRAMUser(path, "bob", "bob-pass", 5000); err != nil {
		t.Fatal(err)
	}
	if err := AddSCRAMUser(path, "alice", "second-pass", DefaultSCRAMIterations); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"first-pass", "second-pass", "bob-pass"} {
		if strings.Contains(string(data), secret) {
			t.Fatalf("credentials file holds the password %q:\n%s", secret, data)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode: got %v, want 0600", fi.Mode().Perm())
	}
	creds, err := parseCredentials(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds[MechSCRAMSHA256]) != 2 || len(creds[MechSCRAMSHA512]) != 2 {
		t.Fatalf("got %d SHA-256 and %d SHA-512 users, want 2 and 2:\n%s", len(creds[MechSCRAMSHA256]), len(creds[MechSCRAMSHA512]), data)
	}
	if creds[MechSCRAMSHA512]["bob"].iterations != 5000 {
		t.Fatalf("bob's iterations: got %d, want 5000", creds[MechSCRAMSHA512]["bob"].iterations)
	}
	p := &plainSession{creds: creds}
	if _, done, err := p.step([]byte("\x00alice\x00second-pass")); err != nil || !done {
		t.Fatalf("PLAIN with the new password: done %v err %v", done, err)
	}
	p = &plainSession{creds: creds}
	if _, _, err := p.step([]byte("\x00alice\x00first-pass")); !errors.Is(err, errAuthFailed) {
		t.Fatalf("PLAIN with the replaced password: got %v, want %v", err, errAuthFailed)
	}
	for _, bad := range []string{
		"alice SCRAM-SHA-512",
		"alice MD5 iterations=4096,salt=c2FsdHNhbHQ=,stored_key=AA==,server_key=AA==",
		"alice SCRAM-SHA-256 iterations=10,salt=c2FsdHNhbHQ=,stored_key=AA==,server_key=AA==",
		"alice SCRAM-SHA-256 iterations=4096,salt=c2FsdHNhbHQ=,stored_key=AA==,server_key=AA==",
		"alice SCRAM-SHA-256 iterations=4096,salt=c2FsdHNhbHQ=",
		"alice SCRAM-SHA-256 password=hunter2",
	} {
		if _, err := parseCredentials([]byte(bad)); err == nil {
			t.Errorf("parseCredentials(%q) accepted a bad line", bad)
		}
	}
}

func TestSecurityConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		s    Security
		want string
	}{
		{"unknown protocol", Security{Protocol: "kerberos"}, "want PLAINTEXT"},
		{"ssl without cert", Security{Protocol: "ssl"}, "needs a TLS certificate"},
		{"sasl without credentials", Security{Protocol: "sasl_plaintext"}, "needs a SASL credentials file"},
		{"missing credentials file", Security{Protocol: "sasl_plaintext", SASLCredentials: filepath.Join(dir, "nope")}, "no such file"},
		{"cert on plaintext", Security{TLSCert: "x.pem"}, "TLS settings given"},
		{"mechanism on plaintext", Security{SASLMechanisms: []string{"PLAIN"}}, "SASL settings given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newListenerSecurity(tc.s, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := newListenerSecurity(Security{Protocol: "SSL"}, true); err == nil || !strings.Contains(err.Error(), "cluster mode") {
		t.Fatalf("clustered SSL: got %v, want a cluster mode error", err)
	}
}

func TestExposureWarning(t *testing.T) {
	for _, tc := range []struct {
		listen, protocol string
		warn             bool
	}{
		{"127.0.0.1:9092", "", false},
		{"localhost:9092", "PLAINTEXT", false},
		{"[::1]:9092", "", false},
		{"0.0.0.0:9092", "", true},
		{":9092", "PLAINTEXT", true},
		{"10.1.2.3:9092", "SSL", true},
		{"0.0.0.0:9092", "SASL_SSL", false},
		{"0.0.0.0:9092", "sasl_plaintext", false},
	} {
		cfg := DefaultConfig()
		cfg.Listen, cfg.Security.Protocol = tc.listen, tc.protocol
		if got := ExposureWarning(cfg) != ""; got != tc.warn {
			t.Errorf("listen %s protocol %q: warning %v, want %v", tc.listen, tc.protocol, got, tc.warn)
		}
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	s := startSecureBroker(t, ProtocolSSL)
	nc, err := net.Dial("tcp", s.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Plaintext Kafka bytes to a TLS listener: the handshake fails and the
	// broker closes the connection.
	nc.Write(frame(kmsg.NewPtrApiVersionsRequest(), 1))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue // a TLS alert may come first
		}
		if isTimeout(err) {
			t.Fatal("connection still open 5s after a non-TLS hello")
		}
		break
	}
	roundTrip(t, s.b, "after-garbage", 5, kgo.DialTLSConfig(s.clientTLS(t)))
}

// FuzzSCRAMServer runs arbitrary client messages through both SCRAM steps
// and PLAIN: errors are fine, panics and successes without the password are
// not.
func FuzzSCRAMServer(f *testing.F) {
	// Few iterations keep PLAIN checks cheap; the exchange logic is the same.
	cred, err := deriveSCRAM(scram256, "pencil", []byte("W22ZaJ0SNY7soEsU"), 16)
	if err != nil {
		f.Fatal(err)
	}
	creds := credentials{MechSCRAMSHA256: {"user": cred}, MechSCRAMSHA512: {}}
	f.Add("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "c=biws,r=%s,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "\x00user\x00pencil")
	f.Add("y,a=user,n=user,r=abc,ext=1", "c=eSxhPXVzZXIs,r=%s,x=1,p=AAAA", "user\x00user\x00x")
	f.Add("n,,n=us=2Cer,r=a", "c=biws,r=%s%s,p=", "\x00\x00")
	f.Fuzz(func(t *testing.T, first, final, plainToken string) {
		s := &scramSession{h: scram256, creds: creds[MechSCRAMSHA256], secret: []byte("k")}
		out, done, err := s.step([]byte(first))
		if err != nil || done {
			return
		}
		if !strings.HasPrefix(string(out), "r=") {
			t.Fatalf("server-first %q does not start with r=", out)
		}
		if strings.Contains(final, "%s") {
			final = strings.ReplaceAll(final, "%s", s.nonce)
		}
		if _, done, err := s.step([]byte(final)); err == nil && done {
			// Only a correct proof may succeed; the fuzzer cannot forge one
			// for "user" without HMAC preimages, so success is a bug.
			t.Fatalf("SCRAM accepted client-final %q after %q", final, first)
		}
		p := &plainSession{creds: creds}
		if _, done, err := p.step([]byte(plainToken)); err == nil && done && !strings.HasSuffix(plainToken, "\x00pencil") {
			t.Fatalf("PLAIN accepted %q", plainToken)
		}
	})
}

// FuzzCredentialsFile parses arbitrary credential files; whatever parses
// must print and parse back to the same credentials.
func FuzzCredentialsFile(f *testing.F) {
	f.Add([]byte("# c\nalice SCRAM-SHA-256 iterations=4096,salt=c2FsdHNhbHQ=,stored_key=" + strings.Repeat("A", 43) + "=,server_key=" + strings.Repeat("A", 43) + "=\n"))
	f.Add([]byte("bob SCRAM-SHA-512 iterations=4096,salt=c2FsdHNhbHQ=,stored_key=AA==,server_key=AA=="))
	f.Fuzz(func(t *testing.T, data []byte) {
		creds, err := parseCredentials(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for mech, users := range creds {
			for user, c := range users {
				fmt.Fprintf(&b, "%s %s %s\n", user, mech, c)
			}
		}
		again, err := parseCredentials([]byte(b.String()))
		if err != nil {
			t.Fatalf("printed credentials do not parse: %v\n%s", err, b.String())
		}
		if fmt.Sprint(again) != fmt.Sprint(creds) {
			t.Fatalf("round trip changed the credentials:\n%v\n%v", creds, again)
		}
	})
}
