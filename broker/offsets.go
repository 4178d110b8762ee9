package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kbench/kbench/internal/atomicfile"
)

// offsetStore holds committed offsets in memory and makes them durable in
// DataDir/__consumer_offsets/offsets.log (framing in offsets_file.go). It also
// holds transactional offsets pending until their transaction ends; those are
// logged too, so an open transaction's offsets survive a restart.
//
// Like the partition logs under the default flush policy, writes reach the
// page cache before the request is answered (surviving a process crash) and
// are fsynced only when syncEach is set or on close.
//
// The log is rewritten as a snapshot of the live state when the broker starts
// and whenever it grows past twice its last snapshot plus compactMinBytes.
type offsetStore struct {
	dir  string
	logf func(string, ...any)
	// keep says whether an entry's topic still exists (same id); entries of
	// deleted topics are dropped when the log is compacted.
	keep func(e *offsetEntry) bool

	mu              sync.Mutex
	f               *os.File
	size            int64
	compactAt       int64
	compactMinBytes int64
	syncEach        bool
	seq             uint64
	groups          map[string]map[topicPartition]offsetEntry
	txns            map[int64]map[string]map[topicPartition]offsetEntry // producer id → group → offsets
	buf             []byte
}

type topicPartition struct {
	topic     string
	partition int32
}

var errStoreClosed = errors.New("offsets store closed")

func (s *offsetStore) path() string { return filepath.Join(s.dir, "offsets.log") }

// openOffsetStore recovers the log in dir (truncating a torn tail) and
// compacts it.
func openOffsetStore(dir string, compactMinBytes int64, syncEach bool, keep func(*offsetEntry) bool, logf func(string, ...any)) (*offsetStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create offsets dir: %w", err)
	}
	s := &offsetStore{
		dir: dir, logf: logf, keep: keep, compactMinBytes: compactMinBytes, syncEach: syncEach,
		groups: map[string]map[topicPartition]offsetEntry{},
		txns:   map[int64]map[string]map[topicPartition]offsetEntry{},
	}
	data, err := os.ReadFile(s.path())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read offsets log: %w", err)
	}
	valid, scanErr := scanFrames(data, s.apply)
	if scanErr != nil {
		// Everything before the bad frame stands; the rewrite below drops the rest.
		logf("offsets log %s: %v: truncating %d bytes", s.path(), scanErr, len(data)-valid)
	}
	if err := s.rewrite(); err != nil {
		return nil, err
	}
	return s, nil
}

// apply replays one record into memory.
func (s *offsetStore) apply(rec offsetRecord) {
	for i := range rec.entries {
		s.seq = max(s.seq, rec.entries[i].seq)
	}
	switch rec.kind {
	case kindCommit:
		g := s.groups[rec.group]
		if g == nil {
			g = map[topicPartition]offsetEntry{}
			s.groups[rec.group] = g
		}
		for _, e := range rec.entries {
			g[topicPartition{e.topic, e.partition}] = e
		}
	case kindDeleteOffsets:
		g := s.groups[rec.group]
		for _, e := range rec.entries {
			delete(g, topicPartition{e.topic, e.partition})
		}
		if len(g) == 0 {
			delete(s.groups, rec.group)
		}
	case kindDeleteGroup:
		delete(s.groups, rec.group)
	case kindTxnStage:
		byGroup := s.txns[rec.producerID]
		if byGroup == nil {
			byGroup = map[string]map[topicPartition]offsetEntry{}
			s.txns[rec.producerID] = byGroup
		}
		g := byGroup[rec.group]
		if g == nil {
			g = map[topicPartition]offsetEntry{}
			byGroup[rec.group] = g
		}
		for _, e := range rec.entries {
			g[topicPartition{e.topic, e.partition}] = e
		}
	case kindTxnEnd:
		byGroup := s.txns[rec.producerID]
		delete(s.txns, rec.producerID)
		if !rec.commit {
			return
		}
		for group, offs := range byGroup {
			g := s.groups[group]
			if g == nil {
				g = map[topicPartition]offsetEntry{}
				s.groups[group] = g
			}
			for tp, e := range offs {
				// A plain commit written after the staged one wins, as in Kafka.
				if cur, ok := g[tp]; !ok || cur.seq < e.seq {
					g[tp] = e
				}
			}
		}
	}
}

