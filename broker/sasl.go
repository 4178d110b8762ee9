package broker

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Listener security protocols (Kafka's security.protocol / listener map).
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
	// maxSASLToken bounds one SASL token; real ones are a few hundred bytes.
	maxSASLToken = 64 << 10
	// tlsHandshakeTimeout bounds a TLS handshake, so a silent client cannot
	// hold a connection slot for the idle timeout.
	tlsHandshakeTimeout = 10 * time.Second
)

// Security configures the client listener. The zero value is PLAINTEXT.
// A clustered broker (Controller set) only supports PLAINTEXT: its
// followers and the controller reach it through the same listener without
// credentials.
type Security struct {
	// Protocol is PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// TLSCert and TLSKey are PEM files (ssl.keystore); required with SSL and SASL_SSL.
	TLSCert, TLSKey string
	// TLSClientCA, if set, is a PEM bundle: clients must present a
	// certificate it signed (ssl.client.auth=required). Default: not asked.
	TLSClientCA string
	// SASLMechanisms lists the enabled mechanisms (sasl.enabled.mechanisms);
	// default PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
	SASLMechanisms []string
	// SASLCredentials is the credentials file (see AddSCRAMUser for its
	// format); required with SASL_PLAINTEXT and SASL_SSL.
	SASLCredentials string
	// TLSConfig, if set, is used instead of loading TLSCert/TLSKey/TLSClientCA.
	TLSConfig *tls.Config
}

func (s Security) tls() bool  { return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL }
func (s Security) sasl() bool { return strings.HasPrefix(s.Protocol, "SASL_") }

// listenerSecurity is a broker's loaded security settings; read-only after Start.
type listenerSecurity struct {
	protocol   string
	tlsConfig  *tls.Config // nil: plaintext
	mechanisms []string    // nil: no SASL
	creds      credentials
	secret     []byte     // keys the fake credentials of unknown SCRAM users
	copyBufs   *sync.Pool // fetch bodies copied where sendfile cannot serve (TLS)
}

func newListenerSecurity(s Security, clustered bool) (*listenerSecurity, error) {
	s.Protocol = strings.ToUpper(strings.TrimSpace(s.Protocol))
	if s.Protocol == "" {
		s.Protocol = ProtocolPlaintext
	}
	switch s.Protocol {
	case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
	default:
		return nil, fmt.Errorf("config: listener security %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", s.Protocol)
	}
	if clustered && s.Protocol != ProtocolPlaintext {
		return nil, fmt.Errorf("config: listener security %s: cluster mode runs PLAINTEXT only (brokers and the controller use the client listener without credentials)", s.Protocol)
	}
	// The copy buffers serve any connection sendfile cannot (TLS, tests on
	// in-memory connections), so they exist whatever the protocol.
	ls := &listenerSecurity{protocol: s.Protocol, copyBufs: &sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}}
	hasTLSFiles := s.TLSCert != "" || s.TLSKey != "" || s.TLSClientCA != "" || s.TLSConfig != nil
	switch {
	case s.tls():
		tc, err := loadTLS(s)
		if err != nil {
			return nil, err
		}
		ls.tlsConfig = tc
	case hasTLSFiles:
		return nil, fmt.Errorf("config: TLS settings given but listener security is %s (want SSL or SASL_SSL)", s.Protocol)
	}
	switch {
	case s.sasl():
		if s.SASLCredentials == "" {
			return nil, fmt.Errorf("config: listener security %s needs a SASL credentials file", s.Protocol)
		}
		data, err := os.ReadFile(s.SASLCredentials)
		if err != nil {
			return nil, fmt.Errorf("config: SASL credentials: %w", err)
		}
		if ls.creds, err = parseCredentials(data); err != nil {
			return nil, fmt.Errorf("config: SASL credentials %s: %w", s.SASLCredentials, err)
		}
		mechs := s.SASLMechanisms
		if len(mechs) == 0 {
			mechs = []string{MechPlain, MechSCRAMSHA256, MechSCRAMSHA512}
		}
		for _, m := range mechs {
			m = strings.ToUpper(strings.TrimSpace(m))
			if m != MechPlain {
				if _, ok := scramHashFor(m); !ok {
					return nil, fmt.Errorf("config: SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", m)
				}
			}
			if !slices.Contains(ls.mechanisms, m) {
				ls.mechanisms = append(ls.mechanisms, m)
			}
		}
		ls.secret = make([]byte, 32)
		rand.Read(ls.secret)
	case len(s.SASLMechanisms) > 0 || s.SASLCredentials != "":
		return nil, fmt.Errorf("config: SASL settings given but listener security is %s (want SASL_PLAINTEXT or SASL_SSL)", s.Protocol)
	}
	return ls, nil
}

