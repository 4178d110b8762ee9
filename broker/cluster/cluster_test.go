package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/broker/cluster/clustertest"
	"github.com/kbench/kbench/broker/wire"
)

// supervisorEnv makes the test binary a supervisor process (for the
// parent-death test): it starts a cluster in that dir, prints the broker
// pids and waits to be killed.
const supervisorEnv = "KBENCH_TEST_SUPERVISOR"

// TestMain lets the test binary be a fake broker child (the supervisor runs
// "os.Executable() broker --node-id ...") or a supervisor process.
func TestMain(m *testing.M) {
	if os.Getenv(clustertest.EnvVar) != "" {
		os.Exit(clustertest.Main(os.Args[1:], os.Stdin, os.Stdout))
	}
	if dir := os.Getenv(supervisorEnv); dir != "" {
		os.Exit(runSupervisor(dir))
	}
	os.Exit(m.Run())
}

func runSupervisor(dir string) int {
	c, err := cluster.Start(context.Background(), cluster.Config{Brokers: 2, Dir: dir, Env: []string{clustertest.EnvVar + "=1"}})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	for _, b := range c.Brokers() {
		fmt.Println("PID", b.PID)
	}
	fmt.Println("READY")
	select {}
}

// logSink collects log lines and forwards them to t.Logf only while the
// test runs: the supervisor may log from goroutines after it ends.
type logSink struct {
	mu    sync.Mutex
	t     *testing.T
	lines []string
}

func newLogSink(t *testing.T) *logSink {
	s := &logSink{t: t}
	t.Cleanup(func() { s.mu.Lock(); s.t = nil; s.mu.Unlock() })
	return s
}

func (s *logSink) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	s.lines = append(s.lines, line)
	if s.t != nil {
		s.t.Log(line)
	}
}

func (s *logSink) contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.lines, func(l string) bool { return strings.Contains(l, sub) })
}

