package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/kbench/kbench/broker/records"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Index entry sizes on disk.
const (
	indexEntryLen     = 8  // uint32 relative offset, uint32 position
	timeIndexEntryLen = 12 // int64 timestamp, uint32 relative offset
)

// indexEntry points at the start of a batch: rel is the batch's baseOffset minus the
// segment's base offset.
type indexEntry struct{ rel, pos uint32 }

// timeEntry says every batch up to the one based at rel has maxTimestamp <= ts, and the batch
// at rel has exactly ts.
type timeEntry struct {
	ts  int64
	rel uint32
}

// segment is one <base>.log file with its in-memory indexes. Its mutable fields are written
// by the appender under Log.mu and read by readers under Log.mu.RLock; the appender (holding
// Log.appendMu) may read them without Log.mu since nobody else writes them.
type segment struct {
	base int64
	dir  string
	f    *os.File
	// refs counts the log's own reference plus one per Slice or background job using f; the
	// file is closed when it reaches zero, so a segment deleted under a reader stays readable.
	refs atomic.Int64

	size       int64 // bytes of whole batches
	next       int64 // offset after the last batch; base when empty
	index      []indexEntry
	tindex     []timeEntry
	sinceIndex int   // bytes appended since the last index entry
	maxTs      int64 // largest batch maxTimestamp, -1 when none
	maxTsOff   int64 // baseOffset of the batch holding maxTs
	rollTs     int64 // ms clock time the segment's age counts from; -1 when empty
}

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

func (s *segment) logPath() string   { return filepath.Join(s.dir, segmentName(s.base)+".log") }
func (s *segment) indexPath() string { return filepath.Join(s.dir, segmentName(s.base)+".index") }
func (s *segment) timeIndexPath() string {
	return filepath.Join(s.dir, segmentName(s.base)+".timeindex")
}

func newSegment(dir string, base int64, f *os.File) *segment {
	s := &segment{base: base, dir: dir, f: f, next: base, maxTs: -1, maxTsOff: -1, rollTs: -1}
	s.refs.Store(1)
	return s
}

// createSegment makes a new empty segment file; it must not exist yet.
func createSegment(dir string, base int64) (*segment, error) {
	s := newSegment(dir, base, nil)
	f, err := os.OpenFile(s.logPath(), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	s.f = f
	return s, nil
}

func openSegment(dir string, base int64) (*segment, error) {
	s := newSegment(dir, base, nil)
	f, err := os.OpenFile(s.logPath(), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	s.f = f
	return s, nil
}

func (s *segment) ref() { s.refs.Add(1) }

func (s *segment) unref() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

// remove unlinks the segment's files and drops the log's reference; open Slices keep the
// file readable until they are released.
func (s *segment) remove() error {
	err := errors.Join(
		ignoreNotExist(os.Remove(s.logPath())),
		s.removeIndexes(),
	)
	s.unref()
	return err
}

func (s *segment) removeIndexes() error {
	return errors.Join(
		ignoreNotExist(os.Remove(s.indexPath())),
		ignoreNotExist(os.Remove(s.timeIndexPath())),
	)
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// reset forgets everything known about the contents, before a rebuild.
func (s *segment) reset() {
	s.size, s.next, s.sinceIndex = 0, s.base, 0
	s.index, s.tindex = s.index[:0], s.tindex[:0]
	s.maxTs, s.maxTsOff, s.rollTs = -1, -1, -1
}

// track accounts for one batch written at pos. It is the only place indexes grow, used by
// both appends and rebuilds so the two always agree. A batch gets an offset index entry when
// it is the first one or IndexIntervalBytes have passed since the last entry; the time index
// gets the running maximum at the same points, when it grew.
func (s *segment) track(base, next, maxTs, pos int64, size, interval int, rollTs int64) {
	indexed := false
	if len(s.index) == 0 || s.sinceIndex >= interval {
		s.index = append(s.index, indexEntry{rel: uint32(base - s.base), pos: uint32(pos)})
		s.sinceIndex = 0
		indexed = true
	}
	s.sinceIndex += size
	if maxTs > s.maxTs {
		s.maxTs, s.maxTsOff = maxTs, base
	}
	if indexed {
		s.appendTimeEntry()
	}
	if s.rollTs < 0 {
		s.rollTs = rollTs
	}
	s.next = next
	s.size = pos + int64(size)
}

// appendTimeEntry records the running maximum timestamp if it grew since the last entry.
func (s *segment) appendTimeEntry() {
	if s.maxTs < 0 || (len(s.tindex) > 0 && s.tindex[len(s.tindex)-1].ts >= s.maxTs) {
		return
	}
	s.tindex = append(s.tindex, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOff - s.base)})
}

// indexFloor returns the position of the last indexed batch with baseOffset <= off.
func (s *segment) indexFloor(off int64) int64 {
	rel := off - s.base
	lo, hi := 0, len(s.index) // first entry with rel > target
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int64(s.index[m].rel) <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return int64(s.index[lo-1].pos)
}

// timeFloor returns a position from which scanning finds the first batch with
// maxTimestamp >= ts: the batch of the last time entry below ts (all earlier batches are
// below ts too), or the segment start.
func (s *segment) timeFloor(ts int64) int64 {
	lo, hi := 0, len(s.tindex) // first entry with ts >= target
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.tindex[m].ts < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return s.indexFloor(s.base + int64(s.tindex[lo-1].rel))
}

// largestTime is what time retention compares: the newest record timestamp, or the file's
// modification time when batches carry no timestamps (as Kafka does).
func (s *segment) largestTime() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	if fi, err := s.f.Stat(); err == nil {
		return fi.ModTime().UnixMilli()
	}
	return math.MaxInt64 // unknown: keep it
}