// newSession starts mech's server side, or returns nil if it is not enabled.
func (ls *listenerSecurity) newSession(mech string) saslSession {
	if !slices.Contains(ls.mechanisms, mech) {
		return nil
	}
	if mech == MechPlain {
		return &plainSession{creds: ls.creds}
	}
	h, _ := scramHashFor(mech)
	return &scramSession{h: h, creds: ls.creds[mech], secret: ls.secret}
}

// connAuth is one SASL connection's authentication state. Only the
// connection's reader goroutine touches it.
type connAuth struct {
	sess   saslSession // set by a successful SaslHandshake
	mech   string
	raw    bool // SaslHandshake v0: tokens follow as bare size-prefixed frames
	done   bool // authenticated
	failed bool
}

// prepareConn applies the listener's security and the per-connection limits
// to a new connection before it is published: TLS wraps the socket (the
// handshake runs in the reader, see handshake), SASL listeners start
// unauthenticated.
func (b *Broker) prepareConn(c *conn) {
	if n := b.cfg.Limits.MaxInflightBytesPerConn; n > 0 {
		c.quota = newByteSemaphore(n)
	}
	if b.sec.tlsConfig != nil {
		c.nc = tls.Server(c.nc, b.sec.tlsConfig)
	}
	if b.sec.mechanisms != nil {
		c.auth = &connAuth{}
	}
}

// handshake completes the TLS handshake, if any, within tlsHandshakeTimeout.
func (c *conn) handshake() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
	defer cancel()
	go func() {
		// Closing the connection also ends a handshake in progress.
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.b.metrics.tlsFailed()
		return fmt.Errorf("tls handshake: %w", err)
	}
	return nil
}

// checkAuth is the SASL gate: before authentication only ApiVersions and the
// SASL exchange may be sent; anything else closes the connection, as in Kafka.
func (c *conn) checkAuth(key int16) error {
	a := c.auth
	if a == nil || a.done {
		return nil
	}
	switch {
	case a.failed:
		return errors.New("request after failed SASL authentication: closing connection")
	case key == apiVersionsKey || key == saslHandshakeKey:
		return nil
	case key == saslAuthenticateKey && a.sess != nil && !a.raw:
		return nil
	case key == saslAuthenticateKey:
		return errors.New("SaslAuthenticate without a SaslHandshake v1: closing connection")
	}
	return fmt.Errorf("request key %d before SASL authentication: closing connection", key)
}

// authStep runs one SASL token through the connection's session and
// records the outcome.
func (c *conn) authStep(token []byte) (out []byte, err error) {
	a := c.auth
	out, done, err := a.sess.step(token)
	if err != nil {
		a.failed, a.sess = true, nil
		c.b.metrics.authResult(a.mech, false)
		return nil, err
	}
	if done {
		c.b.cfg.Logf("conn %s: authenticated %q with %s", c.nc.RemoteAddr(), a.sess.user(), a.mech)
		c.b.metrics.authResult(a.mech, true)
		a.done, a.sess, a.raw = true, nil, false
	}
	return out, nil
}

// readRawToken handles one bare SASL token after a SaslHandshake v0 (no
// Kafka request header). A failure closes the connection without an answer,
// which is all v0 clients expect.
func (c *conn) readRawToken(size int32) (*pending, error) {
	if size < 0 || size > maxSASLToken {
		return nil, fmt.Errorf("SASL token of %d bytes: closing connection", size)
	}
	token := make([]byte, size)
	if _, err := io.ReadFull(c.nc, token); err != nil {
		return nil, err
	}
	out, err := c.authStep(token)
	if err != nil {
		return nil, fmt.Errorf("SASL %s authentication failed: %w", c.auth.mech, err)
	}
	if out == nil {
		out = []byte{}
	}
	return &pending{hdr: reqHeader{key: saslHandshakeKey}, r: reply{raw: out}}, nil
}

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ExposureWarning returns a warning when cfg binds a non-loopback address
// without authentication, or "" when there is nothing to warn about.
func ExposureWarning(cfg Config) string {
	p := strings.ToUpper(cfg.Security.Protocol)
	if isLoopback(cfg.Listen) || strings.HasPrefix(p, "SASL_") || cfg.Security.TLSClientCA != "" {
		return ""
	}
	return fmt.Sprintf("WARNING: listening on %s without authentication (listener security %s): anyone who can reach it can read, write and delete topics; use --listener-security sasl_ssl or bind 127.0.0.1",
		cfg.Listen, cmp.Or(p, ProtocolPlaintext))
}

// writeRawToken frames a bare SASL token (SaslHandshake v0 exchanges).
func writeRawToken(w io.Writer, dst, token []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint32(dst[:0], uint32(len(token)))
	dst = append(dst, token...)
	_, err := w.Write(dst)
	return dst, err
}