// startFake starts a cluster of fake brokers; Close runs at cleanup.
func startFake(t *testing.T, n int, mod func(*cluster.Config)) (*cluster.Cluster, *logSink) {
	t.Helper()
	logs := newLogSink(t)
	cfg := cluster.Config{
		Brokers:        n,
		Dir:            t.TempDir(),
		Env:            []string{clustertest.EnvVar + "=1"},
		SessionTimeout: 500 * time.Millisecond,
		StartTimeout:   10 * time.Second,
		StopTimeout:    3 * time.Second,
		Logf:           logs.logf,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := cluster.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c, logs
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func info(c *cluster.Cluster, id int32) cluster.BrokerInfo { return c.Brokers()[id-1] }

func dial(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		nc.Close()
	}
	return err
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	l, err := clustertest.ReadLines(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return l
}

func TestStartAndClose(t *testing.T) {
	brokerArgs := []string{"--log-flush=batch", "--verbose=true"}
	c, _ := startFake(t, 3, func(cfg *cluster.Config) { cfg.BrokerArgs = brokerArgs })
	boot := c.Bootstrap()
	if len(boot) != 3 {
		t.Fatalf("got bootstrap %v, want 3 addresses", boot)
	}
	var pids []int
	for i, b := range c.Brokers() {
		if b.ID != int32(i+1) || b.State != cluster.Running || !b.Registered || b.Fenced {
			t.Errorf("broker %d: got %+v, want running and registered", i+1, b)
		}
		if b.Addr != boot[i] {
			t.Errorf("broker %d: addr %s, bootstrap %s", b.ID, b.Addr, boot[i])
		}
		if err := dial(b.Addr); err != nil {
			t.Errorf("broker %d: dial %s: %v", b.ID, b.Addr, err)
		}
		if pgid, err := syscall.Getpgid(b.PID); err != nil || pgid != b.PID {
			t.Errorf("broker %d: process group %d (%v), want its own (%d)", b.ID, pgid, err, b.PID)
		}
		if got := lines(t, filepath.Join(b.DataDir, clustertest.BootsFile)); !slices.Equal(got, []string{"pid " + strconv.Itoa(b.PID)}) {
			t.Errorf("broker %d: boots %q, want one start by pid %d", b.ID, got, b.PID)
		}
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", b.PID)); err == nil && os.Getenv("GOMAXPROCS") == "" {
			want := "GOMAXPROCS=" + strconv.Itoa(max(1, runtime.GOMAXPROCS(0)/3))
			if !slices.Contains(strings.Split(string(env), "\x00"), want) {
				t.Errorf("broker %d: environment lacks %s (the machine's CPUs shared out)", b.ID, want)
			}
		}
		if got := lines(t, filepath.Join(b.DataDir, clustertest.ArgsFile)); !slices.Equal(got, brokerArgs) {
			t.Errorf("broker %d: got extra args %q, want %q", b.ID, got, brokerArgs)
		}
		if b.DataDir != filepath.Join(c.Dir(), "broker-"+strconv.Itoa(i+1)) {
			t.Errorf("broker %d: data dir %s", b.ID, b.DataDir)
		}
		pids = append(pids, b.PID)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(boot)))) != 3 {
		t.Errorf("bootstrap addresses not distinct: %v", boot)
	}
	if addr, err := cluster.ReadAdminAddr(c.Dir()); err != nil || addr != c.AdminAddr() {
		t.Errorf("admin.addr: got %q (%v), want %q", addr, err, c.AdminAddr())
	}
	log, err := os.ReadFile(filepath.Join(c.Dir(), "broker-2.log"))
	if err != nil || !strings.Contains(string(log), "kbench broker 2 listening on") {
		t.Errorf("broker-2.log lacks the listening line (%v):\n%s", err, log)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still alive after Close", pid)
		}
	}
	for _, b := range c.Brokers() {
		if b.State != cluster.Stopped || b.Exit != "exit status 0" {
			t.Errorf("broker %d after Close: state %s, exit %q; want stopped, exit status 0", b.ID, b.State, b.Exit)
		}
	}
	if _, err := os.Stat(c.AdminAddrFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin.addr left behind: %v", err)
	}
	if err := c.Kill(1); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("kill after close: got %v, want ErrClosed", err)
	}
}

func TestConsecutivePorts(t *testing.T) {
	// A free port whose successor is free too is likely but not certain:
	// retry with another base a few times.
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base+1 > 65535 {
			continue
		}
		c, err := cluster.Start(context.Background(), cluster.Config{Brokers: 2, BasePort: base, Dir: t.TempDir(),
			Env: []string{clustertest.EnvVar + "=1"}, StartTimeout: 10 * time.Second})
		if err != nil {
			if attempt < 5 {
				continue
			}
			t.Fatal(err)
		}
		defer c.Close()
		want := []string{"127.0.0.1:" + strconv.Itoa(base), "127.0.0.1:" + strconv.Itoa(base+1)}
		if got := c.Bootstrap(); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		return
	}
}