// readHeader preads the batch header at pos into buf (len >= HeaderLen).
func (s *segment) readHeader(pos int64, buf []byte) (records.Header, error) {
	if _, err := s.f.ReadAt(buf[:records.HeaderLen], pos); err != nil {
		return records.Header{}, fmt.Errorf("read batch header at %d: %w", pos, err)
	}
	return records.ParseHeader(buf)
}

// findBatch returns the position and header of the first batch in the segment whose last
// offset is >= off, scanning headers from the index floor. ok is false when there is none.
func (s *segment) findBatch(off int64, buf []byte) (pos int64, h records.Header, ok bool, err error) {
	for pos = s.indexFloor(off); pos < s.size; pos += int64(h.Size()) {
		if h, err = s.readHeader(pos, buf); err != nil {
			return 0, h, false, err
		}
		if h.LastOffset() >= off {
			return pos, h, true, nil
		}
	}
	return 0, h, false, nil
}

// sealTimeIndex adds the final time index entry so the index alone gives the segment's
// maximum timestamp once it is no longer active (Kafka does the same on roll).
func (s *segment) sealTimeIndex() { s.appendTimeEntry() }

// writeIndexes stores both indexes next to the log, each via a temporary file and rename so
// a crash leaves either the old or the new file, never a mix.
func (s *segment) writeIndexes() error {
	idx := make([]byte, 0, len(s.index)*indexEntryLen)
	for _, e := range s.index {
		idx = binary.BigEndian.AppendUint32(idx, e.rel)
		idx = binary.BigEndian.AppendUint32(idx, e.pos)
	}
	tidx := make([]byte, 0, len(s.tindex)*timeIndexEntryLen)
	for _, e := range s.tindex {
		tidx = binary.BigEndian.AppendUint64(tidx, uint64(e.ts))
		tidx = binary.BigEndian.AppendUint32(tidx, e.rel)
	}
	return errors.Join(
		atomicfile.Write(s.indexPath(), idx, false),
		atomicfile.Write(s.timeIndexPath(), tidx, false),
	)
}

var errInconsistent = errors.New("index inconsistent with log")

