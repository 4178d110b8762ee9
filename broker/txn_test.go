package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func txnClient(t *testing.T, b *Broker, id string, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, b, append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic("txn"),
		kgo.TransactionTimeout(5 * time.Second)}, opts...)...)
}

func produceTxn(ctx context.Context, t *testing.T, cl *kgo.Client, prefix string, n int, commit bool) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func TestTransactionsCommitAbort(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir })
	ctx := testCtx(t, 60*time.Second)
	cl := txnClient(t, b, "tx-1")
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "txn"); err != nil {
		t.Fatal(err)
	}
	produceTxn(ctx, t, cl, "commit1", 300, true)
	produceTxn(ctx, t, cl, "abort", 200, false)
	produceTxn(ctx, t, cl, "commit2", 300, true)

	check := func(addr string) {
		rc := countValues(t, addr, "txn", true, 600)
		ru := countValues(t, addr, "txn", false, 800)
		for i := 0; i < 300; i++ {
			for _, p := range []string{"commit1", "commit2"} {
				if v := fmt.Sprintf("%s-%d", p, i); rc[v] != 1 || ru[v] != 1 {
					t.Fatalf("%s: read_committed %d times, read_uncommitted %d times, want 1", v, rc[v], ru[v])
				}
			}
		}
		for i := 0; i < 200; i++ {
			v := fmt.Sprintf("abort-%d", i)
			if rc[v] != 0 {
				t.Fatalf("aborted record %s visible to read_committed", v)
			}
			if ru[v] != 1 {
				t.Fatalf("aborted record %s: read_uncommitted saw it %d times, want 1", v, ru[v])
			}
		}
	}
	check(b.Addr())

	// An open transaction holds back the last stable offset.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, b))
	lso, _ := adm.ListCommittedOffsets(ctx, "txn")
	end, _ := adm.ListEndOffsets(ctx, "txn")
	held := false
	lso.Each(func(o kadm.ListedOffset) {
		if e, _ := end.Lookup("txn", o.Partition); o.Offset < e.Offset {
			held = true
		}
	})
	if !held {
		t.Fatalf("open transaction: LSO %v not below end offsets %v", lso, end)
	}

	// Restart with the transaction open: the coordinator's state survives, and
	// the transaction times out into an abort.
	cl.Close()
	b.Close()
	b2 := startBroker(t, func(c *Config) { c.DataDir = dir })
	check(b2.Addr())
	deadline := time.Now().Add(15 * time.Second)
	for {
		rc := countValues(t, b2.Addr(), "txn", true, 600)
		if rc["open"] != 0 {
			t.Fatalf("record of a timed-out transaction visible to read_committed")
		}
		lso, _ := kadm.NewClient(newClient(t, b2)).ListCommittedOffsets(ctx, "txn")
		end, _ := kadm.NewClient(newClient(t, b2)).ListEndOffsets(ctx, "txn")
		stable := true
		lso.Each(func(o kadm.ListedOffset) {
			if e, _ := end.Lookup("txn", o.Partition); o.Offset < e.Offset {
				stable = false
			}
		})
		if stable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open transaction never timed out after restart")
		}
		time.Sleep(500 * time.Millisecond)
	}
	ru := countValues(t, b2.Addr(), "txn", false, 801)
	if ru["open"] != 1 {
		t.Fatalf("read_uncommitted saw the open record %d times", ru["open"])
	}
}

func TestTransactionZombieFenced(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	old := txnClient(t, b, "zombie")
	if _, err := kadm.NewClient(old).CreateTopic(ctx, 1, 1, nil, "txn"); err != nil {
		t.Fatal(err)
	}
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A new instance with the same transactional id fences the old one and
	// aborts its open transaction.
	fresh := txnClient(t, b, "zombie")
	produceTxn(ctx, t, fresh, "fresh", 10, true)

	err := old.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-2")}).FirstErr()
	if err == nil {
		err = old.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie write: got %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	rc := countValues(t, b.Addr(), "txn", true, 10)
	if rc["zombie-1"] != 0 || rc["zombie-2"] != 0 {
		t.Fatalf("zombie records visible to read_committed: %v", rc)
	}
	for i := 0; i < 10; i++ {
		if rc[fmt.Sprintf("fresh-%d", i)] != 1 {
			t.Fatalf("fresh-%d: got %d, want 1", i, rc[fmt.Sprintf("fresh-%d", i)])
		}
	}
}
