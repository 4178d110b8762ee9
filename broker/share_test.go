package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setGroupConfig sets share-group configs through IncrementalAlterConfigs.
func setGroupConfig(t *testing.T, cl *kgo.Client, group string, kv ...string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for i := 0; i < len(kv); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kv[i], kmsg.StringPtr(kv[i+1])
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		t.Fatalf("alter group configs: %v", err)
	}
}

// Two share consumers split a topic's records; each record is delivered
// once when every delivery is accepted.
func TestShareGroupKgoConsumers(t *testing.T) {
	b := startBroker(t)
	admin := newClient(t, b)
	createTopic(testCtx(t, 10*time.Second), t, b, "st", 2)
	setGroupConfig(t, admin, "sg", "share.auto.offset.reset", "earliest")
	const n = 300
	produceN(testCtx(t, 10*time.Second), t, b, "st", n)

	var mu sync.Mutex
	seen := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		cl := newClient(t, b, kgo.ConsumeTopics("st"), kgo.ShareGroup("sg"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				mu.Lock()
				for _, r := range fs.Records() {
					seen[string(r.Value)]++
					if r.DeliveryCount() != 1 {
						t.Errorf("record %s: delivery count %d, want 1", r.Value, r.DeliveryCount())
					}
				}
				done := len(seen) == n
				mu.Unlock()
				if done {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("got %d distinct records, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("record %s delivered %d times, want 1", v, c)
		}
	}
}

// shareRaw drives one share member by hand through a kgo client's Request.
type shareRaw struct {
	t      *testing.T
	cl     *kgo.Client
	group  string
	member string
	epoch  int32 // member epoch
	sess   int32 // share session epoch
	topic  [16]byte
}

func (m *shareRaw) heartbeat(epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
	m.t.Helper()
	req := kmsg.NewPtrShareGroupHeartbeatRequest()
	req.GroupID, req.MemberID, req.MemberEpoch = m.group, m.member, epoch
	if topics != nil {
		req.SubscribedTopicNames = topics
	}
	resp, err := req.RequestWith(context.Background(), m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	if resp.ErrorCode == 0 {
		m.epoch = resp.MemberEpoch
	}
	return resp
}

// fetch sends a ShareFetch for partition 0 with the given acks and returns
// the response; the session epoch counts up on success.
func (m *shareRaw) fetch(maxRecords int32, acks ...kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareFetchResponse {
	m.t.Helper()
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID, req.MemberID, req.ShareSessionEpoch = &m.group, &m.member, m.sess
	req.MaxRecords, req.MaxWaitMillis, req.MaxBytes = maxRecords, 0, 1<<20
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = m.topic
	rp := kmsg.NewShareFetchRequestTopicPartition()
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	if resp.ErrorCode == 0 && m.sess >= 0 {
		m.sess++
	}
	return resp
}

func (m *shareRaw) acknowledge(acks ...kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch) *kmsg.ShareAcknowledgeResponse {
	m.t.Helper()
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.GroupID, req.MemberID, req.ShareSessionEpoch = &m.group, &m.member, m.sess
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = m.topic
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	rp.AcknowledgementBatches = acks
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), m.cl)
	if err != nil {
		m.t.Fatal(err)
	}
	if resp.ErrorCode == 0 && m.sess > 0 {
		m.sess++
	}
	return resp
}

func fetchAck(first, last int64, typ int8) kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch {
	return kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{FirstOffset: first, LastOffset: last, AcknowledgeTypes: []int8{typ}}
}

func ackBatch(first, last int64, typ int8) kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch {
	return kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{FirstOffset: first, LastOffset: last, AcknowledgeTypes: []int8{typ}}
}

// acquired flattens a response's acquired ranges of partition 0 into offset → delivery count.
func acquired(resp *kmsg.ShareFetchResponse) map[int64]int16 {
	out := map[int64]int16{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			for _, a := range p.AcquiredRecords {
				for o := a.FirstOffset; o <= a.LastOffset; o++ {
					out[o] = a.DeliveryCount
				}
			}
		}
	}
	return out
}

func partCodes(resp *kmsg.ShareFetchResponse) (code, ackCode int16) {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			return p.ErrorCode, p.AcknowledgeErrorCode
		}
	}
	return 0, 0
}

func shareSetup(t *testing.T, lock string) (*Broker, *kgo.Client, [16]byte) {
	b := startBroker(t)
	cl := newClient(t, b)
	ctx := testCtx(t, 10*time.Second)
	createTopic(ctx, t, b, "q", 1)
	setGroupConfig(t, cl, "g", "share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", lock, "share.delivery.count.limit", "3")
	produceN(ctx, t, b, "q", 10)
	id, _ := b.topicID("q", 0)
	return b, cl, id
}

