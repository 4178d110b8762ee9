package inject_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/faults/inject"
	"github.com/kbench/kbench/target"
	"github.com/kbench/kbench/target/targettest"
)

func TestMain(m *testing.M) { targettest.Main(m) }

func startCluster(t *testing.T, topic string, partitions int32) *target.Target {
	t.Helper()
	ec := targettest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ec.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	if err := ec.Faults().WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	return ec
}

func brokerByID(c *target.Cluster, id int32) target.BrokerInfo {
	for _, b := range c.Brokers() {
		if b.ID == id {
			return b
		}
	}
	return target.BrokerInfo{}
}

// TestRunnerHealsEveryFault drives a runner through its hooks (as
// bench.Run does) on a real cluster: the faults take effect at their times,
// the end of the duration heals them all without waiting for the load to
// end, a fault due later is skipped, and Finish reports a healthy cluster.
func TestRunnerHealsEveryFault(t *testing.T) {
	ec := startCluster(t, "t", 3)
	c := ec.Faults()
	dir := t.TempDir()
	s, err := faults.ParseFlags([]string{
		// A broker shutting down gracefully waits seconds for a paused
		// peer, so broker 1 is paused once broker 3 is down.
		"0s:stop:3", "0s:delay:2:50ms", "0s:bandwidth:2:1MiB", "0s:drop-produce:2:0.5",
		"200ms:exec:echo hello from the schedule", "3s:pause:1", "30s:kill:2",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := inject.NewRunner(s, inject.Options{Cluster: c, Dir: dir, HealTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{Topic: bench.TopicConfig{Name: "t"}, Warmup: 100 * time.Millisecond, Duration: 4 * time.Second}
	r.Attach(&cfg)
	start := time.Now()
	cfg.Hooks.OnStart(start)

	// Before the end of the duration every fault is in force.
	deadline := start.Add(cfg.Warmup + 3900*time.Millisecond)
	for (brokerByID(c, 1).State != target.Paused || brokerByID(c, 3).State != target.Stopped) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b1, b2, b3 := brokerByID(c, 1), brokerByID(c, 2), brokerByID(c, 3)
	if b1.State != target.Paused || b2.DelayNs != 50*time.Millisecond || b2.Bandwidth != 1<<20 || b2.DropProduce != 0.5 || b3.State != target.Stopped {
		t.Fatalf("faults not in force at %s: broker 1 %s, broker 2 delay %s bandwidth %d drop %v, broker 3 %s",
			time.Since(start).Round(time.Millisecond), b1.State, b2.DelayNs, b2.Bandwidth, b2.DropProduce, b3.State)
	}
	// The end of the duration heals without OnLoadEnd.
	deadline = start.Add(cfg.Warmup + cfg.Duration + 20*time.Second)
	for brokerByID(c, 1).State != target.Running && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := brokerByID(c, 1).State; st != target.Running {
		t.Fatalf("broker 1 is %s after the duration ended, want healed (running)", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := r.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range rep.Events {
		t.Logf("%s: at %.3fs took %.3fs brokers %v skipped %v %s %s", ev.Action, float64(ev.Started), float64(ev.Took), ev.Brokers, ev.Skipped, ev.Note, ev.Err)
		switch {
		case ev.Action.Kind == faults.Kill:
			if !ev.Skipped {
				t.Errorf("%s ran after healing began", ev.Action)
			}
		case ev.Skipped || ev.Err != "":
			t.Errorf("%s: skipped %v, error %q", ev.Action, ev.Skipped, ev.Err)
		case ev.Started.Dur() < ev.Action.At-10*time.Millisecond || ev.Started.Dur() > ev.Action.At+500*time.Millisecond:
			t.Errorf("%s ran at %.3fs after the warmup", ev.Action, float64(ev.Started))
		}
	}
	t.Logf("heal: %q healthy %v after %.2fs", rep.Heal.Actions, rep.Heal.Healthy, float64(rep.Heal.Settled))
	if !rep.Heal.Healthy || float64(rep.Heal.Started) < 3.9 || float64(rep.Heal.Started) > 4.6 {
		t.Errorf("heal started %.2fs after warmup, healthy %v; want about 4s (the duration) and healthy", float64(rep.Heal.Started), rep.Heal.Healthy)
	}
	for _, want := range []string{"resumed broker 1", "cleared the 50ms delay on broker 2", "removed the 1MiB/s cap on broker 2", "stopped dropping produce responses on broker 2", "restarted broker 3 (stopped)"} {
		if !slices.Contains(rep.Heal.Actions, want) {
			t.Errorf("heal actions %q lack %q", rep.Heal.Actions, want)
		}
	}
	for _, b := range c.Brokers() {
		if b.State != target.Running || b.DelayNs != 0 || b.Bandwidth != 0 || b.DropProduce != 0 {
			t.Errorf("after healing broker %d: %s, delay %s, bandwidth %d, drop %v", b.ID, b.State, b.DelayNs, b.Bandwidth, b.DropProduce)
		}
	}
	// The record and the command's output are in the directory.
	raw, err := os.ReadFile(filepath.Join(dir, inject.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var back inject.Report
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Events) != len(s) || !back.Heal.Healthy {
		t.Errorf("faults.json: %v, %d events", err, len(back.Events))
	}
	out, err := os.ReadFile(filepath.Join(dir, "fault-05-exec.log"))
	if err != nil || !strings.Contains(string(out), "hello from the schedule") {
		t.Errorf("exec output: %q, %v", out, err)
	}
}

// TestKillLeadersOn kills the broker leading the most partitions.
func TestKillLeadersOn(t *testing.T) {
	ec := startCluster(t, "many", 7)
	c := ec.Faults()
	led := map[int32]int{}
	for p := int32(0); p < 7; p++ {
		l, err := c.LeaderOf("many", p)
		if err != nil {
			t.Fatal(err)
		}
		led[l]++
	}
	want := int32(0)
	for id := int32(1); id <= 3; id++ {
		if want == 0 || led[id] > led[want] {
			want = id
		}
	}
	s, err := faults.ParseFlags([]string{"0s:kill-leaders-on:1"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := inject.NewRunner(s, inject.Options{Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{Topic: bench.TopicConfig{Name: "many"}}
	r.Attach(&cfg)
	cfg.Hooks.OnStart(time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for brokerByID(c, want).State != target.Killed && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := brokerByID(c, want).State; st != target.Killed {
		t.Fatalf("leaders per broker %v: broker %d is %s, want killed", led, want, st)
	}
	cfg.Hooks.OnLoadEnd()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := r.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev := rep.Events[0]
	t.Logf("%s: %v %s", ev.Action, ev.Brokers, ev.Note)
	if !slices.Equal(ev.Brokers, []int32{want}) || ev.Err != "" {
		t.Errorf("killed %v (%s), want [%d]", ev.Brokers, ev.Err, want)
	}
	if b := brokerByID(c, want); b.State != target.Running || b.Restarts != 1 || !rep.Heal.Healthy {
		t.Errorf("after healing broker %d is %s with %d restarts, healthy %v", want, b.State, b.Restarts, rep.Heal.Healthy)
	}
}

// TestExecAgainstExternal runs commands without a cluster: their output
// and exit status are kept, and cluster actions are refused.
func TestExecAgainstExternal(t *testing.T) {
	if _, err := inject.NewRunner(faults.Schedule{{Kind: faults.Kill, Broker: 1}}, inject.Options{}); err == nil || !strings.Contains(err.Error(), "exec:") {
		t.Errorf("kill without a cluster: %v, want a refusal pointing at exec", err)
	}
	dir := t.TempDir()
	s, err := faults.ParseFlags([]string{"0s:exec:echo out; echo err >&2; exit 3", "50ms:exec:sleep 0.2; echo late"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := inject.NewRunner(s, inject.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{}
	r.Attach(&cfg)
	cfg.Hooks.OnStart(time.Now())
	time.Sleep(150 * time.Millisecond) // both started; the second still runs
	cfg.Hooks.OnLoadEnd()
	rep, err := r.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first, second := rep.Events[0], rep.Events[1]
	if first.Err != "exit status 3" || second.Err != "" || second.Skipped || second.Took < 0.2 {
		t.Errorf("events: %+v", rep.Events)
	}
	for i, want := range []string{"out\nerr\n", "late\n"} {
		raw, err := os.ReadFile(filepath.Join(dir, rep.Events[i].Output))
		if err != nil || !strings.HasSuffix(string(raw), want) {
			t.Errorf("output of %s: %q, %v; want it to end %q", rep.Events[i].Action, raw, err, want)
		}
	}
	if !strings.Contains(rep.Heal.Note, "nothing to heal") {
		t.Errorf("heal note %q", rep.Heal.Note)
	}
}
