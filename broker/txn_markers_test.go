package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnMarkersReplicatedBeforeComplete: EndTxn succeeds only once the
// commit marker is replicated to the partition's ISR. The followers fetch
// slowly (1 s before each replication fetch); a coordinator that answered
// after a local append (as before) would leave the marker above the high
// watermark, where a leader crash can lose it.
func TestTxnMarkersReplicatedBeforeComplete(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	cl := tc.client(t, kgo.DefaultProduceTopic("mk"), kgo.TransactionalID("mk-txn"),
		kgo.TransactionTimeout(20*time.Second))
	minISR := "2"
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, "mk"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	tc.waitISR("mk", []int32{1, 2, 3}, 10*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	leader := tc.ctrl.Snapshot().Topics["mk"].Partitions[0].Leader
	for id, b := range tc.brokers {
		if id != leader {
			b.SetReplicationDelay(time.Second)
		}
	}
	start := time.Now()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	p := tc.brokers[leader].topics.partition("mk", 0)
	hw, leo := p.hw.Load(), p.log.EndOffset()
	t.Logf("EndTxn took %s; leader %d: high watermark %d, log end %d", time.Since(start).Round(time.Millisecond), leader, hw, leo)
	if hw < leo {
		t.Fatalf("EndTxn succeeded with the marker unreplicated: high watermark %d, log end offset %d", hw, leo)
	}
}
