package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupNotCoordinator: in a cluster one broker coordinates a group; the
// others answer NOT_COORDINATOR instead of growing a second copy of the
// group, and a real consumer group finds its way to the coordinator.
func TestGroupNotCoordinator(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 40*time.Second)
	var coord int32 = -1
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := kmsg.NewPtrFindCoordinatorRequest()
		r.Version, r.CoordinatorKey = 3, "cg"
		resp := (&rawMember{t: t, c: dialRaw(t, tc.brokers[2])}).do(r).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode == 0 && tc.brokers[resp.NodeID] != nil {
			coord = resp.NodeID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no coordinator: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	var other *Broker
	for id, b := range tc.brokers {
		if id != coord {
			other = b
			break
		}
	}
	for _, b := range tc.brokers {
		b.groups.configure(func(s *groupSettings) { s.initialDelay = 0 })
	}

	m := newRawMember(t, other, "cg")
	wantCode(t, "join at a non-coordinator", m.do(m.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.NotCoordinator)
	m.id, m.gen = "x", 1
	wantCode(t, "heartbeat at a non-coordinator", m.heartbeat(), kerr.NotCoordinator)
	wantCode(t, "sync at a non-coordinator", m.sync(nil).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "commit at a non-coordinator", m.commit("t", 0, 1), kerr.NotCoordinator)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 7, "cg"
	wantCode(t, "offset fetch at a non-coordinator", m.do(of).(*kmsg.OffsetFetchResponse).ErrorCode, kerr.NotCoordinator)
	if d := describeGroup(t, other, "cg"); d.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("describe at a non-coordinator: %v", kerr.ErrorForCode(d.ErrorCode))
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(other.Addr()), kgo.ConsumerGroup("cg"), kgo.ConsumeTopics("ct"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "ct"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "ct", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for n := 0; n == 0 && ctx.Err() == nil; {
		n = cl.PollFetches(ctx).NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit through the coordinator: %v", err)
	}
	for id, b := range tc.brokers {
		gen := b.groups.generationOf("cg")
		if (id == coord) != (gen > 0) {
			t.Fatalf("broker %d (coordinator %d) has group generation %d", id, coord, gen)
		}
	}
}