func TestKillAndRestartOnSameDir(t *testing.T) {
	c, _ := startFake(t, 3, nil)
	before := info(c, 2)
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	got := info(c, 2)
	if got.State != cluster.Killed || got.Exit != "signal: killed" || alive(before.PID) {
		t.Fatalf("after kill: state %s, exit %q, alive %v; want killed by signal and gone", got.State, got.Exit, alive(before.PID))
	}
	if err := dial(before.Addr); err == nil {
		t.Errorf("broker 2 still accepts connections after kill -9")
	}
	// No heartbeats: the controller fences it after the session timeout.
	eventually(t, 5*time.Second, "killed broker 2 not fenced", func() bool { return info(c, 2).Fenced })
	if err := c.Kill(2); err != nil {
		t.Errorf("second kill: %v", err)
	}

	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	after := info(c, 2)
	if after.State != cluster.Running || after.PID == before.PID || after.Addr != before.Addr || after.Restarts != 1 || after.Fenced || !after.Registered {
		t.Fatalf("after restart: %+v (before %+v)", after, before)
	}
	boots := lines(t, filepath.Join(before.DataDir, clustertest.BootsFile))
	if want := []string{"pid " + strconv.Itoa(before.PID), "pid " + strconv.Itoa(after.PID)}; !slices.Equal(boots, want) {
		t.Errorf("boots in %s: got %q, want %q", before.DataDir, boots, want)
	}
	if err := dial(after.Addr); err != nil {
		t.Errorf("restarted broker: %v", err)
	}

	// Restart of a running broker kills it first.
	if err := c.Restart(2); err != nil {
		t.Fatal(err)
	}
	if again := info(c, 2); again.PID == after.PID || alive(after.PID) || again.Restarts != 2 {
		t.Errorf("restart of a running broker: %+v, old pid %d alive %v", again, after.PID, alive(after.PID))
	}
	for _, id := range []int32{1, 3} {
		if b := info(c, id); b.State != cluster.Running || b.Restarts != 0 {
			t.Errorf("broker %d touched: %+v", id, b)
		}
	}
}

