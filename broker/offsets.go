package broker

import (
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kbench/kbench/broker/records"
)

// offsetStore holds the committed offsets of the groups this broker
// coordinates, and transactional offsets pending until their transaction
// ends. Every change is a batch of keyed records appended to the group's
// __consumer_offsets partition (journal) and applied in memory once
// appended; the caller waits for its replication (acks=all) before
// answering. A broker that becomes the partition's leader rebuilds the
// state from those records (load); the partition is compacted, so the
// latest record per key is the state.
//
// Records (our own encoding; the key's first byte says what it is):
//
//	key   1 | group | topic | partition            value: offset entry (null: deleted)
//	key   2 | producer id | group | topic | partition   value: staged offset entry (null: settled)
//
// A transaction's completion is one batch: the committed entries that win
// (a plain commit written after the staged one wins, as in Kafka) and
// tombstones for every staged key.
type offsetStore struct {
	// journal appends a batch to group's partition; code != 0 means it was
	// not appended, else wait reports its replication.
	journal func(group string, batch []byte) (wait func() int16, code int16)

	mu     sync.Mutex
	seq    uint64
	groups map[string]map[topicPartition]offsetEntry
	txns   map[int64]map[string]map[topicPartition]offsetEntry // producer id → group → offsets
	kvs    []records.KV
	buf    []byte
}

type topicPartition struct {
	topic     string
	partition int32
}

// offsetEntry is one committed (or staged) partition offset.
type offsetEntry struct {
	topic       string
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	// topicID is the topic's id when committed: offsets of a deleted (or
	// deleted and re-created) topic are ignored, as Kafka drops them.
	topicID [16]byte
	// seq orders writes; a transaction's offsets apply at commit only over
	// offsets written before them, like Kafka's log-order rule.
	seq uint64
}

const (
	keyCommit byte = 1
	keyStaged byte = 2
)

func newOffsetStore(journal func(string, []byte) (func() int16, int16)) *offsetStore {
	return &offsetStore{journal: journal, groups: map[string]map[topicPartition]offsetEntry{},
		txns: map[int64]map[string]map[topicPartition]offsetEntry{}}
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func commitKey(group string, tp topicPartition) []byte {
	b := appendStr([]byte{keyCommit}, group)
	b = appendStr(b, tp.topic)
	return binary.BigEndian.AppendUint32(b, uint32(tp.partition))
}

func stagedKey(pid int64, group string, tp topicPartition) []byte {
	b := binary.BigEndian.AppendUint64([]byte{keyStaged}, uint64(pid))
	b = appendStr(b, group)
	b = appendStr(b, tp.topic)
	return binary.BigEndian.AppendUint32(b, uint32(tp.partition))
}

func (e *offsetEntry) value() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(e.offset))
	b = binary.BigEndian.AppendUint32(b, uint32(e.leaderEpoch))
	b = appendStr(b, e.metadata)
	b = binary.BigEndian.AppendUint64(b, uint64(e.commitMs))
	b = append(b, e.topicID[:]...)
	return binary.BigEndian.AppendUint64(b, e.seq)
}

var errBadRecord = errors.New("malformed coordinator record")

// recReader decodes with a sticky error checked once at the end.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err, r.b = errBadRecord, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recReader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err, r.b = errBadRecord, nil
		return ""
	}
	r.b = r.b[k:]
	return string(r.take(int(n)))
}