// loadIndexes reads both index files of a sealed segment and checks them against the log
// without reading record bodies: entry order and bounds, the indexed batch headers, and the
// batch headers after the last index entry (which also yields the segment's next offset).
// Any failure means the caller must rebuild by scanning.
func (s *segment) loadIndexes(fileSize int64) error {
	s.reset()
	idx, err := os.ReadFile(s.indexPath())
	if err != nil {
		return err
	}
	tidx, err := os.ReadFile(s.timeIndexPath())
	if err != nil {
		return err
	}
	if len(idx)%indexEntryLen != 0 || len(tidx)%timeIndexEntryLen != 0 {
		return fmt.Errorf("index sizes %d/%d: %w", len(idx), len(tidx), errInconsistent)
	}
	if fileSize == 0 {
		if len(idx) != 0 || len(tidx) != 0 {
			return fmt.Errorf("entries for an empty log: %w", errInconsistent)
		}
		return nil
	}
	if len(idx) == 0 {
		return fmt.Errorf("no index entry for a non-empty log: %w", errInconsistent)
	}
	for i := 0; i < len(idx); i += indexEntryLen {
		e := indexEntry{rel: binary.BigEndian.Uint32(idx[i:]), pos: binary.BigEndian.Uint32(idx[i+4:])}
		if i == 0 && e != (indexEntry{}) {
			return fmt.Errorf("first index entry %+v: %w", e, errInconsistent)
		}
		if i > 0 {
			prev := s.index[len(s.index)-1]
			if e.rel <= prev.rel || e.pos <= prev.pos {
				return fmt.Errorf("index entries out of order: %w", errInconsistent)
			}
		}
		if int64(e.pos) >= fileSize {
			return fmt.Errorf("index position %d beyond log size %d: %w", e.pos, fileSize, errInconsistent)
		}
		s.index = append(s.index, e)
	}
	// Walk the headers from the last index entry to the end of the file.
	buf := make([]byte, records.HeaderLen)
	last := s.index[len(s.index)-1]
	expect := s.base + int64(last.rel)
	pos := int64(last.pos)
	for pos < fileSize {
		h, err := s.readHeader(pos, buf)
		if err != nil {
			return fmt.Errorf("%w: %w", errInconsistent, err)
		}
		if h.BaseOffset < expect || (pos == int64(last.pos) && h.BaseOffset != expect) ||
			h.LastOffsetDelta < 0 || pos+int64(h.Size()) > fileSize {
			return fmt.Errorf("batch at %d does not follow the index: %w", pos, errInconsistent)
		}
		expect = h.NextOffset()
		pos += int64(h.Size())
	}
	s.size, s.next = fileSize, expect
	for i := 0; i < len(tidx); i += timeIndexEntryLen {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tidx[i:])), rel: binary.BigEndian.Uint32(tidx[i+8:])}
		if len(s.tindex) > 0 {
			prev := s.tindex[len(s.tindex)-1]
			if e.ts <= prev.ts || e.rel < prev.rel {
				return fmt.Errorf("time index entries out of order: %w", errInconsistent)
			}
		}
		if e.ts < 0 || s.base+int64(e.rel) >= s.next {
			return fmt.Errorf("time index entry %+v out of range: %w", e, errInconsistent)
		}
		s.tindex = append(s.tindex, e)
	}
	if n := len(s.tindex); n > 0 {
		// The sealing entry must name a real batch with exactly that timestamp.
		e := s.tindex[n-1]
		off := s.base + int64(e.rel)
		_, h, ok, err := s.findBatch(off, buf)
		if err != nil || !ok || h.BaseOffset != off || h.MaxTimestamp != e.ts {
			return fmt.Errorf("last time index entry %+v does not match its batch: %w", e, errInconsistent)
		}
		s.maxTs, s.maxTsOff = e.ts, off
	}
	s.sinceIndex = int(fileSize - int64(last.pos))
	return nil
}

// rebuild scans the log from the start up to limit, reading it sequentially, and rebuilds
// the indexes from the batches it finds. It stops at the first batch that is incomplete, not
// a v2 batch, out of offset order, or (when verify is set) fails its CRC, and returns that
// position: everything before it is good, everything after must be truncated.
func (s *segment) rebuild(limit int64, verify bool, interval int, nowMs int64) (int64, error) {
	s.reset()
	buf := make([]byte, 1<<20)
	var (
		pos    int64 // file position of buf[0]
		n      int   // bytes held in buf
		expect = s.base
		bad    bool
	)
	for {
		if want := min(int64(len(buf)-n), limit-pos-int64(n)); want > 0 {
			m, err := s.f.ReadAt(buf[n:n+int(want)], pos+int64(n))
			n += m
			if err != nil && !errors.Is(err, io.EOF) {
				return pos, fmt.Errorf("read segment %d: %w", s.base, err)
			}
			if m == 0 {
				return pos, nil // the file ends before limit
			}
		}
		at := pos
		consumed, err := records.Iterate(buf[:n], func(h records.Header, b []byte) bool {
			if h.BaseOffset < expect || h.LastOffsetDelta < 0 || h.LastOffset()-s.base > math.MaxInt32 ||
				(verify && !records.VerifyCRC(b)) {
				bad = true
				return false
			}
			rollTs := nowMs
			if h.MaxTimestamp >= 0 && h.MaxTimestamp < nowMs {
				rollTs = h.MaxTimestamp
			}
			s.track(h.BaseOffset, h.NextOffset(), h.MaxTimestamp, at, len(b), interval, rollTs)
			at += int64(len(b))
			expect = h.NextOffset()
			return true
		})
		pos += int64(consumed)
		if err != nil || bad {
			return pos, nil
		}
		rest := n - consumed
		if pos+int64(rest) >= limit {
			return pos, nil // what is left is a torn batch
		}
		copy(buf, buf[consumed:n])
		n = rest
		if n >= 12 {
			// A batch bigger than the buffer needs a bigger buffer, unless its length is
			// garbage pointing past the end.
			size := 12 + int64(int32(binary.BigEndian.Uint32(buf[8:])))
			if pos+size > limit {
				return pos, nil
			}
			if size > int64(len(buf)) {
				nb := make([]byte, size)
				copy(nb, buf[:n])
				buf = nb
			}
		}
	}
}

// syncPath fsyncs an existing file by name; a file removed meanwhile is not an error.
func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return ignoreNotExist(err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
