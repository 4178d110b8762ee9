package broker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/controller"
	"github.com/kbench/kbench/broker/records/recordstest"
	"github.com/kbench/kbench/broker/wire"
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

// replPair is a 2-broker cluster with a 1-partition, RF 2 topic holding 5
// records on both replicas. The follower's own fetcher no longer fetches
// the partition; the test drives fetch rounds by hand with f.
type replPair struct {
	tc               *testCluster
	leader, follower *Broker
	lp, fp           *partition
	f                *fetcher
	cl               *kgo.Client // acks=1 producer to the topic
}

func newReplPair(t *testing.T, topic string) *replPair {
	t.Helper()
	tc := startCluster(t, 2)
	ctx := testCtx(t, 30*time.Second)
	cl := tc.client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 2, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	tc.waitISR(topic, []int32{1, 2}, 10*time.Second)
	rp := &replPair{tc: tc, cl: cl}
	leader := tc.leaderOf(topic, 0)
	for id, b := range tc.brokers {
		if id == leader {
			rp.leader = b
		} else {
			rp.follower = b
		}
	}
	rp.lp, rp.fp = rp.leader.topics.partition(topic, 0), rp.follower.topics.partition(topic, 0)
	rp.produce(t, 5)
	waitFor(t, "follower caught up", func() bool {
		return rp.fp.log.EndOffset() == 5 && rp.fp.hw.Load() == 5 && rp.lp.hw.Load() == 5
	})
	rp.follower.fetchers.remove(rp.fp)
	// The follower's own in-flight long poll ends within its max wait.
	waitFor(t, "follower's own fetch to end", func() bool { return rp.lp.waiterCount() == 0 })
	rp.f = &fetcher{leader: leader, parts: map[*partition]bool{rp.fp: false},
		cl: &wire.Client{Addr: rp.leader.Addr(), ClientID: "kbench-replica", ReuseResponseBuffer: true}}
	t.Cleanup(rp.f.cl.Close)
	return rp
}

func (rp *replPair) produce(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := rp.cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func (p *partition) waiterCount() int {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	return len(p.waiters)
}

// TestStaleReplicaFetchResponseDropped: a replica fetch is parked on the
// leader when the follower's partition state changes; the response that
// then arrives (with new records and the old leader's HW) must not be
// applied.
func TestStaleReplicaFetchResponseDropped(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(rp *replPair)
	}{
		{"follower elected leader", func(rp *replPair) {
			self := rp.follower.cfg.NodeID
			rp.fp.becomeLeader(self, rp.fp.epoch.Load()+1, 5, []int32{1, 2}, []int32{self})
		}},
		{"partition removed from the fetcher", func(rp *replPair) {
			rp.follower.fetchers.mu.Lock() // as fetchers.remove does
			rp.f.mu.Lock()
			delete(rp.f.parts, rp.fp)
			rp.f.mu.Unlock()
			rp.follower.fetchers.mu.Unlock()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rp := newReplPair(t, "stale")
			done := make(chan error, 1)
			go func() {
				_, err := rp.follower.fetchers.fetchOnce(rp.f)
				done <- err
			}()
			waitFor(t, "the replica fetch to park on the leader", func() bool { return rp.lp.waiterCount() == 1 })
			tt.change(rp)
			hwBefore := rp.fp.hw.Load()
			rp.produce(t, 3) // wakes the parked fetch with 3 new records
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if end := rp.fp.log.EndOffset(); end != 5 {
				t.Errorf("follower log end: got %d, want 5 (a stale response was appended)", end)
			}
			if hw := rp.fp.hw.Load(); hw != hwBefore {
				t.Errorf("follower HW: got %d, want %d (a stale response set it)", hw, hwBefore)
			}
		})
	}
}

// TestFollowerAheadTruncatesToLeaderEnd: a follower whose log extends past
// the leader's end gets OFFSET_OUT_OF_RANGE; it must truncate to the
// leader's end offset, not empty its log.
func TestFollowerAheadTruncatesToLeaderEnd(t *testing.T) {
	rp := newReplPair(t, "ahead")
	extra := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(3, 10), BaseOffset: 5})
	if err := rp.fp.log.AppendAsFollower(extra); err != nil {
		t.Fatal(err)
	}
	if end := rp.fp.log.EndOffset(); end != 8 {
		t.Fatalf("follower log end %d after the extra batch, want 8", end)
	}
	if _, err := rp.follower.fetchers.fetchOnce(rp.f); err != nil {
		t.Fatal(err)
	}
	if start, end := rp.fp.log.StartOffset(), rp.fp.log.EndOffset(); start != 0 || end != 5 {
		t.Fatalf("follower log [%d, %d) after OFFSET_OUT_OF_RANGE, want [0, 5) (truncated to the leader's end, not emptied)", start, end)
	}
}