// A record whose holder stops acknowledging goes to another member once its
// lock expires, with its delivery count raised; after the delivery limit it
// is archived and the share-partition start offset moves past it.
func TestShareLockExpiryRedelivers(t *testing.T) {
	_, cl, id := shareSetup(t, "1000")
	a := &shareRaw{t: t, cl: cl, group: "g", member: "member-a", topic: id}
	c := &shareRaw{t: t, cl: cl, group: "g", member: "member-c", topic: id}
	a.heartbeat(0, "q")
	c.heartbeat(0, "q")
	got := acquired(a.fetch(10))
	if len(got) != 10 || got[0] != 1 {
		t.Fatalf("first fetch acquired %v, want offsets 0-9 at delivery 1", got)
	}
	if got := acquired(c.fetch(10)); len(got) != 0 {
		t.Fatalf("second member acquired %v while the locks are held", got)
	}
	time.Sleep(1300 * time.Millisecond) // a crashed a: its locks run out
	got = acquired(c.fetch(10))
	if len(got) != 10 || got[9] != 2 {
		t.Fatalf("after the lock expired, c acquired %v, want offsets 0-9 at delivery 2", got)
	}
	// a's late acknowledgement is refused: it no longer holds the records.
	if resp := a.acknowledge(ackBatch(0, 9, ackAccept)); resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRecordState.Code {
		t.Fatalf("late ack: got %v, want INVALID_RECORD_STATE", kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}
	// c releases 0-4: they come straight back at delivery 3, the limit;
	// released again, they are archived.
	got = acquired(c.fetch(10, fetchAck(0, 4, ackRelease)))
	if len(got) != 5 || got[0] != 3 {
		t.Fatalf("third delivery: got %v, want offsets 0-4 at delivery 3", got)
	}
	if got := acquired(c.fetch(10, fetchAck(0, 4, ackRelease))); len(got) != 0 {
		t.Fatalf("records past the delivery limit were delivered again: %v", got)
	}
	c.acknowledge(ackBatch(5, 9, ackAccept))
	if resp := c.acknowledge(ackBatch(5, 9, ackAccept)); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("acknowledging below the start offset: %v", resp)
	}
}

// Errors a client can cause get Kafka's codes.
func TestShareErrorCodes(t *testing.T) {
	b, cl, id := shareSetup(t, "30000")
	m := &shareRaw{t: t, cl: cl, group: "g", member: "m1", topic: id}
	code := func(got int16, want error) {
		t.Helper()
		if err := kerr.ErrorForCode(got); err != want {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
	code(m.heartbeat(0).ErrorCode, kerr.InvalidRequest)       // first heartbeat without a subscription
	code(m.heartbeat(3, "q").ErrorCode, kerr.UnknownMemberID) // never joined
	code(m.heartbeat(0, "q").ErrorCode, nil)
	code(m.heartbeat(m.epoch+5).ErrorCode, kerr.FencedMemberEpoch)
	code(m.heartbeat(-1).ErrorCode, nil)
	code(m.heartbeat(-1).ErrorCode, kerr.UnknownMemberID) // left already
	code(m.heartbeat(0, "q").ErrorCode, nil)

	code(m.acknowledge(ackBatch(0, 0, ackAccept)).ErrorCode, kerr.InvalidShareSessionEpoch) // epoch 0
	m.sess = 4
	code(m.acknowledge(ackBatch(0, 0, ackAccept)).ErrorCode, kerr.ShareSessionNotFound)
	m.sess = 0
	code(m.fetch(5, fetchAck(0, 0, ackAccept)).ErrorCode, kerr.InvalidRequest) // acks on a new session
	if got := acquired(m.fetch(5)); len(got) != 5 {
		t.Fatalf("acquired %v, want 5 records", got)
	}
	m.sess += 3
	code(m.fetch(5).ErrorCode, kerr.InvalidShareSessionEpoch)
	m.sess -= 3
	ackCode := func(resp *kmsg.ShareAcknowledgeResponse) int16 {
		t.Helper()
		if resp.ErrorCode != 0 {
			t.Fatalf("top-level error %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	code(ackCode(m.acknowledge(ackBatch(7, 7, ackAccept))), kerr.InvalidRecordState) // not acquired
	code(ackCode(m.acknowledge(ackBatch(3, 1, ackAccept))), kerr.InvalidRequest)     // last < first
	code(ackCode(m.acknowledge(ackBatch(0, 1, 9))), kerr.InvalidRequest)             // no such type
	code(ackCode(m.acknowledge(ackBatch(0, 4, ackAccept))), nil)
	other := &shareRaw{t: t, cl: cl, group: "g", member: "m2", topic: id}
	got := acquired(other.fetch(2))
	if len(got) != 2 || got[5] != 1 {
		t.Fatalf("m2 acquired %v, want offsets 5-6", got)
	}
	_, ack := partCodes(m.fetch(1, fetchAck(5, 5, ackAccept))) // held by m2
	code(ack, kerr.InvalidRecordState)

	// A classic group's name is not a share group's.
	classic := newClient(t, b, kgo.ConsumerGroup("classic"), kgo.ConsumeTopics("q"))
	go classic.PollFetches(testCtx(t, 5*time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for !b.classicGroupExists("classic") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	x := &shareRaw{t: t, cl: cl, group: "classic", member: "m3", topic: id}
	code(x.heartbeat(0, "q").ErrorCode, kerr.GroupIDNotFound)
}
