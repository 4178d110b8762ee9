package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/records/recordstest"
)

// fakeClock is an injectable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openLog(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// smallConfig is DefaultConfig with small segments, and a small index interval when
// indexInterval > 0, so tests cross segment and index boundaries with little data.
func smallConfig(segmentBytes int64, indexInterval int) Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = segmentBytes
	if indexInterval > 0 {
		cfg.IndexIntervalBytes = indexInterval
	}
	return cfg
}

// fill appends n batches, batch i built by mk(i), with leader epoch 0.
func fill(t testing.TB, l *Log, n int, mk func(i int) []byte) []appended {
	t.Helper()
	as := make([]appended, 0, n)
	for i := range n {
		as = append(as, mustAppend(t, l, mk(i), 0))
	}
	return as
}

// mkBatch builds a batch of n records of size bytes with record timestamps ts, ts+1, ...
func mkBatch(n, size int, ts int64) []byte {
	return recordstest.Batch(recordstest.BatchOpts{
		Values: recordstest.Values(n, size), Timestamp: ts, TimestampStep: 1,
	})
}

// appended is what a test wrote: the batch as stored (offsets rewritten) and its offsets.
type appended struct {
	data       []byte
	base, last int64
	maxTs      int64
}

func mustAppend(t testing.TB, l *Log, b []byte, epoch int32) appended {
	t.Helper()
	base, last, err := l.Append(b, epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	h, err := records.ParseHeader(b)
	if err != nil {
		t.Fatalf("appended batch header: %v", err)
	}
	return appended{data: bytes.Clone(b), base: base, last: last, maxTs: h.MaxTimestamp}
}

// readAll reads the whole log with ReadBytes in small steps and returns its batches,
// checking that every returned range is whole, CRC-valid batches.
func readAll(t testing.TB, l *Log) []appended {
	t.Helper()
	var out []appended
	off := l.StartOffset()
	for off < l.EndOffset() {
		b, err := l.ReadBytes(off, 3000, l.EndOffset())
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", off, err)
		}
		if len(b) == 0 {
			t.Fatalf("ReadBytes(%d) returned nothing before the end %d", off, l.EndOffset())
		}
		n, err := records.Iterate(b, func(h records.Header, batch []byte) bool {
			if !records.VerifyCRC(batch) {
				t.Fatalf("batch at offset %d fails its CRC", h.BaseOffset)
			}
			out = append(out, appended{data: bytes.Clone(batch), base: h.BaseOffset, last: h.LastOffset(), maxTs: h.MaxTimestamp})
			off = h.NextOffset()
			return true
		})
		if err != nil || n != len(b) {
			t.Fatalf("read range at %d: %d of %d bytes are whole batches (err %v)", off, n, len(b), err)
		}
	}
	return out
}

// sameBatches fails unless got holds exactly the batches of want, byte for byte.
func sameBatches(t testing.TB, got, want []appended) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d batches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].base != want[i].base || got[i].last != want[i].last || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("batch %d: got offsets %d-%d (%d bytes), want %d-%d (%d bytes) with the same bytes",
				i, got[i].base, got[i].last, len(got[i].data), want[i].base, want[i].last, len(want[i].data))
		}
	}
}

func segmentFiles(t testing.TB, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}
