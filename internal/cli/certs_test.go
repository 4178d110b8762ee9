package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func TestBrokerGenCertsAndSCRAMUser(t *testing.T) {
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	creds := filepath.Join(dir, "creds")
	out := mustKbench(t, "broker", "--gen-certs", certs)
	if !strings.Contains(out, "ca.pem") {
		t.Fatalf("--gen-certs output: %q", out)
	}
	// The broker certificate verifies against the CA for 127.0.0.1.
	caPEM, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(certs, "broker.pem"), filepath.Join(certs, "broker.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("broker certificate for 127.0.0.1: %v", err)
	}

	root := NewRoot(&syncBuffer{}, &syncBuffer{})
	root.SetIn(strings.NewReader("hunter2-but-longer\n"))
	root.SetArgs([]string{"broker", "--add-scram-user", "carol", "--sasl-credentials", creds})
	if err := root.Execute(); err != nil {
		t.Fatalf("--add-scram-user: %v", err)
	}
	data, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), "carol SCRAM-SHA-512 iterations=4096,salt=") {
		t.Fatalf("credentials file:\n%s", data)
	}

	// The broker runs SASL_SSL with them; a SCRAM-SHA-512 client over TLS gets in.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	br := NewRoot(stdout, stderr)
	br.SetArgs([]string{"broker", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--listener-security", "sasl_ssl", "--tls-cert", filepath.Join(certs, "broker.pem"), "--tls-key", filepath.Join(certs, "broker.key"),
		"--sasl-credentials", creds, "--sasl-mechanisms", "SCRAM-SHA-512", "--metrics-listen", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- br.ExecuteContext(ctx) }()
	re := regexp.MustCompile(`listening on (\S+) `)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not start: %s %s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "metrics on http://127.0.0.1:") {
		t.Fatalf("no metrics line in %q", stdout.String())
	}
	if strings.Contains(stderr.String(), "WARNING") {
		t.Fatalf("warning for a loopback SASL_SSL broker: %s", stderr.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"}),
		kgo.SASL(scram.Auth{User: "carol", Pass: "hunter2-but-longer"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := cl.Ping(pctx); err != nil {
		t.Fatalf("SCRAM-SHA-512 over TLS: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("broker: %v", err)
	}
}

// TestBrokerFlagErrors: security, profiling and coordinator flags a broker cannot run
// with fail before anything starts, naming the flag and what is wrong.
func TestBrokerFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--brokers", "3", "--listener-security", "ssl"}, "PLAINTEXT only"},
		{[]string{"--brokers", "3", "--metrics-listen", "127.0.0.1:0"}, "not supported with --brokers"},
		{[]string{"--add-scram-user", "dave"}, "needs --sasl-credentials"},
		{[]string{"--listen", "127.0.0.1:0", "--listener-security", "ssl"}, "needs a TLS certificate"},
		{[]string{"--listen", "127.0.0.1:0", "--listener-security", "sasl_plaintext"}, "needs a SASL credentials file"},
		{[]string{"--listen", "127.0.0.1:0", "--pprof", "0.0.0.0:6060"}, "loopback only"},
		{[]string{"--listen", "127.0.0.1:0", "--pprof", "6060"}, "want host:port"},
		{[]string{"--brokers", "3", "--pprof", "10.1.2.3:6060"}, "loopback only"},
		{[]string{"--brokers", "3", "--pprof", "127.0.0.1:65534"}, "past 65535"},
		{[]string{"--listen", "127.0.0.1:0", "--offsets-topic-partitions", "0"}, "--offsets-topic-partitions 0: must be 1..1000"},
		{[]string{"--brokers", "3", "--txn-state-partitions", "5000"}, "--txn-state-partitions 5000: must be 1..1000"},
		{[]string{"--listen", "127.0.0.1:0", "--log-cleaner-interval", "0s"}, "--log-cleaner-interval 0s: must be positive"},
	} {
		root := NewRoot(&syncBuffer{}, &syncBuffer{})
		root.SetArgs(append([]string{"broker", "--data-dir", dir}, tc.args...))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kbench broker %s: got %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