func (r *recReader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *recReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *recReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// decodeOffsetRecord parses one record of __consumer_offsets.
func decodeOffsetRecord(key, value []byte) (kind byte, pid int64, group string, e offsetEntry, err error) {
	r := recReader{b: key}
	kind = r.u8()
	switch kind {
	case keyCommit:
	case keyStaged:
		pid = int64(r.u64())
	default:
		return 0, 0, "", e, errBadRecord
	}
	group = r.str()
	e.topic = r.str()
	e.partition = int32(r.u32())
	if r.err == nil && len(r.b) != 0 {
		r.err = errBadRecord
	}
	if value != nil && r.err == nil {
		r.b = value
		e.offset = int64(r.u64())
		e.leaderEpoch = int32(r.u32())
		e.metadata = r.str()
		e.commitMs = int64(r.u64())
		copy(e.topicID[:], r.take(16))
		e.seq = r.u64()
		if r.err == nil && len(r.b) != 0 {
			r.err = errBadRecord
		}
	}
	return kind, pid, group, e, r.err
}

// apply replays one record into memory. Caller holds mu.
func (s *offsetStore) apply(key, value []byte) error {
	kind, pid, group, e, err := decodeOffsetRecord(key, value)
	if err != nil {
		return err
	}
	s.seq = max(s.seq, e.seq)
	tp := topicPartition{e.topic, e.partition}
	switch kind {
	case keyCommit:
		g := s.groups[group]
		if value == nil {
			delete(g, tp)
			if len(g) == 0 {
				delete(s.groups, group)
			}
			return nil
		}
		if g == nil {
			g = map[topicPartition]offsetEntry{}
			s.groups[group] = g
		}
		g[tp] = e
	case keyStaged:
		byGroup := s.txns[pid]
		if value == nil {
			delete(byGroup[group], tp)
			if len(byGroup[group]) == 0 {
				delete(byGroup, group)
			}
			if len(byGroup) == 0 {
				delete(s.txns, pid)
			}
			return nil
		}
		if byGroup == nil {
			byGroup = map[string]map[topicPartition]offsetEntry{}
			s.txns[pid] = byGroup
		}
		if byGroup[group] == nil {
			byGroup[group] = map[topicPartition]offsetEntry{}
		}
		byGroup[group][tp] = e
	}
	return nil
}

// write appends s.kvs as one batch to group's partition and applies it.
// Caller holds mu.
func (s *offsetStore) write(group string, nowMs int64) (func() int16, int16) {
	if len(s.kvs) == 0 {
		return func() int16 { return 0 }, 0
	}
	s.buf = records.AppendBatch(s.buf[:0], nowMs, s.kvs)
	wait, code := s.journal(group, s.buf)
	if code == 0 {
		for _, kv := range s.kvs {
			s.apply(kv.Key, kv.Value)
		}
	}
	clear(s.kvs)
	s.kvs = s.kvs[:0]
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return wait, code
}

// stamp gives entries their write-order sequence numbers. Caller holds mu.
func (s *offsetStore) stamp(entries []offsetEntry) {
	for i := range entries {
		s.seq++
		entries[i].seq = s.seq
	}
}

// commit sets offsets for group; the wait reports replication.
func (s *offsetStore) commit(group string, entries []offsetEntry, nowMs int64) (func() int16, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp(entries)
	for i := range entries {
		e := &entries[i]
		s.kvs = append(s.kvs, records.KV{Key: commitKey(group, topicPartition{e.topic, e.partition}), Value: e.value()})
	}
	return s.write(group, nowMs)
}

// stage holds offsets for producerID's open transaction.
func (s *offsetStore) stage(producerID int64, group string, entries []offsetEntry, nowMs int64) (func() int16, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp(entries)
	for i := range entries {
		e := &entries[i]
		s.kvs = append(s.kvs, records.KV{Key: stagedKey(producerID, group, topicPartition{e.topic, e.partition}), Value: e.value()})
	}
	return s.write(group, nowMs)
}

// complete applies (commit) or drops the offsets producerID staged for the
// groups of one partition (inPartition), as one batch.
func (s *offsetStore) complete(producerID int64, commit bool, inPartition func(group string) bool, nowMs int64) (func() int16, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var any string
	for _, group := range sortedKeys(s.txns[producerID]) {
		if !inPartition(group) {
			continue
		}
		any = group
		for _, e := range sortedEntries(s.txns[producerID][group]) {
			tp := topicPartition{e.topic, e.partition}
			if cur, ok := s.groups[group][tp]; commit && (!ok || cur.seq < e.seq) {
				s.kvs = append(s.kvs, records.KV{Key: commitKey(group, tp), Value: e.value()})
			}
			s.kvs = append(s.kvs, records.KV{Key: stagedKey(producerID, group, tp)})
		}
	}
	return s.write(any, nowMs)
}

// deleteOffsets removes some of group's offsets.
func (s *offsetStore) deleteOffsets(group string, tps []topicPartition, nowMs int64) (func() int16, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tp := range tps {
		if _, ok := s.groups[group][tp]; ok {
			s.kvs = append(s.kvs, records.KV{Key: commitKey(group, tp)})
		}
	}
	return s.write(group, nowMs)
}

// deleteGroup removes all of group's committed offsets.
func (s *offsetStore) deleteGroup(group string, nowMs int64) (func() int16, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range sortedEntries(s.groups[group]) {
		s.kvs = append(s.kvs, records.KV{Key: commitKey(group, topicPartition{e.topic, e.partition})})
	}
	return s.write(group, nowMs)
}

// load replaces the state of one partition's groups (inPartition) with
// the partition's records.
func (s *offsetStore) load(recs []records.KV, inPartition func(group string) bool) (bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unloadLocked(inPartition)
	for _, r := range recs {
		if s.apply(r.Key, r.Value) != nil {
			bad++
		}
	}
	return bad
}

// unload drops the state of one partition's groups.
func (s *offsetStore) unload(inPartition func(group string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unloadLocked(inPartition)
}

func (s *offsetStore) unloadLocked(inPartition func(group string) bool) {
	for g := range s.groups {
		if inPartition(g) {
			delete(s.groups, g)
		}
	}
	for pid, byGroup := range s.txns {
		for g := range byGroup {
			if inPartition(g) {
				delete(byGroup, g)
			}
		}
		if len(byGroup) == 0 {
			delete(s.txns, pid)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedEntries(m map[topicPartition]offsetEntry) []offsetEntry {
	es := make([]offsetEntry, 0, len(m))
	for _, e := range m {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool {
		if c := strings.Compare(es[i].topic, es[j].topic); c != 0 {
			return c < 0
		}
		return es[i].partition < es[j].partition
	})
	return es
}

// get returns one committed offset.
func (s *offsetStore) get(group string, tp topicPartition) (offsetEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.groups[group][tp]
	return e, ok
}

// all returns group's committed offsets sorted by topic and partition.
func (s *offsetStore) all(group string) []offsetEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedEntries(s.groups[group])
}

// has reports whether group has committed or pending offsets.
func (s *offsetStore) has(group string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.groups[group]) > 0 {
		return true
	}
	for _, byGroup := range s.txns {
		if len(byGroup[group]) > 0 {
			return true
		}
	}
	return false
}

// pending reports whether a transaction holds an offset for group's tp.
func (s *offsetStore) pending(group string, tp topicPartition) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, byGroup := range s.txns {
		if _, ok := byGroup[group][tp]; ok {
			return true
		}
	}
	return false
}

// groupNames lists groups with committed or pending offsets.
func (s *offsetStore) groupNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]struct{}{}
	for g := range s.groups {
		set[g] = struct{}{}
	}
	for _, byGroup := range s.txns {
		for g := range byGroup {
			set[g] = struct{}{}
		}
	}
	return sortedKeys(set)
}

// pendingProducers lists producer ids with staged offsets.
func (s *offsetStore) pendingProducers() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pids := make([]int64, 0, len(s.txns))
	for pid := range s.txns {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}