func TestPauseResume(t *testing.T) {
	c, _ := startFake(t, 2, nil)
	pid := info(c, 1).PID
	if err := c.Pause(1); err != nil {
		t.Fatal(err)
	}
	if st, err := cluster.ProcState(pid); err != nil || st != 'T' {
		t.Fatalf("paused broker: /proc state %c (%v), want T", st, err)
	}
	if s := info(c, 1).State; s != cluster.Paused {
		t.Errorf("state %s, want paused", s)
	}
	// A stopped process sends no heartbeats: the controller fences it.
	eventually(t, 5*time.Second, "paused broker 1 not fenced", func() bool { return info(c, 1).Fenced })
	if err := c.Pause(1); err != nil {
		t.Errorf("second pause: %v", err)
	}
	if err := c.Resume(1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "resumed broker still stopped", func() bool {
		st, err := cluster.ProcState(pid)
		return err == nil && st != 'T'
	})
	// Running again, it learns it was fenced and registers anew.
	eventually(t, 5*time.Second, "resumed broker 1 not unfenced", func() bool { return !info(c, 1).Fenced })
	if b := info(c, 1); b.State != cluster.Running || b.PID != pid {
		t.Errorf("after resume: %+v, want running with pid %d", b, pid)
	}
	if err := c.Resume(2); err != nil {
		t.Errorf("resume of a running broker: %v", err)
	}
	// Stop reaches a paused broker too (SIGTERM then SIGCONT).
	if err := c.Pause(2); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(2); err != nil {
		t.Fatal(err)
	}
	if b := info(c, 2); b.State != cluster.Stopped || b.Exit != "exit status 0" {
		t.Errorf("stop of a paused broker: state %s, exit %q; want stopped, exit status 0", b.State, b.Exit)
	}
	if err := c.Pause(2); !errors.Is(err, cluster.ErrNotRunning) {
		t.Errorf("pause of a stopped broker: got %v, want ErrNotRunning", err)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	c, logs := startFake(t, 1, func(cfg *cluster.Config) {
		cfg.BrokerArgs = []string{"--fake-ignore-term"}
		cfg.StopTimeout = 300 * time.Millisecond
	})
	pid := info(c, 1).PID
	start := time.Now()
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if b := info(c, 1); b.State != cluster.Killed || alive(pid) {
		t.Errorf("got state %s, alive %v; want killed and gone", b.State, alive(pid))
	}
	if el < 300*time.Millisecond || el > 5*time.Second {
		t.Errorf("stop took %s, want about the 300ms stop timeout", el)
	}
	if !logs.contains("still running") {
		t.Errorf("escalation not logged")
	}
}

func TestCrashedBrokerIsNotRestarted(t *testing.T) {
	c, logs := startFake(t, 2, func(cfg *cluster.Config) { cfg.BrokerArgs = []string{"--fake-exit-after", "700ms"} })
	pid := info(c, 1).PID
	eventually(t, 5*time.Second, "broker 1 not seen exiting", func() bool { return info(c, 1).State == cluster.Exited })
	if !logs.contains("broker 1 (pid " + strconv.Itoa(pid) + ") exited unexpectedly (exit status 3)") {
		t.Errorf("unexpected exit not logged")
	}
	time.Sleep(300 * time.Millisecond)
	if b := info(c, 1); b.State != cluster.Exited || b.PID != pid || b.Restarts != 0 {
		t.Errorf("crashed broker: %+v, want left exited", b)
	}
	if err := c.Delay(1, time.Millisecond); !errors.Is(err, cluster.ErrNotRunning) {
		t.Errorf("delay on a crashed broker: got %v, want ErrNotRunning", err)
	}
}

func TestStartFailureLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	_, err := cluster.Start(context.Background(), cluster.Config{Brokers: 2, Dir: dir, Env: []string{clustertest.EnvVar + "=1"},
		BrokerArgs: []string{"--fake-no-listen"}, StartTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "not listening after 1s") {
		t.Fatalf("got %v, want a not-listening error", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("failed start took %s", el)
	}
	for _, id := range []string{"1", "2"} {
		boots := lines(t, filepath.Join(dir, "broker-"+id, clustertest.BootsFile))
		if len(boots) != 1 {
			t.Fatalf("broker %s: boots %q", id, boots)
		}
		pid, _ := strconv.Atoi(strings.TrimPrefix(boots[0], "pid "))
		if alive(pid) {
			t.Errorf("broker %s (pid %d) left running after a failed start", id, pid)
		}
	}

	_, err = cluster.Start(context.Background(), cluster.Config{Brokers: 1, Dir: t.TempDir(), Binary: filepath.Join(dir, "no-such-binary")})
	if err == nil || !strings.Contains(err.Error(), "no-such-binary") {
		t.Errorf("missing binary: got %v", err)
	}
	_, err = cluster.Start(context.Background(), cluster.Config{Brokers: 1, Dir: t.TempDir(), Env: []string{clustertest.EnvVar + "=1"},
		BrokerArgs: []string{"--fake-exit-after", "1ns"}})
	if err == nil || !strings.Contains(err.Error(), "crashing as told") {
		t.Errorf("broker exiting at start: got %v, want its log tail in the error", err)
	}
}

func TestFaultCommandsReachStdin(t *testing.T) {
	c, _ := startFake(t, 3, nil)
	steps := []struct {
		id   int32
		do   func() error
		want string
	}{
		{1, func() error { return c.Delay(1, 20*time.Millisecond) }, "delay 20ms"},
		{2, func() error { return c.Bandwidth(2, 1<<20) }, "bandwidth 1048576"},
		{3, func() error { return c.DropProduce(3, 0.1) }, "drop-produce 0.1"},
		{1, func() error { return c.Delay(1, 0) }, "delay 0"},
		{1, func() error { return c.Delay(1, 1500*time.Microsecond) }, "delay 1.5ms"},
	}
	want := map[int32][]string{}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.want, err)
		}
		want[s.id] = append(want[s.id], s.want)
	}
	for id, w := range want {
		path := filepath.Join(info(c, id).DataDir, clustertest.CommandsFile)
		eventually(t, 5*time.Second, fmt.Sprintf("broker %d commands: got %q, want %q", id, lines(t, path), w), func() bool {
			return slices.Equal(lines(t, path), w)
		})
	}
	if b := info(c, 1); b.DelayNs != 1500*time.Microsecond {
		t.Errorf("broker 1 delay %s, want 1.5ms", b.DelayNs)
	}
	if b := info(c, 2); b.Bandwidth != 1<<20 {
		t.Errorf("broker 2 bandwidth %d", b.Bandwidth)
	}
	if b := info(c, 3); b.DropProduce != 0.1 {
		t.Errorf("broker 3 drop-produce %v", b.DropProduce)
	}

	for name, err := range map[string]error{
		"negative delay":     c.Delay(1, -time.Millisecond),
		"negative bandwidth": c.Bandwidth(1, -1),
		"fraction > 1":       c.DropProduce(1, 1.5),
	} {
		if !errors.Is(err, cluster.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if err := c.Delay(9, time.Millisecond); !errors.Is(err, cluster.ErrUnknownBroker) {
		t.Errorf("unknown broker: got %v, want ErrUnknownBroker", err)
	}
	// A restart starts a clean process: faults are cleared.
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if b := info(c, 1); b.DelayNs != 0 {
		t.Errorf("delay survived a restart: %s", b.DelayNs)
	}
}

func createTopic(t *testing.T, ctrl, name string, parts int32, rf int16) {
	t.Helper()
	cl := &wire.Client{Addr: ctrl, ClientID: "test"}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 5
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic %s: error %d", name, code)
	}
}

