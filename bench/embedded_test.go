package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

func startEmbedded(t *testing.T) *Embedded {
	t.Helper()
	e, err := StartEmbedded(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// TestRateAccuracy is the acceptance check: 20000 records/s for
// 10 s against the embedded broker lands within 1 % of the target.
func TestRateAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s run")
	}
	tg := startEmbedded(t)
	res, out := mustRun(t, RunConfig{Mode: ModeProduce, Target: tg, Rate: 20000, Duration: 10 * time.Second, Workload: Workload{RecordSize: "100"}})
	t.Log(out)
	if p := res.Produce; p.AchievedPct < 99 || p.AchievedPct > 101 || p.Acked != 200000 || p.Failed != 0 {
		t.Errorf("achieved %.2f %% (%d acked, %d failed), want within 1 %% of 20000/s and all 200000 records", p.AchievedPct, p.Acked, p.Failed)
	}
	if !res.CPU.IncludesBroker {
		t.Error("embedded run does not say its CPU includes the broker")
	}
}

func TestEmbeddedLifecycle(t *testing.T) {
	e, err := StartEmbedded(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	dir := e.dir
	res, _ := mustRun(t, RunConfig{Mode: ModeE2E, Target: e, Rate: 1000, Duration: 500 * time.Millisecond, Topic: TopicConfig{Partitions: 2}})
	if res.Consume.Consumed != 500 || !validButForLoad(res) {
		t.Errorf("consumed %d valid %v %q, want 500 and valid", res.Consume.Consumed, res.Valid, res.Invalid)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary data dir %s still there after Close: %v", dir, err)
	}
	// A given data dir is kept, and a second broker recovers the topic from it.
	keep := t.TempDir()
	e, err = StartEmbedded(context.Background(), keep)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, RunConfig{Mode: ModeProduce, Target: e, NumRecords: 300, Duration: 10 * time.Second, Topic: TopicConfig{Name: "kept"}})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2, err := StartEmbedded(context.Background(), keep)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	res, _ = mustRun(t, RunConfig{Mode: ModeConsume, Target: e2, Duration: 10 * time.Second, Topic: TopicConfig{Name: "kept"}})
	if res.Consume.Consumed != 300 {
		t.Errorf("consumed %d records from the kept data dir, want 300", res.Consume.Consumed)
	}
}
