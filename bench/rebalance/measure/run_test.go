package measure

import (
	"context"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/rebalance"
	"github.com/kbench/kbench/broker"
)

// TestSweepRealBroker: real franz-go members against an in-process broker;
// every event converges with the figures each protocol must show. Members
// commit what they polled before giving partitions up and the group has
// committed offsets before the first event, so no record may be skipped.
func TestSweepRealBroker(t *testing.T) {
	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.ConsumerGroupSession, cfg.ConsumerGroupHeartbeat = 6*time.Second, 500*time.Millisecond
	b, err := broker.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var rows []rebalance.Row
	err = Sweep(ctx, rebalance.SweepOptions{
		Bootstrap: []string{b.Addr()}, Sizes: []int{2}, Protocols: rebalance.Protocols, Events: rebalance.Events,
		PartitionsPerMember: 2, RatePerPartition: 50, Session: 6 * time.Second, Heartbeat: 500 * time.Millisecond,
		Settle: time.Second, Timeout: 20 * time.Second, Logf: t.Logf,
	}, func(r rebalance.Row) { rows = append(rows, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("got %d rows, want 9: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if !r.Done {
			t.Errorf("%s %s: not done: %s", r.Protocol, r.Event, r.Error)
			continue
		}
		if r.Skipped != 0 {
			t.Errorf("%s %s: %d records skipped: produced, yet delivered to no member", r.Protocol, r.Event, r.Skipped)
		}
		switch {
		case r.Event == rebalance.Crash && r.RebalanceS < 3:
			t.Errorf("%s crash: rebalanced in %.2fs, before the 6s session could expire", r.Protocol, r.RebalanceS)
		case r.Moved < 1:
			t.Errorf("%s %s: %d partitions moved, want at least 1", r.Protocol, r.Event, r.Moved)
		}
	}
}
