package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/broker/cluster/clustertest"
)

// kbenchChildEnv makes the test binary behave as the kbench binary, so the
// cluster supervisor can run real brokers from it ("BINARY broker ...").
const kbenchChildEnv = "KBENCH_TEST_AS_KBENCH"

// TestMain lets the test binary be a child process: a fake broker (for the
// supervisor's process management) or kbench itself (for real brokers).
func TestMain(m *testing.M) {
	switch {
	case os.Getenv(clustertest.EnvVar) != "":
		os.Exit(clustertest.Main(os.Args[1:], os.Stdin, os.Stdout))
	case os.Getenv(kbenchChildEnv) != "":
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Embedded clusters started by the commands under test run this binary
	// as their broker processes: make those children act as kbench.
	os.Setenv(kbenchChildEnv, "1")
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kbench runs one short kbench command in-process.
func kbench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func mustKbench(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := kbench(t, args...)
	if code != 0 {
		t.Fatalf("kbench %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// startBrokerCluster runs `kbench broker --brokers N ...` in the background
// and returns its cluster dir once it has printed its addresses.
func startBrokerCluster(t *testing.T, args ...string) (dir string, out *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	errb := &syncBuffer{}
	root := NewRoot(out, errb)
	root.SetArgs(append([]string{"broker"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stopped := false
	var stopErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			stopErr = <-done
		}
		return stopErr
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("kbench broker stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
	})
	re := regexp.MustCompile(`data dir (\S+)\)`)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "bootstrap ") {
		select {
		case err := <-done:
			stopped, stopErr = true, err
			t.Fatalf("kbench broker exited early: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kbench broker --brokers not up after 30s:\n%s\n%s", out.String(), errb.String())
		}
	}
	m := re.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no data dir in output:\n%s", out.String())
	}
	return m[1], out, stop
}

func procState(t *testing.T, pid int) byte {
	t.Helper()
	st, err := cluster.ProcState(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestClusterCommandsAgainstFakeBrokers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where --brokers puts its dir and `cluster` looks
	t.Setenv(clustertest.EnvVar, "1")
	dir, out, stop := startBrokerCluster(t, "--brokers", "3", "--listen", "127.0.0.1:0", "--log-flush", "batch", "-v")
	if filepath.Dir(dir) != tmp || !strings.HasPrefix(filepath.Base(dir), clusterDirPrefix) {
		t.Fatalf("cluster dir %s, want a %s* dir in %s", dir, clusterDirPrefix, tmp)
	}
	for _, want := range []string{"kbench cluster of 3 brokers", "broker 1 listening on 127.0.0.1:", "broker 3 listening on", "admin endpoint http://127.0.0.1:", "controller on 127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Flags the user set reach every broker; per-broker ones do not.
	args, err := os.ReadFile(filepath.Join(dir, "broker-2", clustertest.ArgsFile))
	if err != nil || string(args) != "--log-flush=batch\n--verbose=true" {
		t.Errorf("broker 2 got extra args %q (%v), want --log-flush=batch and --verbose=true", args, err)
	}

	// No --admin or --dir: the newest cluster dir in TMPDIR.
	status := mustKbench(t, "cluster", "status")
	if got := regexp.MustCompile(`(?m)^\d\s+127\.0\.0\.1:\d+\s+running\s+\d+\s+live\s`).FindAllString(status, -1); len(got) != 3 {
		t.Errorf("status: want 3 running, live brokers:\n%s", status)
	}
	if !strings.Contains(status, "cluster "+dir) || !strings.Contains(status, "no topics") {
		t.Errorf("status lacks the dir or the topic summary:\n%s", status)
	}

	var st cluster.Status
	if err := json.Unmarshal([]byte(mustKbench(t, "cluster", "status", "--json", "--dir", dir)), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Brokers) != 3 || st.Dir != dir {
		t.Fatalf("status json: %+v", st)
	}
	pid2 := st.Brokers[1].PID

	if got := mustKbench(t, "cluster", "kill", "2"); !strings.HasPrefix(got, "broker 2: killed (pid "+strconv.Itoa(pid2)+")") {
		t.Errorf("kill output: %q", got)
	}
	if err := syscall.Kill(pid2, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("broker 2 (pid %d) alive after kbench cluster kill: %v", pid2, err)
	}
	addr := strings.TrimSpace(mustReadFile(t, filepath.Join(dir, cluster.AdminAddrFile)))
	if got := mustKbench(t, "cluster", "--admin", addr, "delay", "3", "20ms"); !strings.Contains(got, "delay=20ms") {
		t.Errorf("delay output: %q", got)
	}
	if got := mustKbench(t, "cluster", "bandwidth", "1", "1MB", "--dir", dir); !strings.Contains(got, "bandwidth=976.6KiB/s") {
		t.Errorf("bandwidth output: %q", got)
	}
	mustKbench(t, "cluster", "drop-produce", "1", "0.25")
	mustKbench(t, "cluster", "delay", "3", "0")
	wantCmds := map[string][]string{"1": {"bandwidth 1000000", "drop-produce 0.25"}, "3": {"delay 20ms", "delay 0"}}
	for id, want := range wantCmds {
		path := filepath.Join(dir, "broker-"+id, clustertest.CommandsFile)
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, _ := clustertest.ReadLines(path)
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %s received %q, want %q", id, got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	pid1 := st.Brokers[0].PID
	mustKbench(t, "cluster", "pause", "1")
	if s := procState(t, pid1); s != 'T' {
		t.Errorf("paused broker 1 in state %c, want T", s)
	}
	mustKbench(t, "cluster", "resume", "1")
	time.Sleep(20 * time.Millisecond)
	if s := procState(t, pid1); s == 'T' {
		t.Errorf("resumed broker 1 still stopped")
	}
	if got := mustKbench(t, "cluster", "restart", "2"); !strings.HasPrefix(got, "broker 2: running") {
		t.Errorf("restart output: %q", got)
	}
	status = mustKbench(t, "cluster", "status")
	if !regexp.MustCompile(`(?m)^2\s+\S+\s+running\s+\d+\s+live\s+1\s`).MatchString(status) {
		t.Errorf("broker 2 not running, live with one restart:\n%s", status)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "kill", "7"}, "unknown broker"},
		{[]string{"cluster", "kill", "x"}, `broker id "x"`},
		{[]string{"cluster", "delay", "3", "soon"}, "want a duration"},
		{[]string{"cluster", "drop-produce", "3", "2"}, "between 0 and 1"},
		{[]string{"cluster", "bandwidth", "3", "fast"}, "is not a byte size"},
		{[]string{"cluster", "--dir", tmp, "status"}, "admin address of cluster"},
	} {
		_, errOut, code := kbench(t, bad.args...)
		if code == 0 || !strings.Contains(errOut, bad.want) {
			t.Errorf("kbench %s: exit %d, stderr %q; want an error containing %q", strings.Join(bad.args, " "), code, errOut, bad.want)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("kbench broker --brokers: %v", err)
	}
	if !strings.Contains(out.String(), "stopped in") {
		t.Errorf("no shutdown line:\n%s", out.String())
	}
	for _, b := range st.Brokers {
		if err := syscall.Kill(b.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("broker %d (pid %d) alive after shutdown", b.ID, b.PID)
		}
	}
	if _, errOut, code := kbench(t, "cluster", "status"); code == 0 || !strings.Contains(errOut, "no running cluster found") {
		t.Errorf("status after shutdown: exit %d, %q", code, errOut)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBrokerClusterFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"broker", "--brokers", "3", "--listen", "0.0.0.0:9092"}, "not a loopback address"},
		{[]string{"broker", "--brokers", "3", "--listen", "127.0.0.1:0", "--advertised-listener", "h:1"}, "cannot be used with --brokers"},
	} {
		_, errOut, code := kbench(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("kbench %s: exit %d, stderr %q; want %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

func TestNewestClusterDir(t *testing.T) {
	root := t.TempDir()
	if _, err := newestClusterDir(root); err == nil {
		t.Fatal("empty dir: want an error")
	}
	old := time.Now().Add(-time.Hour)
	for i, name := range []string{clusterDirPrefix + "a", clusterDirPrefix + "b", "other-c"} {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(d, cluster.AdminAddrFile)
		if err := os.WriteFile(f, []byte("127.0.0.1:1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// b is the newest cluster; other-c is newer still but not a cluster dir.
		mt := old.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(f, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newestClusterDir(root)
	if want := filepath.Join(root, clusterDirPrefix+"b"); err != nil || got != want {
		t.Errorf("got %q (%v), want %q", got, err, want)
	}
}
