package broker

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// Replication safety under races. Each test provokes one interleaving
// deliberately: it holds a lock, parks a goroutine on it, or drives a fetch
// round by hand, rather than sleeping and hoping.

// waitBlocked waits until some goroutine whose stack contains fn is blocked
// acquiring a mutex.
func waitBlocked(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, fn) && strings.Contains(g, "sync.(*Mutex).Lock") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no goroutine in %s blocked on a mutex", fn)
}

// produceRaw sends one acks=all produce of a 1-record batch and returns the
// partition's error code.
func produceRaw(ctx context.Context, cl *kgo.Client, topic string) (int16, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 3000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(1, 10)})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	return resp.Topics[0].Partitions[0].ErrorCode, nil
}

// TestAcksAllISRShrinkDuringAppend: an acks=all produce that passed the
// min.insync.replicas check must not be acknowledged when the ISR shrank
// below the minimum before its append (Kafka checks under the lock that
// orders appends and ISR changes).
func TestAcksAllISRShrinkDuringAppend(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	cl := newClient(t, b)
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"min.insync.replicas": strp("2")}, "minisr")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	p := b.topics.partition("minisr", 0)
	self := b.cfg.NodeID
	// Pretend to lead with two followers in sync that never fetch: the HW
	// holds until the ISR shrinks.
	p.becomeLeader(self, 1, 1, []int32{self, self + 1, self + 2}, []int32{self, self + 1, self + 2})

	p.appendMu.Lock()
	codeCh := make(chan int16, 1)
	go func() {
		code, err := produceRaw(ctx, cl, "minisr")
		if err != nil {
			t.Errorf("produce: %v", err)
		}
		codeCh <- code
	}()
	waitBlocked(t, "(*Broker).produceTo")
	isrDone := make(chan struct{})
	go func() {
		p.setISR(2, []int32{self})
		close(isrDone)
	}()
	select {
	case <-isrDone:
	case <-time.After(100 * time.Millisecond):
		waitBlocked(t, "(*partition).setISR") // ordered behind the append
	}
	p.appendMu.Unlock()
	<-isrDone
	code := <-codeCh
	if code != kerr.NotEnoughReplicas.Code && code != kerr.NotEnoughReplicasAfterAppend.Code {
		t.Fatalf("acks=all produce with ISR 1 < min.insync.replicas 2: got error code %d (%v), want NOT_ENOUGH_REPLICAS(_AFTER_APPEND)", code, kerr.ErrorForCode(code))
	}
}
