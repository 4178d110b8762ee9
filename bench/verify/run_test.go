package verify_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/verify"
	"github.com/kbench/kbench/target"
	"github.com/kbench/kbench/target/targettest"
)

func TestMain(m *testing.M) { targettest.Main(m) }

// quick is a short run's config against tg.
func quick(t *testing.T, tg bench.Target, workload string, d time.Duration) verify.Config {
	return verify.Config{
		Workload: workload, Commit: "sync", Seed: 1, Interval: 4 * time.Second, Stall: 10 * time.Second,
		Drain: 20 * time.Second, Pause: time.Second, Dir: t.TempDir(),
		Run: bench.RunConfig{Target: tg, Producers: 1, Consumers: 2, Rate: 100, Duration: d},
	}
}

// run runs cfg, checks the result equals a re-check of the history on
// disk, and returns the history and the timeline.
func run(t *testing.T, cfg verify.Config) (*verify.Result, []verify.Op, string) {
	t.Helper()
	var out bytes.Buffer
	cfg.Out = &out
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := verify.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	ops, err := verify.ReadHistory(filepath.Join(cfg.Dir, verify.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if again := verify.Check(ops); !reflect.DeepEqual(&again, res) {
		t.Errorf("checking the history again gave another result:\n%+v\nwant\n%+v", again, *res)
	}
	var tl bytes.Buffer
	verify.WriteTimeline(&tl, ops)
	var sum bytes.Buffer
	verify.WriteSummary(&sum, res, "history")
	t.Logf("%s\n%s%s", out.String(), tl.String(), sum.String())
	if !res.Complete {
		t.Error("the history has no end phase")
	}
	return res, ops, tl.String()
}

func count(ops []verify.Op, f func(verify.Op) bool) int {
	n := 0
	for _, op := range ops {
		if f(op) {
			n++
		}
	}
	return n
}

// TestScenarios runs a short version of each named scenario on one
// embedded cluster: rebalance and eos side by side (no faults), then
// isr-timeline and duplicates (faults on every broker) one after another.
func TestScenarios(t *testing.T) {
	t.Parallel()
	ec := targettest.StartCluster(t, 3)
	var wg sync.WaitGroup
	for _, name := range []string{"rebalance", "eos"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(name, func(t *testing.T) {
				cfg := quick(t, ec, name, 20*time.Second)
				if name == "eos" {
					cfg.Run.Duration = 5 * time.Second
				}
				res, ops, tl := run(t, cfg)
				if !res.Valid {
					t.Errorf("got %s: %+v", res.Verdict(), res.Anomalies)
				}
				switch name {
				case "rebalance":
					if !strings.Contains(tl, "every partition of consumer-3 owned again") {
						t.Errorf("the killed consumer's partitions did not move:\n%s", tl)
					}
				case "eos":
					// The aborted transaction is in the log, hidden from read_committed.
					if !strings.Contains(tl, "aborted (aborted on purpose)") || !strings.Contains(tl, "visible to read_committed 0, in the log (read_uncommitted) ") ||
						strings.Contains(tl, "visible to read_committed 0, in the log (read_uncommitted) 0") {
						t.Errorf("timeline does not show the aborted transaction in the log and invisible:\n%s", tl)
					}
					if n := count(ops, func(op verify.Op) bool { return op.Type == verify.TTxnAbort }); n != 1 {
						t.Errorf("got %d aborted transactions, want 1", n)
					}
				}
			})
		}()
	}
	wg.Wait()

	t.Run("isr-timeline", func(t *testing.T) {
		res, ops, _ := run(t, quick(t, ec, "isr-timeline", 50*time.Second))
		if !res.Valid {
			t.Errorf("got %s: %+v", res.Verdict(), res.Anomalies)
		}
		if n := count(ops, func(op verify.Op) bool {
			return op.Type == verify.TProduce && op.Outcome == verify.Fail && strings.Contains(op.Err, "NOT_ENOUGH_REPLICAS")
		}); n == 0 {
			t.Error("no produce failed with NOT_ENOUGH_REPLICAS after two followers died")
		}
		if n := count(ops, func(op verify.Op) bool { return op.Type == verify.TMetadata && len(op.ISR) == 1 }); n == 0 {
			t.Error("the ISR never shrank to the leader alone")
		}
		if last := ops[lastIndex(ops, func(op verify.Op) bool { return op.Type == verify.TMetadata })]; len(last.ISR) != 3 {
			t.Errorf("last ISR %v, want all 3 replicas back", last.ISR)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		res, _, tl := run(t, quick(t, ec, "duplicates", 6*time.Second))
		if !res.Valid {
			t.Errorf("got %s (idempotent producer duplicated?): %+v", res.Verdict(), res.Anomalies)
		}
		if !strings.Contains(tl, "producer-1 (enable.idempotence=true)") || !strings.Contains(tl, ": 0 duplicated ids") {
			t.Errorf("timeline lacks the idempotent producer without duplicates:\n%s", tl)
		}
		if res.Stats.Duplicates == 0 {
			t.Error("no duplicates without idempotence while 30% of produce responses were dropped")
		}
	})
}

func lastIndex(ops []verify.Op, f func(verify.Op) bool) int {
	for i := len(ops) - 1; i >= 0; i-- {
		if f(ops[i]) {
			return i
		}
	}
	return 0
}

// TestQueueUnderNemesis runs the queue workload with the coordinator and
// kill nemesis: the faults are applied to the brokers the schedule names,
// each healed, and the run ends on a healthy cluster. What the checker
// finds is logged, not asserted: it depends on the broker.
func TestQueueUnderNemesis(t *testing.T) {
	t.Parallel()
	ec := targettest.StartCluster(t, 3)
	cfg := quick(t, ec, "queue", 9*time.Second)
	cfg.Nemesis = []verify.Action{verify.Coordinator, verify.Kill}
	res, ops, _ := run(t, cfg)
	sched := verify.Schedule(1, cfg.Nemesis, []int32{1, 2, 3}, 6, cfg.Interval, cfg.Run.Duration)
	if len(res.Faults) != len(sched)+1 {
		t.Fatalf("got faults %+v, want the %d planned and the final heal", res.Faults, len(sched))
	}
	for i, s := range sched {
		f := res.Faults[i]
		if f.Fault != s.Name() || f.Err != "" || f.Stop < f.Start || len(f.Brokers) != 1 {
			t.Errorf("fault %d: got %+v, want %s applied and healed", i, f, s.Name())
		}
		if s.Broker != 0 && f.Brokers[0] != s.Broker {
			t.Errorf("fault %d: acted on broker %v, want %d", i, f.Brokers, s.Broker)
		}
	}
	if n := count(ops, func(op verify.Op) bool { return op.Type == verify.TConsume }); n == 0 {
		t.Error("nothing consumed")
	}
	if err := ec.Faults().WaitHealthy(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestRefusesMinInsyncAboveReplicationFactor: with min.insync.replicas
// above the replication factor every acks=all produce fails, so a run
// would check nothing; it is refused with both numbers named.
func TestRefusesMinInsyncAboveReplicationFactor(t *testing.T) {
	t.Parallel()
	b, err := target.Start(context.Background(), target.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := quick(t, b, "produce", time.Second)
	cfg.Run.Topic = bench.TopicConfig{ReplicationFactor: 1, Configs: map[string]string{"min.insync.replicas": "2"}}
	_, err = verify.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "min.insync.replicas 2 is more than the replication factor 1") {
		t.Fatalf("got %v, want the run refused naming min.insync.replicas 2 and replication factor 1", err)
	}
}
