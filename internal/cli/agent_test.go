package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/target"
)

// agentProc is a real `kbench agent` process (this test binary as kbench).
type agentProc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
}

func startAgents(t *testing.T, bootstrap string, names ...string) map[string]*agentProc {
	t.Helper()
	procs := map[string]*agentProc{}
	for _, n := range names {
		p := &agentProc{name: n, out: &syncBuffer{}, done: make(chan struct{})}
		p.cmd = exec.Command(os.Args[0], "agent", "--bootstrap", bootstrap, "--name", n)
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = p.cmd.Wait() // killed, by the test or its cleanup
			close(p.done)
		}()
		procs[n] = p
		t.Cleanup(func() {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("agent %s did not exit after SIGKILL", n)
			}
		})
	}
	for _, p := range procs {
		waitFor(t, 20*time.Second, "agent "+p.name+" ready", func() bool { return strings.Contains(p.out.String(), "ready on control topic") })
	}
	return procs
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kbenchCtx runs one command in-process under ctx (Ctrl-C is a cancel).
func kbenchCtx(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestAgents runs load over three real agent processes that meet the
// coordinator only on the control topic of an embedded broker.
func TestAgents(t *testing.T) {
	ctx := context.Background()
	tg, err := target.Start(ctx, target.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	addr := tg.Bootstrap()[0]
	agents := startAgents(t, addr, "a1", "a2", "a3")
	load := []string{"e2e", "--bootstrap", addr, "--agents", "3", "--warmup", "1s", "--interval", "1s", "--topic", "agents"}

	t.Run("merged histograms are the union of the agents'", func(t *testing.T) {
		dir := t.TempDir()
		jsonPath, hlogPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.hlog")
		out, errOut, err := kbenchCtx(ctx, append(load, "--rate", "3000", "--duration", "3s", "--json", jsonPath, "--hlog", hlogPath)...)
		if err != nil {
			t.Fatalf("e2e --agents 3: %v\n%s\n%s", err, out, errOut)
		}
		// Validity itself depends on this machine's load (a 3 s run misses
		// 1 % with one 30 ms late acknowledgement); the counts do not.
		for _, want := range []string{"a1 ", "a2 ", "a3 ", "records/s", "end-to-end latency sampled on", "result: "} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		res, err := bench.ReadResult(jsonPath)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Agents) != 3 {
			t.Fatalf("got %d agents in the result, want 3", len(res.Agents))
		}
		// The open-loop schedules of the three shares add up to the target:
		// 3 s at 3000 records/s measured, every one acknowledged.
		if got, want := res.Produce.Acked, int64(9000); got != want || res.Produce.Failed != 0 {
			t.Errorf("got %d acked, %d failed in the measured window, want %d, 0", got, res.Produce.Failed, want)
		}
		if p := res.Produce.AchievedPct; p < 97 || p > 101 {
			t.Errorf("achieved %.2f %% of the 3000 records/s target", p)
		}
		// The union, built value by value from each agent's own histogram
		// (not with Merge, which the coordinator uses).
		var sampled int64
		for _, kind := range []string{"service", "response", "e2e"} {
			union := hdr.New(int64(time.Microsecond), int64(5*time.Minute), 3)
			for _, a := range res.Agents {
				l := map[string]*bench.Latency{"service": a.Latency.Service, "response": a.Latency.Response, "e2e": a.Latency.E2E}[kind]
				if l == nil {
					t.Fatalf("agent %s has no %s histogram", a.Name, kind)
				}
				h, err := l.Histogram()
				if err != nil {
					t.Fatal(err)
				}
				for _, bar := range h.Distribution() {
					if bar.Count > 0 {
						if err := union.RecordValues(bar.From, bar.Count); err != nil {
							t.Fatal(err)
						}
					}
				}
				if kind == "e2e" {
					sampled += a.E2ESampled
				}
			}
			got := map[string]*bench.Latency{"service": res.Latency.Service, "response": res.Latency.Response, "e2e": res.Latency.E2E}[kind]
			for _, q := range []struct {
				name string
				got  float64
				at   float64
			}{{"p50", got.P50, 50}, {"p99", got.P99, 99}, {"p99.9", got.P999, 99.9}} {
				if want := float64(union.ValueAtQuantile(q.at)) / 1e6; q.got != want {
					t.Errorf("%s %s: got %v ms, want %v ms (the union of the agents' histograms)", kind, q.name, q.got, want)
				}
			}
			if got.Count != union.TotalCount() {
				t.Errorf("%s count: got %d, want %d", kind, got.Count, union.TotalCount())
			}
		}
		if sampled != res.Latency.E2E.Count || sampled >= res.Consume.Consumed {
			t.Errorf("e2e sampled %d of %d consumed, merged e2e count %d: want the agents' own records only, a share of those consumed", sampled, res.Consume.Consumed, res.Latency.E2E.Count)
		}
		f, err := os.Open(hlogPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		logged, err := bench.ReadHlog(f)
		if err != nil || len(logged) < 3*3 {
			t.Errorf("hlog: got %d interval histograms (%v), want the merged intervals of the run", len(logged), err)
		}
	})

	t.Run("a sweep runs its points on the agents", func(t *testing.T) {
		dir := t.TempDir()
		prof := filepath.Join(dir, "tiny.yaml")
		if err := os.WriteFile(prof, []byte(`description: one point on agents
topic: {name: agents-sweep, partitions: 3}
workload: {mode: e2e, record_size: 100, warmup: 500ms, duration: 1s, interval: 500ms}
rate: 1500
slo: {latency: response, p99_ms: 5000}
axes:
  linger.ms: [5]
`), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := kbenchCtx(ctx, "sweep", "--profile", prof, "--bootstrap", addr, "--agents", "a1,a3", "--out", filepath.Join(dir, "run"), "--progress", "none")
		if err != nil {
			t.Fatalf("sweep --agents: %v\n%s\n%s", err, out, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, "run", "results.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 1 {
			t.Fatalf("got %d result lines, want 1", len(lines))
		}
		for _, l := range lines {
			if !strings.Contains(l, `"agents":[{"name":"a1"`) || !strings.Contains(l, `{"name":"a3"`) {
				t.Errorf("a result line without agents a1 and a3: %.300s", l)
			}
		}
	})

	t.Run("a tune measures its candidates on the agents", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tune")
		out, errOut, err := kbenchCtx(ctx, "tune", "--bootstrap", addr, "--agents", "a1,a2", "--rf", "1", "--min-insync", "1",
			"--rate", "600", "--slo", "p99<=5s", "--space", "linger.ms=0,5", "--space", "batch.size=16KiB", "--space", "compression=none",
			"--space", "max.in.flight=5", "--budget", "20s", "--set", "workload.duration=1s", "--set", "workload.warmup=500ms",
			"--set", "topic.name=agents-tune", "--out", dir, "--progress", "none")
		if err != nil {
			t.Fatalf("tune --agents: %v\n%s\n%s", err, out, errOut)
		}
		b, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) < 2 {
			t.Fatalf("got %d measurements, want at least the two candidates\n%s", len(lines), out)
		}
		for _, l := range lines {
			if !strings.Contains(l, `"agents":[{"name":"a1"`) || !strings.Contains(l, `{"name":"a2"`) {
				t.Errorf("a measurement not made on agents a1 and a2: %.300s", l)
			}
		}
	})

	t.Run("Ctrl-C stops every agent", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(5*time.Second, cancel) // 3 s to the common start, then load
		began := time.Now()
		out, _, err := kbenchCtx(cctx, append(load, "--rate", "1500", "--duration", "60s", "-q")...)
		if took := time.Since(began); took > 25*time.Second {
			t.Errorf("the interrupted run took %v, want it to end within seconds of Ctrl-C", took)
		}
		if err != nil {
			t.Fatalf("interrupted run: got error %v, want the interrupted summary\n%s", err, out)
		}
		if !strings.Contains(out, "interrupted") || !strings.Contains(out, "result: INVALID") {
			t.Errorf("want an interrupted, invalid summary, got:\n%s", out)
		}
		for _, a := range agents {
			waitFor(t, 10*time.Second, "stop in agent "+a.name+"'s log", func() bool { return strings.Contains(a.out.String(), "stopped by") })
		}
	})

	t.Run("a dead agent fails the run within 10 s, named", func(t *testing.T) {
		victim := agents["a3"]
		var killed time.Time
		time.AfterFunc(5*time.Second, func() {
			killed = time.Now()
			_ = victim.cmd.Process.Signal(syscall.SIGKILL)
		})
		out, errOut, err := kbenchCtx(ctx, append(load, "--rate", "1500", "--duration", "60s", "-q")...)
		if err == nil {
			t.Fatalf("the run succeeded without agent a3:\n%s", out)
		}
		if took := time.Since(killed); killed.IsZero() || took > 10*time.Second {
			t.Errorf("the run failed %v after the kill, want within 10 s", took)
		}
		if !strings.Contains(err.Error(), "agent a3") {
			t.Errorf("got error %q, want it to name agent a3\n%s", err, errOut)
		}
		select {
		case <-victim.done:
		case <-time.After(5 * time.Second):
			t.Error("the killed agent is still running")
		}
		// The others stop their share and are free again.
		for _, n := range []string{"a1", "a2"} {
			a := agents[n]
			waitFor(t, 15*time.Second, "agent "+n+" to end its share", func() bool {
				return strings.Count(a.out.String(), "done: ") >= 3
			})
		}
	})
}

func TestAgentFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"e2e", "--brokers", "1", "--agents", "2"}, "--agents needs the cluster the agents watch"},
		{[]string{"e2e", "--bootstrap", "127.0.0.1:1", "--agents", "0"}, "want a count of at least 1"},
		{[]string{"e2e", "--bootstrap", "127.0.0.1:1", "--agents", "a1,a1"}, "distinct, non-empty agent names"},
		{[]string{"agent"}, "give --bootstrap"},
		{[]string{"agent", "--bootstrap", "127.0.0.1:1", "--name", "coordinator-x"}, "not starting with"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := kbench(t, tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("got exit %d, stderr %q; want an error saying %q", code, errOut, tc.want)
			}
		})
	}
}
