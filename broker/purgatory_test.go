package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// TestAcksAllPurgatory drives the acks=all purgatory on one partition whose
// leader (this broker, id 1) has a follower (2) that only "fetches" when
// the test says so: every way a parked request ends, and responses staying
// in request order behind a parked one.
func TestAcksAllPurgatory(t *testing.T) {
	br := startBroker(t)
	if _, err := br.topics.create("purg", 1, map[string]string{"min.insync.replicas": "2"}, false); err != nil {
		t.Fatal(err)
	}
	p := br.topics.partition("purg", 0)
	p.becomeLeader(1, 1, 1, []int32{1, 2}, []int32{1, 2})
	c := dialRaw(t, br)
	produce := func(corr int32, acks int16, timeoutMs int32) {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, acks, timeoutMs
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "purg"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(5, 10)})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		c.send(frame(req, corr))
	}
	read := func(wantCorr int32) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		if corr := c.read(resp, true); corr != wantCorr {
			t.Fatalf("response correlation id %d, want %d", corr, wantCorr)
		}
		return resp.Topics[0].Partitions[0]
	}
	code := func(sp kmsg.ProduceResponseTopicPartition) error { return kerr.ErrorForCode(sp.ErrorCode) }

	// 1. The follower never fetches: the request times out.
	start := time.Now()
	produce(1, -1, 300)
	if sp := read(1); sp.ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("unreplicated acks=all: %v, want REQUEST_TIMED_OUT", code(sp))
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("timed out after %v, before the request's 300 ms", d)
	}

	// 2. A parked request, then an acks=1 request behind it: nothing is
	// answered until the follower catches up, then both in order.
	produce(2, -1, 30000)
	produce(3, 1, 30000)
	time.Sleep(100 * time.Millisecond)
	p.followerFetched(2, p.log.EndOffset(), time.Now())
	if sp := read(2); sp.ErrorCode != 0 || sp.BaseOffset != 5 {
		t.Fatalf("replicated acks=all: %v at offset %d, want success at 5", code(sp), sp.BaseOffset)
	}
	if sp := read(3); sp.ErrorCode != 0 || sp.BaseOffset != 10 {
		t.Fatalf("acks=1 behind it: %v at offset %d, want success at 10", code(sp), sp.BaseOffset)
	}

	// 3. The ISR shrinks below min.insync.replicas while a request waits:
	// the HW moves, but the request gets NOT_ENOUGH_REPLICAS_AFTER_APPEND.
	produce(4, -1, 30000)
	time.Sleep(50 * time.Millisecond)
	p.setISR(2, []int32{1})
	if sp := read(4); sp.ErrorCode != kerr.NotEnoughReplicasAfterAppend.Code {
		t.Fatalf("after the ISR shrank: %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", code(sp))
	}

	// 4. Leadership moves while a request waits: NOT_LEADER_OR_FOLLOWER.
	p.setISR(3, []int32{1, 2})
	produce(5, -1, 30000)
	time.Sleep(50 * time.Millisecond)
	p.stepDown()
	if sp := read(5); sp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("after stepping down: %v, want NOT_LEADER_OR_FOLLOWER", code(sp))
	}
	p.repMu.Lock()
	left := len(p.acks)
	p.repMu.Unlock()
	if left != 0 {
		t.Fatalf("%d slots still parked on the partition", left)
	}
}
