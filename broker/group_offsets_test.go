package broker

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
)

// memJournal is an offsetStore journal kept in memory: the batches a
// coordinator would append to its __consumer_offsets partition.
type memJournal struct{ batches [][]byte }

func (j *memJournal) append(group string, batch []byte) (func() int16, int16) {
	j.batches = append(j.batches, append([]byte(nil), batch...))
	return func() int16 { return 0 }, 0
}

// records replays the journal as a new leader reads the partition; with
// compact it keeps only the latest record per key and drops tombstones, as
// the log cleaner leaves the partition.
func (j *memJournal) records(t *testing.T, compact bool) []records.KV {
	t.Helper()
	var out []records.KV
	for _, b := range j.batches {
		if err := records.EachRecord(b, func(r records.Record) bool {
			out = append(out, records.KV{Key: r.Key, Value: r.Value})
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !compact {
		return out
	}
	last := map[string]int{}
	for i, kv := range out {
		last[string(kv.Key)] = i
	}
	var kept []records.KV
	for i, kv := range out {
		if last[string(kv.Key)] == i && kv.Value != nil {
			kept = append(kept, kv)
		}
	}
	return kept
}

// reload is a new leader's view of the journal.
func (j *memJournal) reload(t *testing.T, compact bool) *offsetStore {
	t.Helper()
	s := newOffsetStore(j.append)
	if bad := s.load(j.records(t, compact), func(string) bool { return true }); bad != 0 {
		t.Fatalf("%d records did not decode", bad)
	}
	return s
}

func entry(topic string, p int32, off int64) offsetEntry {
	return offsetEntry{topic: topic, partition: p, offset: off, leaderEpoch: 3, metadata: "md-" + topic, commitMs: 1700000000000}
}

func wantOffset(t *testing.T, s *offsetStore, group, topic string, p int32, want int64) {
	t.Helper()
	e, ok := s.get(group, topicPartition{topic, p})
	switch {
	case want < 0 && ok:
		t.Fatalf("%s %s-%d: got offset %d, want none", group, topic, p, e.offset)
	case want >= 0 && !ok:
		t.Fatalf("%s %s-%d: no offset, want %d", group, topic, p, want)
	case want >= 0 && e.offset != want:
		t.Fatalf("%s %s-%d: got offset %d, want %d", group, topic, p, e.offset, want)
	}
}

// TestOffsetStoreReload: what a coordinator wrote is what the next leader
// of the partition loads, before and after compaction.
func TestOffsetStoreReload(t *testing.T) {
	j := &memJournal{}
	s := newOffsetStore(j.append)
	for i := int64(0); i < 10; i++ {
		s.commit("g", []offsetEntry{entry("a", 0, i), entry("a", 1, 100+i)}, 1)
	}
	s.deleteOffsets("g", []topicPartition{{"a", 1}}, 1)
	s.commit("h", []offsetEntry{entry("b", 2, 42)}, 1)
	s.deleteGroup("h", 1)
	s.commit("k", []offsetEntry{entry("c", 0, 7)}, 1)
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compact), func(t *testing.T) {
			s := j.reload(t, compact)
			wantOffset(t, s, "g", "a", 0, 9)
			wantOffset(t, s, "g", "a", 1, -1)
			wantOffset(t, s, "h", "b", 2, -1)
			wantOffset(t, s, "k", "c", 0, 7)
			e, _ := s.get("g", topicPartition{"a", 0})
			if e.leaderEpoch != 3 || e.metadata != "md-a" || e.commitMs != 1700000000000 {
				t.Fatalf("entry fields lost: %+v", e)
			}
			if got := s.groupNames(); fmt.Sprint(got) != "[g k]" {
				t.Fatalf("groups %v, want [g k]", got)
			}
		})
	}
	if n := len(j.records(t, true)); n != 2 {
		t.Fatalf("compacted partition holds %d records, want 2 (one per live offset)", n)
	}
}

// TestOffsetStoreUnload: losing a partition drops its groups only.
func TestOffsetStoreUnload(t *testing.T) {
	s := newOffsetStore((&memJournal{}).append)
	s.commit("g", []offsetEntry{entry("a", 0, 1)}, 1)
	s.commit("h", []offsetEntry{entry("a", 0, 2)}, 1)
	s.stage(7, "g", []offsetEntry{entry("a", 1, 5)}, 1)
	s.unload(func(g string) bool { return g == "g" })
	wantOffset(t, s, "g", "a", 0, -1)
	wantOffset(t, s, "h", "a", 0, 2)
	if s.has("g") || len(s.pendingProducers()) != 0 {
		t.Fatalf("unloaded group still has state")
	}
}