// TestLeaderIgnoresOutOfRangeFollowerOffset: a follower fetch at an offset
// past the leader's log end is answered OFFSET_OUT_OF_RANGE and must not
// count as the follower's position (it would raise the HW over records the
// follower does not have).
func TestLeaderIgnoresOutOfRangeFollowerOffset(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "oor", 1)
	p := b.topics.partition("oor", 0)
	self := b.cfg.NodeID
	p.becomeLeader(self, 1, 1, []int32{self, self + 1}, []int32{self, self + 1})
	cl := newClient(t, b, kgo.DefaultProduceTopic("oor"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	for i := 0; i < 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes = 12, self+1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "oor"
	frp := kmsg.NewFetchRequestTopicPartition()
	frp.FetchOffset, frp.CurrentLeaderEpoch, frp.PartitionMaxBytes = 103, 1, 1<<20
	rt.Partitions = append(rt.Partitions, frp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch at 103 of a 3-record log: got error %d, want OFFSET_OUT_OF_RANGE", code)
	}
	if hw := p.hw.Load(); hw != 0 {
		t.Fatalf("leader HW %d after an out-of-range follower fetch, want 0 (the follower has nothing)", hw)
	}
}

// TestTruncationFollowsLeaderEpoch: a follower truncates by the leader's
// answer to OffsetForLeaderEpoch as KIP-279 says. The follower here wrote
// epoch 1 at offsets 0-9 and epoch 3 at 10-14; its HW is 8.
func TestTruncationFollowsLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	self := b.cfg.NodeID
	for i, tt := range []struct {
		name        string
		leaderEpoch int32
		leaderEnd   int64
		wantEnd     int64
		wantDone    bool
	}{
		{"leader has our latest epoch, shorter", 3, 12, 12, true},
		{"leader has our latest epoch, longer", 3, 20, 15, true},
		// The leader's epoch 1 ran to 12: its 10 and 11 are epoch 1, ours
		// epoch 3, so only 0-9 are common.
		{"leader's epoch is older and ours ends earlier", 1, 12, 10, true},
		// We never saw epoch 2: cut to where our epoch before it (1) ends
		// and ask again.
		{"leader's epoch unknown to us", 2, 13, 10, false},
		{"leader's epoch older than all of ours", 0, 5, 0, true},
		// The leader knows no epoch <= 3: keep what was committed.
		{"leader knows none of our epochs", -1, -1, 8, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topic := "trunc" + string(rune('a'+i))
			createTopic(ctx, t, b, topic, 1)
			p := b.topics.partition(topic, 0)
			p.becomeFollower(self, self+1, 4, 1, []int32{self, self + 1}, []int32{self, self + 1})
			for off := int64(0); off < 15; off++ { // one record per batch: any offset can be cut
				epoch := int32(1)
				if off >= 10 {
					epoch = 3
				}
				batch := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(1, 10), BaseOffset: off, PartitionLeaderEpoch: epoch})
				if err := p.log.AppendAsFollower(batch); err != nil {
					t.Fatal(err)
				}
			}
			p.hw.Store(8)
			done, err := p.truncateTo(p.epoch.Load(), tt.leaderEpoch, tt.leaderEnd)
			if err != nil {
				t.Fatal(err)
			}
			if end := p.log.EndOffset(); end != tt.wantEnd || done != tt.wantDone {
				t.Fatalf("leader answered epoch %d end %d: got log end %d done %v, want %d %v",
					tt.leaderEpoch, tt.leaderEnd, end, done, tt.wantEnd, tt.wantDone)
			}
		})
	}
}

// TestNewLeaderAnswersEpochEndBeforeAppending: a leader elected at a new
// epoch records where it starts at once, so a follower asking for an epoch
// the leader never wrote (one it led itself) learns where the leader's
// older epoch ended, rather than "unknown".
func TestNewLeaderAnswersEpochEndBeforeAppending(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "elect", 1)
	cl := newClient(t, b, kgo.DefaultProduceTopic("elect"))
	for i := 0; i < 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p := b.topics.partition("elect", 0)
	self := b.cfg.NodeID
	p.becomeLeader(self, 5, 1, []int32{self, self + 1}, []int32{self, self + 1})
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version, req.ReplicaID = 3, self+1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "elect"
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.LeaderEpoch = 5, 3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 || sp.LeaderEpoch != 0 || sp.EndOffset != 3 {
		t.Fatalf("OffsetForLeaderEpoch(3) from a leader at epoch 5 whose log holds epoch 0 at 0-2: got error %d epoch %d end %d, want 0 0 3",
			sp.ErrorCode, sp.LeaderEpoch, sp.EndOffset)
	}
}

