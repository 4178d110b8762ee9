package storage

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/kbench/kbench/broker/records"
)

// Chunk is a byte range of a segment file holding whole batches.
type Chunk struct {
	File     *os.File
	Pos, Len int64
}

// Slice is the answer to Read: file ranges to send, in order. The files stay open (even if
// retention deletes their segments) until Release.
type Slice struct {
	Chunks []Chunk
	Bytes  int64

	segs     []*segment
	released atomic.Bool
	// Inline storage: a read rarely spans more than two segments, so one allocation serves.
	chunkBuf [2]Chunk
	segBuf   [2]*segment
	hdr      [records.HeaderLen]byte
}

// Release lets go of the files. It is safe to call more than once.
func (s *Slice) Release() {
	if s == nil || s.released.Swap(true) {
		return
	}
	for _, seg := range s.segs {
		seg.unref()
	}
	s.segs = nil
}

func (s *Slice) add(seg *segment, pos, n int64) {
	seg.ref()
	s.segs = append(s.segs, seg)
	s.Chunks = append(s.Chunks, Chunk{File: seg.f, Pos: pos, Len: n})
	s.Bytes += n
}

// Read returns the file ranges holding the batches from the one containing offset onward:
// whole batches only, at most maxBytes of them — but always at least one batch when any
// exists, even if larger (Kafka's rule; callers that must not exceed a budget skip the call) —
// and none whose baseOffset is >= maxOffset (the high watermark). Offsets below the log start
// or beyond the log end fail with ErrOffsetOutOfRange; at the end the Slice is empty. Only
// batch headers are read, with pread; record bytes are never touched.
func (l *Log) Read(offset, maxBytes, maxOffset int64) (*Slice, error) {
	s := &Slice{}
	s.Chunks, s.segs = s.chunkBuf[:0], s.segBuf[:0]
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	end := l.end.Load()
	if start := l.start.Load(); offset < start || offset > end {
		return nil, fmt.Errorf("offset %d outside [%d, %d]: %w", offset, start, end, ErrOffsetOutOfRange)
	}
	maxOffset = min(maxOffset, end)
	if offset >= maxOffset {
		return s, nil
	}
	budget := maxBytes
	for i := l.floor(offset); i < len(l.segs); i++ {
		seg := l.segs[i]
		pos, h, ok, err := seg.findBatch(offset, s.hdr[:])
		if err != nil {
			s.Release()
			return nil, err
		}
		if !ok {
			continue // offset is past this segment's data (a gap); the next one starts higher
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		stop, err := l.rangeEnd(seg, pos, budget, maxOffset, s.Bytes == 0, s.hdr[:])
		if err != nil {
			s.Release()
			return nil, err
		}
		if stop > pos {
			s.add(seg, pos, stop-pos)
			budget -= stop - pos
		}
		if stop < seg.size || budget <= 0 {
			break
		}
		offset = seg.next
	}
	return s, nil
}

// rangeEnd returns where a read starting at the batch at pos must stop within seg: the end of
// the last whole batch that fits in budget and starts below maxOffset. When first is set the
// batch at pos is included regardless of budget. The sparse index jumps close to the limit,
// so only a few headers past the last index entry are read.
func (l *Log) rangeEnd(seg *segment, pos, budget, maxOffset int64, first bool, hdr []byte) (int64, error) {
	limit := seg.size
	if pos+budget < limit {
		limit = pos + budget
	}
	// Last index entry at or before limit whose batch starts below maxOffset; every batch
	// before it ends at or before its position, so all of them fit.
	lo, hi := 0, len(seg.index)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e := seg.index[m]
		if int64(e.pos) <= limit && seg.base+int64(e.rel) < maxOffset {
			lo = m + 1
		} else {
			hi = m
		}
	}
	q := pos
	if lo > 0 {
		q = max(q, int64(seg.index[lo-1].pos))
	}
	for q < seg.size {
		h, err := seg.readHeader(q, hdr)
		if err != nil {
			return 0, err
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		n := int64(h.Size())
		if q+n > limit && !(first && q == pos) {
			break
		}
		q += n
	}
	return q, nil
}

// ReadBytes is Read copied into memory, for tests, tools and non-sendfile transports.
func (l *Log) ReadBytes(offset, maxBytes, maxOffset int64) ([]byte, error) {
	s, err := l.Read(offset, maxBytes, maxOffset)
	if err != nil {
		return nil, err
	}
	defer s.Release()
	out := make([]byte, s.Bytes)
	at := 0
	for _, c := range s.Chunks {
		if _, err := c.File.ReadAt(out[at:at+int(c.Len)], c.Pos); err != nil {
			return nil, fmt.Errorf("read %d bytes at %d: %w", c.Len, c.Pos, err)
		}
		at += int(c.Len)
	}
	return out, nil
}

// OffsetForTimestamp finds the first batch whose maxTimestamp is >= ts (ListOffsets by
// timestamp) and returns its base offset (raised to the log start offset) and maxTimestamp.
// The answer is batch-granular: the earliest record >= ts is in that batch, possibly after
// a few earlier records, which a consumer seeking there reads again.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	start := l.start.Load()
	var hdr [records.HeaderLen]byte
	for _, seg := range l.segs {
		if seg.maxTs < ts || seg.next <= start {
			continue
		}
		for pos := seg.timeFloor(ts); pos < seg.size; {
			h, err := seg.readHeader(pos, hdr[:])
			if err != nil {
				break
			}
			if h.MaxTimestamp >= ts && h.LastOffset() >= start {
				return max(h.BaseOffset, start), h.MaxTimestamp, true
			}
			pos += int64(h.Size())
		}
	}
	return -1, -1, false
}

// MaxTimestamp returns the largest batch maxTimestamp in the log and the last offset of the
// (first) batch carrying it, for ListOffsets MAX_TIMESTAMP; (-1, -1) for an empty log.
func (l *Log) MaxTimestamp() (ts int64, offset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var best *segment
	for _, seg := range l.segs {
		if seg.maxTs >= 0 && (best == nil || seg.maxTs > best.maxTs) {
			best = seg
		}
	}
	if best == nil {
		return -1, -1
	}
	var hdr [records.HeaderLen]byte
	_, h, ok, err := best.findBatch(best.maxTsOff, hdr[:])
	if err != nil || !ok {
		return best.maxTs, best.maxTsOff
	}
	return best.maxTs, h.LastOffset()
}