// write appends records as frames and applies them once they are written.
// Caller holds mu.
func (s *offsetStore) write(recs ...offsetRecord) error {
	if s.f == nil {
		return errStoreClosed
	}
	s.buf = s.buf[:0]
	for i := range recs {
		s.buf = appendFrame(s.buf, &recs[i])
	}
	if _, err := s.f.Write(s.buf); err != nil {
		// Cut a partial frame off so later frames stay readable.
		s.f.Truncate(s.size)
		return fmt.Errorf("append offsets log: %w", err)
	}
	if s.syncEach {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync offsets log: %w", err)
		}
	}
	s.size += int64(len(s.buf))
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	for _, r := range recs {
		s.apply(r)
	}
	if s.size >= s.compactAt {
		if err := s.rewrite(); err != nil {
			// The appended log is still complete; compaction is retried later.
			s.logf("compact offsets log: %v", err)
			s.compactAt = s.size + s.compactMinBytes
		}
	}
	return nil
}

// rewrite replaces the log with a snapshot of the live state (dropping
// entries of deleted topics) and reopens it for appending. Caller holds mu
// (or owns s exclusively).
func (s *offsetStore) rewrite() error {
	var buf []byte
	for _, group := range sortedKeys(s.groups) {
		offs := s.groups[group]
		for tp, e := range offs {
			if !s.keep(&e) {
				delete(offs, tp)
			}
		}
		if len(offs) == 0 {
			delete(s.groups, group)
			continue
		}
		buf = appendFrame(buf, &offsetRecord{kind: kindCommit, group: group, entries: sortedEntries(offs)})
	}
	pids := make([]int64, 0, len(s.txns))
	for pid := range s.txns {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	for _, pid := range pids {
		for _, group := range sortedKeys(s.txns[pid]) {
			buf = appendFrame(buf, &offsetRecord{kind: kindTxnStage, producerID: pid, group: group, entries: sortedEntries(s.txns[pid][group])})
		}
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if err := atomicfile.Write(s.path(), buf, true); err != nil {
		return fmt.Errorf("rewrite offsets log: %w", err)
	}
	f, err := os.OpenFile(s.path(), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open offsets log: %w", err)
	}
	s.f = f
	s.size = int64(len(buf))
	s.compactAt = 2*s.size + s.compactMinBytes
	return nil
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

// stamp gives entries their log-order sequence numbers. Caller holds mu.
func (s *offsetStore) stamp(entries []offsetEntry) {
	for i := range entries {
		s.seq++
		entries[i].seq = s.seq
	}
}

// commit durably sets offsets for group.
func (s *offsetStore) commit(group string, entries []offsetEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp(entries)
	return s.write(offsetRecord{kind: kindCommit, group: group, entries: entries})
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

// deleteOffsets removes some of group's offsets.
func (s *offsetStore) deleteOffsets(group string, tps []topicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := offsetRecord{kind: kindDeleteOffsets, group: group}
	for _, tp := range tps {
		if _, ok := s.groups[group][tp]; ok {
			rec.entries = append(rec.entries, offsetEntry{topic: tp.topic, partition: tp.partition})
		}
	}
	if len(rec.entries) == 0 {
		return nil
	}
	return s.write(rec)
}

// deleteGroup removes all of group's committed offsets.
func (s *offsetStore) deleteGroup(group string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[group]; !ok {
		return nil
	}
	return s.write(offsetRecord{kind: kindDeleteGroup, group: group})
}

// stage holds offsets for producerID's open transaction.
func (s *offsetStore) stage(producerID int64, group string, entries []offsetEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp(entries)
	return s.write(offsetRecord{kind: kindTxnStage, producerID: producerID, group: group, entries: entries})
}

// complete applies (commit) or drops producerID's staged offsets.
func (s *offsetStore) complete(producerID int64, commit bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.txns[producerID]; !ok {
		return nil
	}
	return s.write(offsetRecord{kind: kindTxnEnd, producerID: producerID, commit: commit})
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

// fileSize is the log's current size in bytes.
func (s *offsetStore) fileSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// close fsyncs and closes the log.
func (s *offsetStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}
