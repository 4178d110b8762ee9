package storage

import (
	"errors"
	"fmt"
	"os"

	"github.com/kbench/kbench/broker/records"

	"github.com/kbench/kbench/internal/atomicfile"
)

// The log cleaner of cleanup.policy=compact: sealed segments are rewritten
// keeping, for every key, only the record at the key's latest offset in the
// whole log, and dropping tombstones (null values) whose batch is older than
// delete.retention.ms. Offsets never change: a batch keeps its base offset
// and last offset delta even when records inside it go (as Kafka's cleaner
// does), and a batch left empty is dropped, leaving a gap that readers step
// over. The active segment is never touched.
//
// Compressed batches, control batches (transaction markers) and records
// without a key are kept whole: the cleaner never decompresses. It may keep
// more than the latest value per key, never less.

// CompactStats says what one cleaning pass did.
type CompactStats struct {
	Segments       int   // segments rewritten
	BytesBefore    int64 // their size before
	BytesAfter     int64 // and after
	RecordsRemoved int
}

// Compact cleans the sealed segments written since the last pass (after a
// restart, all of them once). nowMs and deleteRetentionMs decide which
// tombstones go.
func (l *Log) Compact(nowMs, deleteRetentionMs int64) (CompactStats, error) {
	var st CompactStats
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return st, ErrClosed
	}
	if len(l.segs) < 2 || l.active().base <= l.cleanedTo {
		return st, nil
	}
	latest := map[string]int64{}
	for _, seg := range l.segs {
		err := seg.eachBatch(func(h records.Header, batch []byte) error {
			if h.Control() {
				return nil
			}
			err := records.EachRecord(batch, func(r records.Record) bool {
				if r.Key != nil {
					latest[string(r.Key)] = h.BaseOffset + int64(r.OffsetDelta)
				}
				return true
			})
			if errors.Is(err, records.ErrCompressed) {
				return nil
			}
			return err
		})
		if err != nil {
			return st, err
		}
	}
	for i, seg := range l.segs[:len(l.segs)-1] {
		var out []byte
		removed := 0
		err := seg.eachBatch(func(h records.Header, batch []byte) error {
			if h.Control() {
				out = append(out, batch...)
				return nil
			}
			var keep []records.Record
			n := 0
			expired := h.MaxTimestamp < nowMs-deleteRetentionMs
			err := records.EachRecord(batch, func(r records.Record) bool {
				n++
				if r.Key == nil || (latest[string(r.Key)] == h.BaseOffset+int64(r.OffsetDelta) && (r.Value != nil || !expired)) {
					keep = append(keep, r)
				}
				return true
			})
			switch {
			case errors.Is(err, records.ErrCompressed):
				out = append(out, batch...)
				return nil
			case err != nil:
				return err
			case len(keep) == n:
				out = append(out, batch...)
			case len(keep) > 0:
				out = records.RebuildBatch(out, batch, keep)
			}
			removed += n - len(keep)
			return nil
		})
		if err != nil {
			return st, err
		}
		if removed == 0 {
			continue
		}
		if err := l.replaceSegment(i, out, nowMs); err != nil {
			return st, err
		}
		st.Segments++
		st.BytesBefore += seg.size
		st.BytesAfter += int64(len(out))
		st.RecordsRemoved += removed
	}
	l.cleanedTo = l.active().base
	return st, nil
}

// eachBatch reads the segment's batches in order. Caller holds appendMu
// (the segment's size is stable).
func (s *segment) eachBatch(fn func(h records.Header, batch []byte) error) error {
	var hdr [records.HeaderLen]byte
	for pos := int64(0); pos < s.size; {
		h, err := s.readHeader(pos, hdr[:])
		if err != nil {
			return err
		}
		batch := make([]byte, h.Size())
		if _, err := s.f.ReadAt(batch, pos); err != nil {
			return fmt.Errorf("read batch at %d of segment %d: %w", pos, s.base, err)
		}
		if err := fn(h, batch); err != nil {
			return fmt.Errorf("segment %d at %d: %w", s.base, pos, err)
		}
		pos += int64(len(batch))
	}
	return nil
}

// replaceSegment swaps sealed segment i for one holding data: written and
// fsynced under a temporary name, renamed over the old file, indexed. Open
// Slices keep reading the old file until they are released. Caller holds
// appendMu.
func (l *Log) replaceSegment(i int, data []byte, nowMs int64) error {
	old := l.segs[i]
	tmp := old.logPath() + ".cleaned.tmp" // Open removes *.tmp left by a crash
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("clean segment %d: %w", old.base, err)
	}
	ns := newSegment(l.dir, old.base, f)
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("clean segment %d: %w", old.base, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if _, err := ns.rebuild(int64(len(data)), false, l.cfg.IndexIntervalBytes, nowMs); err != nil {
		return fail(err)
	}
	ns.sealTimeIndex()
	if err := os.Rename(tmp, old.logPath()); err != nil {
		return fail(err)
	}
	l.mu.Lock()
	l.segs[i] = ns
	l.mu.Unlock()
	old.unref() // its name now belongs to ns: only the reference goes
	return errors.Join(ns.writeIndexes(), atomicfile.SyncDir(l.dir))
}