// crashAll crashes every broker and the controller, as when the process
// supervising an embedded cluster is killed.
func (tc *testCluster) crashAll() {
	tc.ctrl.Close() // first: it must not see the brokers go one by one
	for id := range tc.brokers {
		tc.crash(id)
	}
}

// restartController starts the controller again on its directory and
// address.
func (tc *testCluster) restartController() {
	tc.t.Helper()
	ctrl, err := controller.Start(context.Background(), tc.ctrlCfg)
	if err != nil {
		tc.t.Fatalf("restart controller: %v", err)
	}
	tc.ctrl = ctrl
}

// TestControllerRestartFencesMissingBroker: after the whole cluster
// restarts without broker 3, the partition broker 3 led must move to an
// in-sync replica once broker 3's session times out, not stay led by a
// broker that never returns.
func TestControllerRestartFencesMissingBroker(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, nil, "gone"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	cl.Close()
	tc.waitISR("gone", []int32{1, 2, 3}, 10*time.Second)
	tc.crashAll()
	tc.restartController()
	tc.start(1)
	tc.start(2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var leaders []int32
		ok := true
		for p := 0; p < 3; p++ {
			l := tc.leaderOf("gone", p)
			leaders = append(leaders, l)
			ok = ok && (l == 1 || l == 2)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a cluster restart without broker 3 (session timeout 1 s): leaders %v, want every partition led by 1 or 2", leaders)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range tc.ctrl.Snapshot().Brokers {
		if b.ID == 3 && !b.Fenced {
			t.Fatalf("broker 3 not fenced: %+v", b)
		}
	}
}

// TestWholeClusterRestartKeepsAcked reproduces a whole-cluster crash with a
// lagging replica: RF 3, min.insync.replicas 2, broker 3 down while records
// are acknowledged by 1 and 2; everything crashes and restarts with broker
// 3's replication capped. Broker 3 must not rejoin the ISR before it has
// the acknowledged records, so when 1 and 2 then crash the partition goes
// offline instead of electing 3, and every acknowledged record is readable
// once 1 and 2 return.
func TestWholeClusterRestartKeepsAcked(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 90*time.Second)
	const topic, n = "acked", 2000 // 2 MB: more than one replica fetch (1 MiB)
	cl := tc.client(t, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(20*time.Second), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": strp("2")}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	tc.waitISR(topic, []int32{1, 2, 3}, 10*time.Second)
	tc.crash(3)
	tc.waitISR(topic, []int32{1, 2}, 10*time.Second)
	pad := strings.Repeat("x", 990)
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r%06d%s", i, pad))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil || t.Failed() {
		t.Fatalf("flush: %v", err)
	}
	cl.Close()
	// Both in-sync replicas checkpointed the HW past every acknowledged record.
	for _, id := range []int32{1, 2} {
		waitFor(t, fmt.Sprintf("broker %d's HW checkpoint", id), func() bool {
			hw, err := readHWCheckpoint(tc.cfgs[id].DataDir)
			return err == nil && hw[hwKey{topic, 0}] >= n
		})
	}

	leader := tc.leaderOf(topic, 0)
	other := 3 - leader // the other in-sync replica, 1 or 2
	tc.crashAll()
	tc.restartController()
	tc.start(3)
	tc.brokers[3].SetReplicationBandwidth(32 << 10)
	// The leader comes back first: broker 3's first fetch reaches it
	// before the other in-sync replica reports its position.
	tc.start(leader)
	// Let broker 3 fetch its first MiB from the leader, then let any ISR
	// change that fetch triggered reach the controller.
	waitFor(t, "broker 3 to fetch", func() bool {
		p := tc.brokers[3].topics.partition(topic, 0)
		return p != nil && p.log.EndOffset() > 0
	})
	lp := tc.brokers[leader].topics.partition(topic, 0)
	waitFor(t, "the leader's ISR change to settle", func() bool {
		lp.repMu.Lock()
		defer lp.repMu.Unlock()
		return !lp.rs.alterInFlight
	})
	behind := tc.brokers[3].topics.partition(topic, 0).log.EndOffset()
	isr := tc.ctrl.Snapshot().Topics[topic].Partitions[0].ISR
	t.Logf("after the restart: leader %d, ISR %v, broker 3 at offset %d of %d", leader, isr, behind, lp.log.EndOffset())
	if slices.Contains(isr, 3) && behind < n {
		t.Errorf("broker 3 joined the ISR %v at offset %d of %d acknowledged records", isr, behind, n)
	}
	tc.start(other)

	tc.crash(1)
	tc.crash(2)
	waitFor(t, "brokers 1 and 2 fenced", func() bool {
		for _, b := range tc.ctrl.Snapshot().Brokers {
			if (b.ID == 1 || b.ID == 2) && !b.Fenced {
				return false
			}
		}
		return true
	})
	t.Logf("with 1 and 2 down: leader %d", tc.leaderOf(topic, 0))
	tc.start(1)
	tc.start(2)
	got := countValues(t, tc.cfgs[1].Listen, topic, false, n)
	missing := 0
	for i := 0; i < n; i++ {
		if got[fmt.Sprintf("r%06d%s", i, pad)] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged records lost after the restart", missing, n)
	}
}

