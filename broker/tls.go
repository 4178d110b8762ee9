package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// copyBufSize is the buffer fetch bodies are copied through under TLS: a
// few TLS records per write, small enough to pool per connection.
const copyBufSize = 64 << 10

func loadTLS(s Security) (*tls.Config, error) {
	if s.TLSConfig != nil {
		return s.TLSConfig.Clone(), nil
	}
	if s.TLSCert == "" || s.TLSKey == "" {
		return nil, fmt.Errorf("config: listener security %s needs a TLS certificate and key (PEM)", s.Protocol)
	}
	cert, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("config: TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.TLSClientCA != "" {
		pemBytes, err := os.ReadFile(s.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("config: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("config: TLS client CA %s: no PEM certificate found", s.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// copyTo is writeTo for connections sendfile cannot serve (TLS must
// encrypt every byte in user space): the response is assembled in a pooled
// buffer, record bytes read from the segment files with pread, and written
// in copyBufSize pieces.
func (f *fetchWire) copyTo(c *conn, hdr []byte) error {
	bp := c.b.sec.copyBufs.Get().(*[]byte)
	defer c.b.sec.copyBufs.Put(bp)
	buf := (*bp)[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := c.nc.Write(buf)
		buf = buf[:0]
		return err
	}
	put := func(b []byte) error {
		for len(b) > 0 {
			n := min(len(b), cap(buf)-len(buf))
			buf = append(buf, b[:n]...)
			b = b[n:]
			if len(buf) == cap(buf) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := put(hdr); err != nil {
		return err
	}
	prev := 0
	for _, m := range f.marks {
		if err := put(f.buf[prev:m.at]); err != nil {
			return err
		}
		for pos, end := m.chunk.Pos, m.chunk.Pos+m.chunk.Len; pos < end; {
			n := int(min(end-pos, int64(cap(buf)-len(buf))))
			if _, err := m.chunk.File.ReadAt(buf[len(buf):len(buf)+n], pos); err != nil {
				return fmt.Errorf("read %d record bytes at %d: %w", n, pos, err)
			}
			buf = buf[:len(buf)+n]
			pos += int64(n)
			if len(buf) == cap(buf) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		prev = m.at
	}
	if err := put(f.buf[prev:]); err != nil {
		return err
	}
	return flush()
}

// GenerateCerts writes a throwaway CA and a broker and a client certificate
// signed by it into dir, for local TLS benchmarks: ca.pem, broker.pem,
// broker.key, client.pem, client.key. The broker certificate is valid for
// localhost, 127.0.0.1, ::1 and extra hosts (names or IPs). Keys are ECDSA
// P-256, valid for 30 days; nothing here is fit for production.
func GenerateCerts(dir string, extraHosts ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen certs: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("gen certs: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kbench throwaway CA", Organization: []string{"kbench"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("gen certs: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("gen certs: CA: %w", err)
	}
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, extraHosts...)
	leaf := func(name, cn string, usage x509.ExtKeyUsage, hosts []string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("gen certs: %w", err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"kbench"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(30 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if !slices.Contains(tmpl.DNSNames, h) {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("gen certs: %s: %w", name, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("gen certs: %s key: %w", name, err)
		}
		if err := writePEM(filepath.Join(dir, name+".pem"), "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		return writePEM(filepath.Join(dir, name+".key"), "PRIVATE KEY", keyDER, 0o600)
	}
	if err := leaf("broker", "localhost", x509.ExtKeyUsageServerAuth, hosts); err != nil {
		return err
	}
	return leaf("client", "kbench-client", x509.ExtKeyUsageClientAuth, nil)
}

func serial() *big.Int {
	var b [16]byte
	rand.Read(b[:])
	b[0] &= 0x7f // positive
	return new(big.Int).SetBytes(b[:])
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("gen certs: %w", err)
	}
	return nil
}