func TestLeaderOfAndWaitHealthy(t *testing.T) {
	c, _ := startFake(t, 3, nil)
	createTopic(t, c.Controller().Addr(), "t", 3, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	leader, err := c.LeaderOf("t", 1)
	if err != nil || leader < 1 || leader > 3 {
		t.Fatalf("leader of t/1: %d, %v", leader, err)
	}
	if _, err := c.LeaderOf("t", 3); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Errorf("t/3: got %v, want ErrUnknownTopic", err)
	}
	if _, err := c.LeaderOf("nope", 0); !errors.Is(err, cluster.ErrUnknownTopic) {
		t.Errorf("nope/0: got %v, want ErrUnknownTopic", err)
	}

	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	var next int32
	eventually(t, 5*time.Second, "leadership of t/1 did not move off the killed broker", func() bool {
		next, err = c.LeaderOf("t", 1)
		return err == nil && next != leader
	})
	st := c.Status()
	if len(st.Topics) != 1 || st.Topics[0].Name != "t" || len(st.Topics[0].Partitions) != 3 {
		t.Fatalf("status topics: %+v", st.Topics)
	}
	for _, p := range st.Topics[0].Partitions {
		if !slices.Equal(p.Offline, []int32{leader}) || slices.Contains(p.ISR, leader) {
			t.Errorf("partition %d: offline %v, ISR %v; want %d offline and out of the ISR", p.Partition, p.Offline, p.ISR, leader)
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := c.WaitHealthy(short); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not registered") {
		t.Errorf("WaitHealthy with a dead broker: got %v, want a deadline error naming the broker", err)
	}
}

func TestContextCancelStopsBrokers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := cluster.Start(ctx, cluster.Config{Brokers: 2, Dir: t.TempDir(), Env: []string{clustertest.EnvVar + "=1"}, StopTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, b := range c.Brokers() {
		pids = append(pids, b.PID)
	}
	cancel()
	eventually(t, 10*time.Second, "brokers alive after the context was cancelled", func() bool {
		return !alive(pids[0]) && !alive(pids[1])
	})
	if err := c.Close(); err != nil {
		t.Errorf("close after cancel: %v", err)
	}
}

// TestSupervisorDeathKillsBrokers SIGKILLs a supervisor process: its brokers
// must die with it (parent-death signal), leaving no orphans.
func TestSupervisorDeathKillsBrokers(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), supervisorEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "READY" {
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ := strconv.Atoi(p)
			pids = append(pids, pid)
		} else {
			t.Log(sc.Text())
		}
	}
	if len(pids) != 2 {
		t.Fatalf("supervisor reported pids %v", pids)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("broker pid %d not running", pid)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	eventually(t, 5*time.Second, fmt.Sprintf("brokers %v outlived their supervisor", pids), func() bool {
		// Orphans are reaped by init (or a subreaper); a zombie is dead too.
		for _, pid := range pids {
			if st, err := cluster.ProcState(pid); err == nil && st != 'Z' {
				return false
			}
		}
		return true
	})
}
