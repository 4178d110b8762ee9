package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

// TestCheckTransactions audits records written in transactions (committed,
// aborted, committed: the log ends in a commit marker) through the audit's
// hooks: read_committed sees exactly the committed records and finishes
// on the trailing marker; read_uncommitted also sees the aborted ones, as
// unacknowledged but present.
func TestCheckTransactions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tg, err := bench.NewExternal(strings.Join(c.ListenAddrs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("audit-test"), kgo.DefaultProduceTopic("txn"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var audits []*Audit
	var hooks []*bench.Hooks
	for _, committed := range []bool{true, false} {
		cfg := bench.RunConfig{Mode: bench.ModeProduce, Target: tg, Topic: bench.TopicConfig{Name: "txn"}}
		a := New(Options{ReadCommitted: committed, ScanTimeout: 5 * time.Second})
		if err := a.Attach(&cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Hooks.OnStart(time.Now())
		audits, hooks = append(audits, a), append(hooks, cfg.Hooks)
	}
	// Both audits tag the same records: each audit's id header goes on.
	var seq uint64
	for i, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for range 10 - 5*(i%2) {
			r := &kgo.Record{Value: []byte("v")}
			for _, h := range hooks {
				h.BeforeProduce(0, seq, r)
			}
			seq++
			recs = append(recs, r)
		}
		results := cl.ProduceSync(ctx, recs...)
		if err := results.FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
		for j, r := range recs {
			var ackErr error
			if !commit {
				ackErr = errors.New("transaction aborted")
			}
			for _, h := range hooks {
				h.OnAck(0, seq-uint64(len(recs)-j), r, ackErr)
			}
		}
	}
	for i, want := range []struct {
		readable, unackedPresent int64
	}{{20, 0}, {25, 5}} {
		rep, err := audits[i].Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(rep.Summary())
		if rep.ReadCommitted != (i == 0) || rep.Sent != 25 || rep.Acknowledged != 20 || rep.Failed != 5 || rep.Lost != 0 ||
			rep.Readable != want.readable || rep.UnackedPresent != want.unackedPresent || rep.Foreign != 0 {
			t.Errorf("read_committed %v: sent %d acknowledged %d failed %d lost %d readable %d unacknowledged present %d foreign %d; want 25, 20, 5, 0, %d, %d, 0",
				rep.ReadCommitted, rep.Sent, rep.Acknowledged, rep.Failed, rep.Lost, rep.Readable, rep.UnackedPresent, rep.Foreign, want.readable, want.unackedPresent)
		}
	}
}