func TestOffsetStoreTransactions(t *testing.T) {
	j := &memJournal{}
	s := newOffsetStore(j.append)
	all := func(string) bool { return true }
	s.commit("g", []offsetEntry{entry("a", 0, 1), entry("a", 1, 1)}, 1)
	s.stage(7, "g", []offsetEntry{entry("a", 0, 10), entry("a", 1, 10)}, 1)
	s.stage(8, "g", []offsetEntry{entry("a", 2, 20)}, 1)
	s.stage(9, "g", []offsetEntry{entry("a", 3, 30)}, 1)
	// A plain commit after the staging wins over it, as in Kafka's log order.
	s.commit("g", []offsetEntry{entry("a", 1, 15)}, 1)
	if !s.pending("g", topicPartition{"a", 0}) || !s.pending("g", topicPartition{"a", 3}) {
		t.Fatalf("staged offsets not reported pending")
	}
	wantOffset(t, s, "g", "a", 0, 1) // invisible until commit
	s.complete(8, false, all, 1)

	// Open transactions survive a coordinator change.
	s = j.reload(t, true)
	if got := s.pendingProducers(); len(got) != 2 || got[0] != 7 || got[1] != 9 {
		t.Fatalf("pending producers after reload: %v, want [7 9]", got)
	}
	s.complete(7, true, all, 1)
	wantOffset(t, s, "g", "a", 0, 10)
	wantOffset(t, s, "g", "a", 1, 15)
	wantOffset(t, s, "g", "a", 2, -1)
	if s.pending("g", topicPartition{"a", 0}) {
		t.Fatalf("committed transaction still pending")
	}
	s = j.reload(t, false)
	wantOffset(t, s, "g", "a", 0, 10)
	wantOffset(t, s, "g", "a", 1, 15)
	// Completing only another partition's groups leaves the staged offsets.
	s.complete(9, true, func(string) bool { return false }, 1)
	wantOffset(t, s, "g", "a", 3, -1)
	s.complete(9, true, all, 1)
	wantOffset(t, s, "g", "a", 3, 30)
	n := len(j.batches)
	if _, code := s.complete(12345, true, all, 1); code != 0 || len(j.batches) != n {
		t.Fatalf("completing a producer with nothing staged: code %d, %d new batches", code, len(j.batches)-n)
	}
}

// TestJavaStringHashPlacement: groups map to partitions as Kafka maps them
// (String.hashCode values printed by java 17 for these strings).
func TestJavaStringHashPlacement(t *testing.T) {
	for _, c := range []struct {
		s    string
		hash int32
	}{
		{"", 0},
		{"a", 97},
		{"billing", -109829509},
		{"polygenelubricants", math.MinInt32},
		{"héllo", 103094734},
		{"😀", 1772899}, // a surrogate pair
	} {
		if got := javaStringHash(c.s); got != c.hash {
			t.Errorf("hash(%q) = %d, want %d", c.s, got, c.hash)
		}
	}
	if got := partitionFor("polygenelubricants", 50); got != 0 {
		t.Errorf("Integer.MIN_VALUE hash: partition %d, want 0 (Utils.abs)", got)
	}
	if got := partitionFor("billing", 50); got != 109829509%50 {
		t.Errorf("negative hash: partition %d, want %d", got, 109829509%50)
	}
}