// TestReplicaFetchFencedByLeaderEpoch: a replica fetch whose current leader
// epoch is older than the leader's gets FENCED_LEADER_EPOCH, a newer one
// UNKNOWN_LEADER_EPOCH (KIP-320), and neither counts as the follower's
// position.
func TestReplicaFetchFencedByLeaderEpoch(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "fence", 1)
	p := b.topics.partition("fence", 0)
	self := b.cfg.NodeID
	p.becomeLeader(self, 5, 1, []int32{self, self + 1}, []int32{self, self + 1})
	cl := newClient(t, b, kgo.DefaultProduceTopic("fence"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	for i := 0; i < 3; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		epoch int32
		want  int16
	}{{4, kerr.FencedLeaderEpoch.Code}, {6, kerr.UnknownLeaderEpoch.Code}} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes = 12, self+1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "fence"
		frp := kmsg.NewFetchRequestTopicPartition()
		frp.FetchOffset, frp.CurrentLeaderEpoch, frp.PartitionMaxBytes = 3, tt.epoch, 1<<20
		rt.Partitions = append(rt.Partitions, frp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != tt.want {
			t.Errorf("replica fetch at epoch %d from a leader at epoch 5: got error %d, want %d", tt.epoch, code, tt.want)
		}
	}
	if hw := p.hw.Load(); hw != 0 {
		t.Fatalf("leader HW %d after fenced follower fetches at offset 3, want 0", hw)
	}
}

// TestReplicaFetchBacksOffWhenEveryPartitionFails: while leadership moves,
// the leader answers every partition of a follower's fetch (or of its
// truncation request) with UNKNOWN_LEADER_EPOCH; the fetcher must wait
// replica.fetch.backoff.ms before asking again instead of spinning, and
// must not wait once a partition succeeds.
func TestReplicaFetchBacksOffWhenEveryPartitionFails(t *testing.T) {
	rp := newReplPair(t, "backoff")
	fs := &rp.follower.fetchers
	want := rp.follower.cfg.ReplicaFetchBackoff
	if want <= 0 {
		t.Fatalf("replica fetch backoff %s, want a default above 0", want)
	}
	if d := fs.round(rp.f); d != 0 {
		t.Fatalf("healthy fetch: waits %s before the next, want 0", d)
	}
	epoch := rp.fp.epoch.Load()
	rp.fp.epoch.Store(epoch + 1) // the follower heard of an epoch the leader has not
	if _, err := fs.fetchOnce(rp.f); !errors.Is(err, errEveryPartitionFailed) {
		t.Errorf("fetch with every partition refused: got %v, want %v", err, errEveryPartitionFailed)
	}
	if d := fs.round(rp.f); d != want {
		t.Errorf("fetch with every partition refused: waits %s before the next, want %s", d, want)
	}
	rp.f.needTruncation(rp.fp)
	if d := fs.round(rp.f); d != want {
		t.Errorf("truncation with every partition refused and nothing else to fetch: waits %s, want %s", d, want)
	}
	rp.fp.epoch.Store(epoch)
	if d := fs.round(rp.f); d != 0 {
		t.Errorf("after the epochs agree again: waits %s before the next fetch, want 0", d)
	}
	rp.produce(t, 2)
	waitFor(t, "the follower to fetch again", func() bool {
		fs.round(rp.f)
		return rp.fp.log.EndOffset() == 7
	})
}
