package bench

import (
	"context"
	"testing"
	"time"

	"github.com/kbench/kbench/broker"
)

// inProcess is a broker in the test's process. The commands start theirs
// through the target package, which imports this one: the tests here start
// the broker themselves.
type inProcess struct{ *External }

func (inProcess) InProcess() bool { return true }

func startEmbedded(t *testing.T) inProcess {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	b, err := broker.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return inProcess{&External{addrs: []string{b.Addr()}}}
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
