package broker

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// These tests drive the broker with real third-party clients. A missing client
// fails the test: `make test` installs them (kcat, python3-confluent-kafka,
// python3-kafka from Debian).

const debianPython = "/usr/bin/python3"

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not installed (run `make test-deps`): %v", name, err)
	}
	return p
}

func run(t *testing.T, timeout time.Duration, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}

func TestKcat(t *testing.T) {
	kcat := requireTool(t, "kcat")
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(newClient(t, b))
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "kcat-topic"); err != nil {
		t.Fatal(err)
	}
	const n = 20000
	var in bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "message-%06d-%s\n", i, strings.Repeat("x", i%50))
	}
	for _, codec := range []string{"zstd", "gzip", "snappy", "lz4", "none"} {
		run(t, 30*time.Second, in.Bytes(), kcat, "-b", b.Addr(), "-P", "-t", "kcat-topic", "-z", codec)
	}
	out := run(t, 30*time.Second, nil, kcat, "-b", b.Addr(), "-C", "-t", "kcat-topic", "-e", "-q", "-f", "%s\n")
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	// kcat exits 0 even when nothing was delivered: count what came back.
	if len(lines) != 5*n {
		t.Fatalf("kcat -C read %d messages, want %d", len(lines), 5*n)
	}
	counts := map[string]int{}
	for _, l := range lines {
		counts[l]++
	}
	for i := 0; i < n; i += 997 {
		m := fmt.Sprintf("message-%06d-%s", i, strings.Repeat("x", i%50))
		if counts[m] != 5 {
			t.Fatalf("message %q read %d times, want 5", m, counts[m])
		}
	}
	meta := string(run(t, 20*time.Second, nil, kcat, "-b", b.Addr(), "-L", "-t", "kcat-topic"))
	for _, want := range []string{"1 brokers:", "broker 1 at " + b.Addr(), `topic "kcat-topic" with 4 partitions`, "partition 3, leader 1, replicas: 1, isrs: 1"} {
		if !strings.Contains(meta, want) {
			t.Fatalf("kcat -L output lacks %q:\n%s", want, meta)
		}
	}
}

func TestPythonConfluentKafka(t *testing.T) {
	requireTool(t, debianPython)
	b := startBroker(t)
	script, _ := filepath.Abs("testdata/confluent_roundtrip.py")
	out := run(t, 90*time.Second, nil, debianPython, script, b.Addr(), "py-confluent", "6", "20000")
	if !strings.Contains(string(out), "OK 20000") {
		t.Fatalf("confluent-kafka round trip: %s", out)
	}
	tp := b.topics.get("py-confluent")
	if tp == nil || len(tp.partitions) != 6 {
		t.Fatalf("topic created by AdminClient: got %v, want 6 partitions", tp)
	}
}

func TestPythonKafka(t *testing.T) {
	requireTool(t, debianPython)
	b := startBroker(t)
	script, _ := filepath.Abs("testdata/kafkapython_roundtrip.py")
	out := run(t, 90*time.Second, nil, debianPython, script, b.Addr(), "py-kafka", "5000")
	if !strings.Contains(string(out), "OK 5000") {
		t.Fatalf("kafka-python round trip: %s", out)
	}
}