// TestGroupTxnOffsetsAPI drives the API the transaction coordinator uses:
// stageTxnOffsets (TxnOffsetCommit) and completeTxn (EndTxn), across a
// broker restart, with require_stable OffsetFetch answering
// UNSTABLE_OFFSET_COMMIT meanwhile.
func TestGroupTxnOffsetsAPI(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir })
	fastGroups(b)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "tx", 2)
	a, _ := stableTwo(t, b, "txg", false)

	req := func(pid int64, member string, gen int32, offset int64) *kmsg.TxnOffsetCommitRequest {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.Version = 3
		r.TransactionalID, r.Group, r.ProducerID, r.MemberID, r.Generation = "tid", "txg", pid, member, gen
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "tx"
		for p := int32(0); p < 3; p++ { // partition 2 does not exist
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, offset
			rt.Partitions = append(rt.Partitions, rp)
		}
		r.Topics = append(r.Topics, rt)
		return r
	}
	codes := func(ts []kmsg.TxnOffsetCommitResponseTopic) []int16 {
		var cs []int16
		for _, p := range ts[0].Partitions {
			cs = append(cs, p.ErrorCode)
		}
		return cs
	}
	if got := codes(b.groups.stageTxnOffsets(req(5, "ghost", -1, 9))); got[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %v", got)
	}
	if got := codes(b.groups.stageTxnOffsets(req(5, a.id, a.gen-1, 9))); got[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("stale generation: %v", got)
	}
	got := codes(b.groups.stageTxnOffsets(req(5, a.id, a.gen, 9)))
	if got[0] != 0 || got[1] != 0 || got[2] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("stage: codes %v, want [0 0 UNKNOWN_TOPIC_OR_PARTITION]", got)
	}
	if f := b.groups.fetch("txg", topicPartition{"tx", 0}, true); f.code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch of a pending offset: %v", kerr.ErrorForCode(f.code))
	}
	if f := b.groups.fetch("txg", topicPartition{"tx", 0}, false); f.offset != -1 {
		t.Fatalf("pending offset visible before commit: %d", f.offset)
	}
	b.Close()

	b2 := startBroker(t, func(c *Config) { c.DataDir = dir })
	n := int(b2.cfg.OffsetsTopicPartitions)
	k := partitionFor("txg", n)
	for deadline := time.Now().Add(5 * time.Second); b2.coordinatorStatus(offsetsTopic, k) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("offsets partition never loaded after the restart")
		}
	}
	if pids := b2.groups.offsets.pendingProducers(); len(pids) != 1 || pids[0] != 5 {
		t.Fatalf("pending producers after restart: %v, want [5]", pids)
	}
	if code := b2.groups.completeTxn(5, true, k, n); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	for p := int32(0); p < 2; p++ {
		if f := b2.groups.fetch("txg", topicPartition{"tx", p}, true); f.code != 0 || f.offset != 9 {
			t.Fatalf("partition %d after commit: offset %d %v, want 9", p, f.offset, kerr.ErrorForCode(f.code))
		}
	}
	// Groups known only from offsets are listed (Empty) after the restart.
	if d := describeGroup(t, b2, "txg"); d.State != "Empty" {
		t.Fatalf("group after restart: %s, want Empty", d.State)
	}
}

func FuzzDecodeOffsetRecord(f *testing.F) {
	e := entry("a", 1, 2)
	e.seq = 5
	f.Add(commitKey("g", topicPartition{"a", 1}), e.value())
	f.Add(stagedKey(77, "g", topicPartition{"a", 3}), e.value())
	f.Add(commitKey("g", topicPartition{"a", 1}), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		kind, pid, group, e, err := decodeOffsetRecord(key, value)
		if err != nil {
			return
		}
		// Whatever decodes survives a re-encode unchanged.
		k := commitKey(group, topicPartition{e.topic, e.partition})
		if kind == keyStaged {
			k = stagedKey(pid, group, topicPartition{e.topic, e.partition})
		}
		var v []byte
		if value != nil {
			v = e.value()
		}
		kind2, pid2, group2, e2, err := decodeOffsetRecord(k, v)
		if err != nil || kind2 != kind || pid2 != pid || group2 != group || !reflect.DeepEqual(e2, e) {
			t.Fatalf("round trip changed the record (%v): %+v, %+v", err, e, e2)
		}
	})
}

// TestInternalTopicsSingleBroker: a single broker creates its internal
// topics with replication factor 1 on first use, lists them as internal
// and refuses produce requests to them.
func TestInternalTopicsSingleBroker(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	cl := newClient(t, b)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = "g"
	if resp, err := req.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 || resp.NodeID != b.NodeID() {
		t.Fatalf("find coordinator: %v %+v", err, resp)
	}
	md := kmsg.NewPtrMetadataRequest()
	resp, err := md.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mt := range resp.Topics {
		if *mt.Topic == offsetsTopic {
			found = true
			if !mt.IsInternal || len(mt.Partitions) != int(DefaultConfig().OffsetsTopicPartitions) || len(mt.Partitions[0].Replicas) != 1 {
				t.Fatalf("%s metadata: internal %v, %d partitions, replicas %v", offsetsTopic, mt.IsInternal, len(mt.Partitions), mt.Partitions[0].Replicas)
			}
		}
	}
	if !found {
		t.Fatalf("%s not in metadata", offsetsTopic)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: offsetsTopic, Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("produce to %s: %v, want INVALID_TOPIC_EXCEPTION", offsetsTopic, err)
	}
}
