package broker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func keepAll(*offsetEntry) bool { return true }

func openStore(t *testing.T, dir string, compactMin int64) *offsetStore {
	t.Helper()
	s, err := openOffsetStore(dir, compactMin, false, keepAll, t.Logf)
	if err != nil {
		t.Fatalf("open offsets store: %v", err)
	}
	t.Cleanup(func() { s.close() })
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

func TestOffsetStoreRecovery(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1<<20)
	for i := int64(0); i < 10; i++ {
		if err := s.commit("g", []offsetEntry{entry("a", 0, i), entry("a", 1, 100+i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.deleteOffsets("g", []topicPartition{{"a", 1}})
	s.commit("h", []offsetEntry{entry("b", 2, 42)})
	s.deleteGroup("h")
	s.commit("k", []offsetEntry{entry("c", 0, 7)})
	s.close()
	path := s.path()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("intact", func(t *testing.T) {
		s := openStore(t, dir, 1<<20)
		wantOffset(t, s, "g", "a", 0, 9)
		wantOffset(t, s, "g", "a", 1, -1)
		wantOffset(t, s, "h", "b", 2, -1)
		wantOffset(t, s, "k", "c", 0, 7)
		e, _ := s.get("g", topicPartition{"a", 0})
		if e.leaderEpoch != 3 || e.metadata != "md-a" || e.commitMs != 1700000000000 {
			t.Fatalf("entry fields lost: %+v", e)
		}
		s.close()
	})

	// Every cut of the last frame loses exactly that commit ("k"), nothing before it.
	lastFrame := len(full) - frameLen(t, full)
	for _, cut := range []int{1, 4, 8, 9, frameLen(t, full) - 1} {
		t.Run(fmt.Sprintf("torn tail -%d bytes", cut), func(t *testing.T) {
			os.WriteFile(path, full[:len(full)-cut], 0o644)
			s := openStore(t, dir, 1<<20)
			wantOffset(t, s, "g", "a", 0, 9)
			wantOffset(t, s, "k", "c", 0, -1)
			if sz := s.fileSize(); sz > int64(lastFrame) {
				t.Fatalf("log is %d bytes after recovery, want the torn frame gone (<= %d)", sz, lastFrame)
			}
			// Appends after recovery are readable on the next open.
			s.commit("k", []offsetEntry{entry("c", 0, 8)})
			s.close()
			s2 := openStore(t, dir, 1<<20)
			wantOffset(t, s2, "k", "c", 0, 8)
			s2.close()
		})
	}

	t.Run("flipped byte", func(t *testing.T) {
		bad := bytes.Clone(full)
		bad[lastFrame+frameHeader+3] ^= 0xff // inside the last payload: CRC must catch it
		os.WriteFile(path, bad, 0o644)
		s := openStore(t, dir, 1<<20)
		wantOffset(t, s, "g", "a", 0, 9)
		wantOffset(t, s, "k", "c", 0, -1)
		s.close()
	})
}

// frameLen is the size of the last frame of a compacted-then-appended log:
// found by scanning.
func frameLen(t *testing.T, data []byte) int {
	t.Helper()
	pos, last := 0, 0
	for pos < len(data) {
		n := int(uint32(data[pos])<<24 | uint32(data[pos+1])<<16 | uint32(data[pos+2])<<8 | uint32(data[pos+3]))
		last = frameHeader + n
		pos += last
	}
	return last
}

func TestOffsetStoreCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 4096)
	var maxSize int64
	for i := int64(0); i < 5000; i++ {
		if err := s.commit("g", []offsetEntry{entry("a", int32(i%4), i)}); err != nil {
			t.Fatal(err)
		}
		maxSize = max(maxSize, s.fileSize())
	}
	// 5000 frames of ~60 bytes would be ~300 KB; live state is 4 entries.
	if maxSize > 16<<10 {
		t.Fatalf("log grew to %d bytes with 4 live offsets; compaction did not run", maxSize)
	}
	s.close()
	s2 := openStore(t, dir, 4096)
	for p := int32(0); p < 4; p++ {
		wantOffset(t, s2, "g", "a", p, int64(4996+p))
	}
}

func TestOffsetStoreTransactions(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1<<20)
	s.commit("g", []offsetEntry{entry("a", 0, 1), entry("a", 1, 1)})
	s.stage(7, "g", []offsetEntry{entry("a", 0, 10), entry("a", 1, 10)})
	s.stage(8, "g", []offsetEntry{entry("a", 2, 20)})
	s.stage(9, "g", []offsetEntry{entry("a", 3, 30)})
	// A plain commit after the staging wins over it, as in Kafka's log order.
	s.commit("g", []offsetEntry{entry("a", 1, 15)})
	if !s.pending("g", topicPartition{"a", 0}) || s.pending("g", topicPartition{"a", 3}) == false {
		t.Fatalf("staged offsets not reported pending")
	}
	wantOffset(t, s, "g", "a", 0, 1) // invisible until commit
	s.complete(8, false)
	s.close()

	// Open transactions survive a restart.
	s = openStore(t, dir, 1<<20)
	if got := s.pendingProducers(); len(got) != 2 || got[0] != 7 || got[1] != 9 {
		t.Fatalf("pending producers after restart: %v, want [7 9]", got)
	}
	s.complete(7, true)
	wantOffset(t, s, "g", "a", 0, 10)
	wantOffset(t, s, "g", "a", 1, 15)
	wantOffset(t, s, "g", "a", 2, -1)
	if s.pending("g", topicPartition{"a", 0}) {
		t.Fatalf("committed transaction still pending")
	}
	s.close()
	s = openStore(t, dir, 1<<20)
	wantOffset(t, s, "g", "a", 0, 10)
	wantOffset(t, s, "g", "a", 1, 15)
	s.complete(9, true)
	wantOffset(t, s, "g", "a", 3, 30)
	if err := s.complete(12345, true); err != nil {
		t.Fatalf("completing a producer with nothing staged: %v", err)
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
	if pids := b2.groups.pendingTxnProducers(); len(pids) != 1 || pids[0] != 5 {
		t.Fatalf("pending producers after restart: %v, want [5]", pids)
	}
	if err := b2.groups.completeTxn(5, true); err != nil {
		t.Fatal(err)
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
	for _, r := range []offsetRecord{
		{kind: kindCommit, group: "g", entries: []offsetEntry{entry("a", 1, 2), entry("b", 0, 9)}},
		{kind: kindDeleteOffsets, group: "g", entries: []offsetEntry{{topic: "a", partition: 1}}},
		{kind: kindDeleteGroup, group: "g"},
		{kind: kindTxnStage, producerID: 77, group: "g", entries: []offsetEntry{entry("a", 3, 4)}},
		{kind: kindTxnEnd, producerID: 77, commit: true},
	} {
		f.Add(r.appendTo(nil))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		rec, err := decodeOffsetRecord(payload)
		if err != nil {
			return
		}
		// Whatever decodes survives a re-encode unchanged.
		again, err := decodeOffsetRecord(rec.appendTo(nil))
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed the record (%v):\n %+v\n %+v", err, rec, again)
		}
	})
}

func TestOffsetsDirLayout(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir })
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, "__consumer_offsets", "offsets.log")); err != nil {
		t.Fatalf("offsets log not in the data dir: %v", err)
	}
}
