package storage

import (
	"fmt"

	"github.com/kbench/kbench/broker/records"
)

// Scan calls fn with the header of every batch from the one containing offset
// `from` to the log end, reading only headers (pread of 61 bytes per batch).
// body loads the whole batch when fn needs it (transaction markers). It runs
// under the read lock: appends wait, so call it when opening a partition or
// on cold paths. fn returning false stops the scan.
func (l *Log) Scan(from int64, fn func(h records.Header, body func() ([]byte, error)) bool) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	var hdr [records.HeaderLen]byte
	for i := l.floor(from); i >= 0 && i < len(l.segs); i++ {
		seg := l.segs[i]
		pos := int64(0)
		if i == l.floor(from) {
			pos = seg.indexFloor(from)
		}
		for pos < seg.size {
			h, err := seg.readHeader(pos, hdr[:])
			if err != nil {
				return fmt.Errorf("scan %s at %d: %w", seg.logPath(), pos, err)
			}
			at, size := pos, h.Size()
			pos += int64(size)
			if h.LastOffset() < from {
				continue
			}
			body := func() ([]byte, error) {
				b := make([]byte, size)
				if _, err := seg.f.ReadAt(b, at); err != nil {
					return nil, fmt.Errorf("read batch at %d: %w", at, err)
				}
				return b, nil
			}
			if !fn(h, body) {
				return nil
			}
		}
	}
	return nil
}

// Reset empties the log and restarts it at offset: a follower that fell
// behind the leader's log start (retention) starts over there.
func (l *Log) Reset(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("reset to %d: %w", offset, ErrOffsetOutOfRange)
	}
	return l.truncateFully(offset)
}
