package storage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/broker/records"
)

func TestAppendAssignsOffsets(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig())
	var want []appended
	next := int64(0)
	for i := range 50 {
		n := 1 + i%7
		a := mustAppend(t, l, mkBatch(n, 40, int64(1000+i)), 3)
		if a.base != next || a.last != next+int64(n)-1 {
			t.Fatalf("batch %d: got offsets %d-%d, want %d-%d", i, a.base, a.last, next, next+int64(n)-1)
		}
		h, _ := records.ParseHeader(a.data)
		if h.BaseOffset != a.base || h.PartitionLeaderEpoch != 3 {
			t.Fatalf("batch %d: stored header has base %d epoch %d, want %d 3", i, h.BaseOffset, h.PartitionLeaderEpoch, a.base)
		}
		if !records.VerifyCRC(a.data) {
			t.Fatalf("batch %d: CRC broken by the offset rewrite", i)
		}
		next += int64(n)
		want = append(want, a)
	}
	if l.EndOffset() != next || l.StartOffset() != 0 {
		t.Fatalf("got start %d end %d, want 0 %d", l.StartOffset(), l.EndOffset(), next)
	}
	sameBatches(t, readAll(t, l), want)
	var size int64
	for _, a := range want {
		size += int64(len(a.data))
	}
	if l.Size() != size {
		t.Fatalf("Size: got %d, want %d", l.Size(), size)
	}

	// Several batches in one Append (a produce request's records field).
	multi := append(mkBatch(2, 10, 5), mkBatch(3, 10, 6)...)
	base, last, err := l.Append(multi, 3)
	if err != nil || base != next || last != next+4 {
		t.Fatalf("multi-batch append: got %d-%d %v, want %d-%d", base, last, err, next, next+4)
	}
	if _, _, err := l.Append(multi[:len(multi)-1], 3); err == nil {
		t.Fatal("append of a cut batch: got nil error")
	}
	if _, _, err := l.Append(nil, 3); err == nil {
		t.Fatal("append of nothing: got nil error")
	}
	if l.EndOffset() != next+5 {
		t.Fatalf("failed appends moved the end offset to %d", l.EndOffset())
	}
}

func TestReadLimits(t *testing.T) {
	cfg := smallConfig(5000, 700)
	l := openLog(t, t.TempDir(), cfg)
	as := fill(t, l, 60, func(i int) []byte { return mkBatch(4, 50+i%3*40, int64(i)) })
	if n := len(segmentFiles(t, l.Dir(), ".log")); n < 5 {
		t.Fatalf("got %d segments, want several for cross-segment reads", n)
	}
	end := l.EndOffset()
	sz := func(from, to int) int64 { // bytes of batches [from, to)
		var n int64
		for _, a := range as[from:to] {
			n += int64(len(a.data))
		}
		return n
	}

	tests := []struct {
		name            string
		off, max, maxOf int64
		from, to        int // expected batches
	}{
		{"one byte budget still returns one batch", as[3].base, 1, end, 3, 4},
		{"zero budget still returns one batch", as[3].base, 0, end, 3, 4},
		{"mid-batch offset starts at its batch", as[3].base + 2, sz(3, 5), end, 3, 5},
		{"budget short of the next batch", as[3].base, sz(3, 6) - 1, end, 3, 5},
		{"exact budget", as[3].base, sz(3, 6), end, 3, 6},
		{"crosses segments", as[0].base, sz(0, 40), end, 0, 40},
		{"whole log", 0, 1 << 30, end, 0, 60},
		{"high watermark cuts", as[10].base, 1 << 30, as[20].base, 10, 20},
		{"high watermark inside a batch", as[10].base, 1 << 30, as[20].base + 1, 10, 21},
		{"high watermark at the offset", as[10].base, 1 << 30, as[10].base, 10, 10},
		{"high watermark below the offset", as[10].base, 1 << 30, as[5].base, 10, 10},
		{"at the end", end, 1 << 30, end, 60, 60},
		{"last batch", as[59].last, 1 << 30, end, 59, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := l.Read(tt.off, tt.max, tt.maxOf)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			defer s.Release()
			var got []byte
			for _, c := range s.Chunks {
				b := make([]byte, c.Len)
				if _, err := c.File.ReadAt(b, c.Pos); err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
			}
			var want []byte
			for _, a := range as[tt.from:tt.to] {
				want = append(want, a.data...)
			}
			if !bytes.Equal(got, want) || s.Bytes != int64(len(want)) {
				t.Fatalf("got %d bytes (Bytes=%d), want batches %d..%d (%d bytes)", len(got), s.Bytes, tt.from, tt.to, len(want))
			}
		})
	}
	for _, off := range []int64{-1, end + 1} {
		_, err := l.Read(off, 100, end)
		wantErr(t, err, ErrOffsetOutOfRange)
	}
}

// TestIndexLookups compares Read's starting batch for random and boundary offsets against
// a plain list of what was appended, with a sparse index.
func TestIndexLookups(t *testing.T) {
	cfg := smallConfig(64<<10, 0)
	l := openLog(t, t.TempDir(), cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	as := fill(t, l, 600, func(i int) []byte { return mkBatch(1+rng.IntN(10), 10+rng.IntN(300), int64(i)) })
	l.mu.RLock()
	segs := len(l.segs)
	var entries, batches int
	for _, s := range l.segs {
		entries += len(s.index)
	}
	batches = len(as)
	l.mu.RUnlock()
	if segs < 3 || entries >= batches/2 || entries < segs {
		t.Fatalf("got %d segments, %d index entries for %d batches: want several segments and a sparse index", segs, entries, batches)
	}
	check := func(off int64) {
		t.Helper()
		b, err := l.ReadBytes(off, 1, l.EndOffset())
		if err != nil {
			t.Fatalf("ReadBytes(%d): %v", off, err)
		}
		i, _ := slices.BinarySearchFunc(as, off, func(a appended, off int64) int {
			switch {
			case a.last < off:
				return -1
			case a.base > off:
				return 1
			}
			return 0
		})
		if !bytes.Equal(b, as[i].data) {
			h, _ := records.ParseHeader(b)
			t.Fatalf("offset %d: got batch at %d, want the one at %d", off, h.BaseOffset, as[i].base)
		}
	}
	for _, a := range as { // every boundary
		check(a.base)
		check(a.last)
	}
	for range 2000 {
		check(rng.Int64N(l.EndOffset()))
	}
}

func TestRollBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(4096, 0)
	l := openLog(t, dir, cfg)
	b := mkBatch(10, 100, 0) // ~1.2 KiB: three fit in a segment, four do not
	var bases []int64
	for i := range 10 {
		a := mustAppend(t, l, bytes.Clone(b), 0)
		if i%3 == 0 {
			bases = append(bases, a.base)
		}
	}
	var want []string
	for _, base := range bases {
		want = append(want, fmt.Sprintf("%020d.log", base))
	}
	if got := segmentFiles(t, dir, ".log"); !slices.Equal(got, want) {
		t.Fatalf("got segments %v, want %v", got, want)
	}
	for _, name := range want[:len(want)-1] {
		if sz := fileSize(t, filepath.Join(dir, name)); sz > cfg.SegmentBytes || sz != 3*int64(len(b)) {
			t.Fatalf("%s: got %d bytes, want %d", name, sz, 3*len(b))
		}
	}
	// Sealed segments get their index files on roll.
	if got := segmentFiles(t, dir, ".index"); len(got) != len(want)-1 {
		t.Fatalf("got index files %v, want one per sealed segment", got)
	}
	// A batch bigger than a segment goes into a segment of its own.
	big := mkBatch(10, 1000, 0)
	a := mustAppend(t, l, big, 0)
	if got := fileSize(t, filepath.Join(dir, fmt.Sprintf("%020d.log", a.base))); got != int64(len(big)) {
		t.Fatalf("oversized batch: got segment of %d bytes, want %d", got, len(big))
	}
}

func TestRollByTime(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	cfg := DefaultConfig()
	cfg.SegmentMs = 60_000
	cfg.Now = clk.Now
	l := openLog(t, dir, cfg)
	ts := func() int64 { return clk.Now().UnixMilli() } // recent, so retention keeps it
	mustAppend(t, l, mkBatch(1, 10, ts()), 0)
	clk.Advance(59 * time.Second)
	mustAppend(t, l, mkBatch(1, 10, ts()), 0)
	if n := len(segmentFiles(t, dir, ".log")); n != 1 {
		t.Fatalf("after 59 s: got %d segments, want 1", n)
	}
	clk.Advance(time.Second)
	a := mustAppend(t, l, mkBatch(1, 10, ts()), 0)
	if got := segmentFiles(t, dir, ".log"); !slices.Equal(got, []string{fmt.Sprintf("%020d.log", 0), fmt.Sprintf("%020d.log", a.base)}) {
		t.Fatalf("after 60 s: got segments %v, want a new one at %d", got, a.base)
	}
	// EnforceRetention rolls an idle active segment that is due, without any append.
	clk.Advance(2 * time.Minute)
	if _, err := l.EnforceRetention(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, ".log")); n != 3 {
		t.Fatalf("after an idle 2 min and a retention pass: got %d segments, want 3", n)
	}
	// An empty active segment is never rolled.
	clk.Advance(time.Hour)
	if _, err := l.EnforceRetention(clk.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(segmentFiles(t, dir, ".log")); n != 3 {
		t.Fatalf("empty active segment: got %d segments, want still 3", n)
	}
}

func TestRetentionByTime(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 0)
	cfg.RetentionMs = 10_000
	l := openLog(t, dir, cfg)
	now := int64(1_700_000_000_000)
	var as []appended
	for i := range 30 {
		// Records age one second per batch: batch i was written at now-30s+i s.
		as = append(as, mustAppend(t, l, mkBatch(5, 100, now-30_000+int64(i)*1000), 0))
	}
	segsBefore := segmentFiles(t, dir, ".log")
	// Hold a read over the oldest data across the deletion.
	held, err := l.Read(0, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	n, err := l.EnforceRetention(time.UnixMilli(now))
	if err != nil {
		t.Fatal(err)
	}
	// Whole segments whose newest record is older than now-10s go: each segment holds a few
	// batches, so the first surviving one holds a record at or after now-10s.
	segsAfter := segmentFiles(t, dir, ".log")
	if n == 0 || len(segsAfter) != len(segsBefore)-n {
		t.Fatalf("deleted %d: segments %v -> %v", n, segsBefore, segsAfter)
	}
	start := l.StartOffset()
	if want := fmt.Sprintf("%020d.log", start); segsAfter[0] != want {
		t.Fatalf("log start offset %d does not match the first segment %s", start, segsAfter[0])
	}
	for _, a := range as {
		if a.last < start && a.maxTs >= now-10_000 {
			t.Fatalf("deleted batch %d-%d with max timestamp %d inside retention", a.base, a.last, a.maxTs)
		}
	}
	i := slices.IndexFunc(as, func(a appended) bool { return a.base == start })
	if i <= 0 || as[i-1].maxTs >= now-10_000 {
		t.Fatalf("start %d: want the segment before it to be wholly expired", start)
	}
	_, err = l.Read(0, 100, l.EndOffset())
	wantErr(t, err, ErrOffsetOutOfRange)
	sameBatches(t, readAll(t, l), as[i:])

	// The held Slice still reads the deleted files.
	var got []byte
	for _, c := range held.Chunks {
		b := make([]byte, c.Len)
		if _, err := c.File.ReadAt(b, c.Pos); err != nil {
			t.Fatalf("reading a held chunk of a deleted segment: %v", err)
		}
		got = append(got, b...)
	}
	if !bytes.HasPrefix(got, as[0].data) {
		t.Fatal("held slice no longer returns the deleted data")
	}

	// Everything expired: all sealed segments go, the active one stays.
	if _, err := l.EnforceRetention(time.UnixMilli(now + time.Hour.Milliseconds())); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir, ".log"); len(got) != 1 || l.EndOffset() != as[29].last+1 {
		t.Fatalf("got segments %v end %d: want only the active segment left and the end unchanged", got, l.EndOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(4000, 0)
	cfg.RetentionMs = -1
	l := openLog(t, dir, cfg)
	b := mkBatch(8, 100, 0)
	for range 20 {
		mustAppend(t, l, bytes.Clone(b), 0)
	}
	perSeg := int(cfg.SegmentBytes) / len(b)
	segSize := int64(perSeg * len(b))
	total := l.Size()
	// One byte short of room for all but two segments: deleting one segment is enough.
	cfg.RetentionBytes = total - 2*segSize + 1
	l.SetConfig(cfg)
	n, err := l.EnforceRetention(time.Now())
	if err != nil || n != 1 {
		t.Fatalf("limit %d with %d bytes: deleted %d (%v), want 1", cfg.RetentionBytes, total, n, err)
	}
	cfg.RetentionBytes = total - 2*segSize
	l.SetConfig(cfg)
	n, err = l.EnforceRetention(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || l.Size() != total-2*segSize || l.StartOffset() != int64(2*perSeg*8) {
		t.Fatalf("got %d more deleted, size %d, start %d; want 1, %d, %d", n, l.Size(), l.StartOffset(), total-2*segSize, 2*perSeg*8)
	}
	// The active segment is never deleted, even when the limit is 0.
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if _, err := l.EnforceRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, dir, ".log"); len(got) != 1 {
		t.Fatalf("retention.bytes=0: got segments %v, want only the active one", got)
	}
	inActive := 20 - perSeg*((20-1)/perSeg) // a segment rolls only when the next batch does not fit
	if got := readAll(t, l); len(got) != inActive || got[0].base != l.StartOffset() || l.EndOffset() != 160 {
		t.Fatalf("got %d batches from %d, start %d end %d: want the active segment's %d batches, end 160",
			len(got), got[0].base, l.StartOffset(), l.EndOffset(), inActive)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(2000, 0)
	l := openLog(t, dir, cfg)
	as := fill(t, l, 12, func(_ int) []byte { return mkBatch(4, 100, 0) })
	before := segmentFiles(t, dir, ".log")
	// Inside the sixth batch: segments entirely below it go.
	cut := as[5].base + 2
	if err := l.DeleteRecordsBefore(cut); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != cut {
		t.Fatalf("got start %d, want %d", l.StartOffset(), cut)
	}
	after := segmentFiles(t, dir, ".log")
	if len(after) >= len(before) {
		t.Fatalf("segments %v -> %v: want those wholly below %d deleted", before, after, cut)
	}
	for _, name := range after[1:] {
		var base int64
		fmt.Sscanf(name, "%d.log", &base)
		if base <= cut {
			// only the first remaining segment may start at or below the cut
			t.Fatalf("segment %s should have been deleted", name)
		}
	}
	_, err := l.Read(cut-1, 100, l.EndOffset())
	wantErr(t, err, ErrOffsetOutOfRange)
	b, err := l.ReadBytes(cut, 1, l.EndOffset())
	if err != nil || !bytes.Equal(b, as[5].data) {
		t.Fatalf("read at the new start: got %d bytes %v, want the batch holding it", len(b), err)
	}
	if off, _, ok := l.OffsetForTimestamp(0); !ok || off != cut {
		t.Fatalf("OffsetForTimestamp(0): got %d %v, want the start offset %d", off, ok, cut)
	}
	wantErr(t, l.DeleteRecordsBefore(l.EndOffset()+1), ErrOffsetOutOfRange)
	if err := l.DeleteRecordsBefore(cut - 1); err != nil || l.StartOffset() != cut {
		t.Fatalf("moving the start back: got %v start %d, want a no-op", err, l.StartOffset())
	}

	// The start offset survives a restart.
	l.Close()
	l2 := openLog(t, dir, cfg)
	if l2.StartOffset() != cut || l2.EndOffset() != as[11].last+1 {
		t.Fatalf("after reopen: start %d end %d, want %d %d", l2.StartOffset(), l2.EndOffset(), cut, as[11].last+1)
	}
	// Deleting everything up to the end leaves an empty readable log that keeps its offsets.
	if err := l2.DeleteRecordsBefore(l2.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if s, err := l2.Read(l2.EndOffset(), 100, l2.EndOffset()); err != nil || s.Bytes != 0 {
		t.Fatalf("read at end after deleting all: %v", err)
	}
	a := mustAppend(t, l2, mkBatch(1, 1, 0), 0)
	if a.base != as[11].last+1 {
		t.Fatalf("append after deleting all: got offset %d, want %d", a.base, as[11].last+1)
	}
}

func TestOffsetForTimestamp(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 500)
	l := openLog(t, dir, cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	var as []appended
	for i := range 200 {
		// Mostly increasing timestamps with some going backwards, as several producers do.
		ts := int64(10_000 + i*10 - rng.IntN(40))
		as = append(as, mustAppend(t, l, mkBatch(1+rng.IntN(3), 100, ts), 0))
	}
	check := func(l *Log) {
		t.Helper()
		for ts := int64(9_000); ts < 12_100; ts += 7 {
			wantOff, wantTs, wantOK := int64(-1), int64(-1), false
			for _, a := range as {
				if a.maxTs >= ts && a.last >= l.StartOffset() {
					wantOff, wantTs, wantOK = max(a.base, l.StartOffset()), a.maxTs, true
					break
				}
			}
			off, gotTs, ok := l.OffsetForTimestamp(ts)
			if off != wantOff || gotTs != wantTs || ok != wantOK {
				t.Fatalf("ts %d: got %d %d %v, want %d %d %v", ts, off, gotTs, ok, wantOff, wantTs, wantOK)
			}
		}
		var wantMax appended
		for _, a := range as {
			if a.maxTs > wantMax.maxTs {
				wantMax = a
			}
		}
		if ts, off := l.MaxTimestamp(); ts != wantMax.maxTs || off != wantMax.last {
			t.Fatalf("MaxTimestamp: got %d at %d, want %d at %d", ts, off, wantMax.maxTs, wantMax.last)
		}
	}
	check(l)
	// Sealed segments answer from their index files after a restart.
	l.Close()
	if n := len(segmentFiles(t, dir, ".timeindex")); n < 5 {
		t.Fatalf("got %d time index files, want several", n)
	}
	l2 := openLog(t, dir, cfg)
	check(l2)

	empty := openLog(t, t.TempDir(), cfg)
	if off, ts, ok := empty.OffsetForTimestamp(0); ok || off != -1 || ts != -1 {
		t.Fatalf("empty log: got %d %d %v, want -1 -1 false", off, ts, ok)
	}
	if ts, off := empty.MaxTimestamp(); ts != -1 || off != -1 {
		t.Fatalf("empty log MaxTimestamp: got %d %d, want -1 -1", ts, off)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(5000, 600)
	l := openLog(t, dir, cfg)
	var as []appended
	for i := range 80 {
		as = append(as, mustAppend(t, l, mkBatch(1+i%4, 90, int64(i)), int32(i/20)))
	}
	type snap struct {
		base   int64
		index  []indexEntry
		tindex []timeEntry
		next   int64
		maxTs  int64
	}
	take := func(l *Log) []snap {
		l.mu.RLock()
		defer l.mu.RUnlock()
		var out []snap
		for _, s := range l.segs {
			out = append(out, snap{s.base, slices.Clone(s.index), slices.Clone(s.tindex), s.next, s.maxTs})
		}
		return out
	}
	before := take(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	compare := func(name string) {
		t.Helper()
		l2 := openLog(t, dir, cfg)
		after := take(l2)
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("%s: segment state differs after reopen:\n got %v\nwant %v", name, after, before)
		}
		if l2.EndOffset() != as[79].last+1 || l2.LatestEpoch() != 3 {
			t.Fatalf("%s: got end %d epoch %d, want %d 3", name, l2.EndOffset(), l2.LatestEpoch(), as[79].last+1)
		}
		sameBatches(t, readAll(t, l2), as)
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
	}
	compare("clean reopen")

	// Missing index files are rebuilt by scanning.
	for _, ext := range []string{".index", ".timeindex"} {
		for _, f := range segmentFiles(t, dir, ext) {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	compare("index files removed")
	if n := len(segmentFiles(t, dir, ".index")); n != len(before) {
		t.Fatalf("got %d index files after rebuild, want %d", n, len(before))
	}

	// Damaged index files are detected and rebuilt.
	idx := segmentFiles(t, dir, ".index")
	damage := map[string]func(b []byte) []byte{
		idx[0]: func(b []byte) []byte { return b[:len(b)-3] },                            // torn entry
		idx[1]: func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b },                  // wrong position
		idx[2]: func(b []byte) []byte { return append(b, 0, 0, 0xff, 0, 0, 0, 0, 0x10) }, // entry past the end
	}
	for name, f := range damage {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tidx := segmentFiles(t, dir, ".timeindex")
	if err := os.WriteFile(filepath.Join(dir, tidx[3]), make([]byte, 12), 0o644); err != nil {
		t.Fatal(err)
	}
	compare("index files damaged")
}

func TestTornTailRecovery(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, lastPos int64)
	}{
		{"cut mid-batch", func(t *testing.T, path string, lastPos int64) {
			if err := os.Truncate(path, lastPos+30); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut mid-header", func(t *testing.T, path string, lastPos int64) {
			if err := os.Truncate(path, lastPos+5); err != nil {
				t.Fatal(err)
			}
		}},
		{"flipped byte in the last batch", func(t *testing.T, path string, lastPos int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			f.ReadAt(b, lastPos+80)
			b[0] ^= 0x01
			f.WriteAt(b, lastPos+80)
		}},
		{"garbage appended", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100))
		}},
		{"zeros appended", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(make([]byte, 4096))
		}},
		{"stale batch appended", func(t *testing.T, path string, _ int64) {
			// A whole, CRC-valid batch whose offsets go backwards is not part of this log.
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(mkBatch(3, 200, 7)) // base offset 0
		}},
		{"huge length in a trailing header", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := mkBatch(1, 10, 0)
			b[8], b[9] = 0x7f, 0xff
			f.Write(b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := smallConfig(4000, 0)
			l := openLog(t, dir, cfg)
			as := fill(t, l, 10, func(_ int) []byte { return mkBatch(3, 200, 7) })
			l.Close()
			segs := segmentFiles(t, dir, ".log")
			tail := filepath.Join(dir, segs[len(segs)-1])
			size := fileSize(t, tail)
			lastPos := size - int64(len(as[9].data))
			tt.damage(t, tail, lastPos)

			l2 := openLog(t, dir, cfg)
			keep := as
			if !strings.HasSuffix(tt.name, "appended") && tt.name != "huge length in a trailing header" {
				keep = as[:9] // the damaged last batch is dropped
			}
			wantEnd := keep[len(keep)-1].last + 1
			if l2.EndOffset() != wantEnd {
				t.Fatalf("got end offset %d, want %d", l2.EndOffset(), wantEnd)
			}
			sameBatches(t, readAll(t, l2), keep)
			wantSize := size
			if len(keep) == 9 {
				wantSize = lastPos
			}
			if got := fileSize(t, tail); got != wantSize {
				t.Fatalf("tail file is %d bytes after recovery, want %d", got, wantSize)
			}
			a := mustAppend(t, l2, mkBatch(2, 5, 0), 0)
			if a.base != wantEnd {
				t.Fatalf("append after recovery got offset %d, want %d", a.base, wantEnd)
			}
			sameBatches(t, readAll(t, l2), append(slices.Clone(keep), a))
		})
	}
}

// TestRecoveryOfSealedSegmentWithoutIndex: a crash right after a roll can leave a sealed
// segment with no index files and a torn end; it is scanned and truncated like the tail.
func TestRecoveryOfSealedSegmentWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 0)
	l := openLog(t, dir, cfg)
	as := fill(t, l, 9, func(_ int) []byte { return mkBatch(3, 250, 1) })
	l.Close()
	segs := segmentFiles(t, dir, ".log")
	first := filepath.Join(dir, segs[0])
	os.Remove(filepath.Join(dir, segs[0][:20]+".index"))
	// Flip a byte in the first segment's last batch.
	f, _ := os.OpenFile(first, os.O_RDWR, 0)
	b := make([]byte, 1)
	f.ReadAt(b, fileSize(t, first)-5)
	b[0] ^= 0xff
	f.WriteAt(b, fileSize(t, first)-5)
	f.Close()

	l2 := openLog(t, dir, cfg)
	got := readAll(t, l2)
	perSeg := int(3000 / len(as[0].data))
	want := append(slices.Clone(as[:perSeg-1]), as[perSeg:]...)
	sameBatches(t, got, want)
	if n := len(segmentFiles(t, dir, ".index")); n != len(segs)-1 {
		t.Fatalf("got %d index files, want the rebuilt one back (%d)", n, len(segs)-1)
	}
}

// TestRecoveryOfSealedSegmentWithStaleTail: index files that look fine do not vouch for
// bytes after the last indexed batch; a stale batch there is found and cut.
func TestRecoveryOfSealedSegmentWithStaleTail(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 0)
	l := openLog(t, dir, cfg)
	as := fill(t, l, 9, func(_ int) []byte { return mkBatch(3, 250, 1) })
	l.Close()
	first := filepath.Join(dir, segmentFiles(t, dir, ".log")[0])
	size := fileSize(t, first)
	f, err := os.OpenFile(first, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(as[0].data) // whole and CRC-valid, but offsets 0-2 again
	f.Close()

	l2 := openLog(t, dir, cfg)
	sameBatches(t, readAll(t, l2), as)
	if got := fileSize(t, first); got != size {
		t.Fatalf("sealed segment is %d bytes after recovery, want %d", got, size)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 600)
	l := openLog(t, dir, cfg)
	var as []appended
	for i := range 30 {
		as = append(as, mustAppend(t, l, mkBatch(4, 100, int64(i)), int32(i/10))) // epochs 0,1,2
	}
	// Truncating at or past the end does nothing.
	if err := l.Truncate(l.EndOffset()); err != nil || l.EndOffset() != as[29].last+1 {
		t.Fatalf("truncate at end: %v end %d", err, l.EndOffset())
	}
	// Mid-batch: that batch goes too.
	if err := l.Truncate(as[25].base + 2); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != as[25].base {
		t.Fatalf("got end %d, want %d", l.EndOffset(), as[25].base)
	}
	sameBatches(t, readAll(t, l), as[:25])
	// Into an earlier segment, at a batch boundary that crosses the epoch 1 -> 2 change.
	if err := l.Truncate(as[15].base); err != nil {
		t.Fatal(err)
	}
	sameBatches(t, readAll(t, l), as[:15])
	if l.LatestEpoch() != 1 {
		t.Fatalf("got latest epoch %d after truncating epoch 2 away, want 1", l.LatestEpoch())
	}
	if n := len(segmentFiles(t, dir, ".log")); n != 15*len(as[0].data)/3000+1 {
		t.Fatalf("got %d segments after truncation, want %d", n, 15*len(as[0].data)/3000+1)
	}
	a := mustAppend(t, l, mkBatch(2, 5, 100), 4)
	if a.base != as[15].base {
		t.Fatalf("append after truncate got offset %d, want %d", a.base, as[15].base)
	}
	want := append(slices.Clone(as[:15]), a)
	l.Close()
	l2 := openLog(t, dir, cfg)
	sameBatches(t, readAll(t, l2), want)
	if e, off := l2.EndOffsetForEpoch(1); e != 1 || off != a.base {
		t.Fatalf("EndOffsetForEpoch(1): got %d %d, want 1 %d", e, off, a.base)
	}

	// Below the start offset: the log is emptied and restarts there.
	if err := l2.DeleteRecordsBefore(as[10].base); err != nil {
		t.Fatal(err)
	}
	if err := l2.Truncate(as[4].base); err != nil {
		t.Fatal(err)
	}
	if l2.StartOffset() != as[4].base || l2.EndOffset() != as[4].base || l2.Size() != 0 {
		t.Fatalf("full truncation: start %d end %d size %d, want %d %d 0", l2.StartOffset(), l2.EndOffset(), l2.Size(), as[4].base, as[4].base)
	}
	if got := segmentFiles(t, dir, ".log"); !slices.Equal(got, []string{fmt.Sprintf("%020d.log", as[4].base)}) {
		t.Fatalf("got segments %v after full truncation", got)
	}
	b := mustAppend(t, l2, mkBatch(1, 5, 0), 5)
	l2.Close()
	l3 := openLog(t, dir, cfg)
	sameBatches(t, readAll(t, l3), []appended{b})
	if l3.StartOffset() != as[4].base {
		t.Fatalf("start after reopen: got %d, want %d", l3.StartOffset(), as[4].base)
	}
}

func TestTruncateToSegmentBase(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(3000, 0)
	l := openLog(t, dir, cfg)
	as := fill(t, l, 12, func(_ int) []byte { return mkBatch(4, 100, 0) })
	segs := segmentFiles(t, dir, ".log")
	var base int64
	fmt.Sscanf(segs[1], "%d.log", &base)
	if err := l.Truncate(base); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(as, func(a appended) bool { return a.base == base })
	sameBatches(t, readAll(t, l), as[:i])
	a := mustAppend(t, l, mkBatch(1, 1, 0), 0)
	sameBatches(t, readAll(t, l), append(slices.Clone(as[:i]), a))
}

func TestEpochs(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, DefaultConfig())
	if l.LatestEpoch() != -1 {
		t.Fatalf("empty log: latest epoch %d, want -1", l.LatestEpoch())
	}
	if e, off := l.EndOffsetForEpoch(0); e != -1 || off != -1 {
		t.Fatalf("empty log: EndOffsetForEpoch(0) = %d %d, want -1 -1", e, off)
	}
	mustAppend(t, l, mkBatch(5, 1, 0), 2)  // 0-4 epoch 2
	mustAppend(t, l, mkBatch(5, 1, 0), 2)  // 5-9
	mustAppend(t, l, mkBatch(5, 1, 0), 4)  // 10-14 epoch 4
	mustAppend(t, l, mkBatch(5, 1, 0), -1) // 15-19 no epoch recorded
	mustAppend(t, l, mkBatch(5, 1, 0), 7)  // 20-24 epoch 7
	if _, _, err := l.Append(mkBatch(1, 1, 0), 5); err == nil {
		t.Fatal("append with an older epoch: got nil error")
	} else {
		wantErr(t, err, ErrStaleEpoch)
	}
	tests := []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{1, 1, 0},   // older than the first: its requested epoch, ending where epoch 2 starts
		{2, 2, 10},  // ends where 4 starts
		{3, 2, 10},  // unknown epoch between: floor is 2
		{4, 4, 20},  // ends where 7 starts
		{7, 7, 25},  // latest: the log end
		{8, -1, -1}, // newer than any
		{-1, -1, -1},
	}
	check := func(l *Log) {
		t.Helper()
		for _, tt := range tests {
			if e, off := l.EndOffsetForEpoch(tt.epoch); e != tt.wantEpoch || off != tt.wantEnd {
				t.Fatalf("EndOffsetForEpoch(%d): got %d %d, want %d %d", tt.epoch, e, off, tt.wantEpoch, tt.wantEnd)
			}
		}
	}
	check(l)
	l.Close()
	l = openLog(t, dir, DefaultConfig())
	check(l)
	if got := fmt.Sprint(l.Epochs()); got != "[{2 0} {4 10} {7 20}]" {
		t.Fatalf("got epochs %s", got)
	}
	if err := l.Truncate(15); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.Epochs()); got != "[{2 0} {4 10}]" {
		t.Fatalf("after truncate to 15: got epochs %s, want [{2 0} {4 10}]", got)
	}
	// Inside the epoch-4 batch 10-14: the batch and with it epoch 4 go.
	if err := l.Truncate(12); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.Epochs()); got != "[{2 0}]" || l.EndOffset() != 10 {
		t.Fatalf("after truncate to 12: got epochs %s end %d, want [{2 0}] 10", got, l.EndOffset())
	}
	if err := l.DeleteRecordsBefore(7); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.Epochs()); got != "[{2 7}]" {
		t.Fatalf("after deleting before 7: got epochs %s, want [{2 7}]", got)
	}
}

func TestAppendAsFollower(t *testing.T) {
	leader := openLog(t, t.TempDir(), DefaultConfig())
	follower := openLog(t, t.TempDir(), DefaultConfig())
	for i := range 6 {
		mustAppend(t, leader, mkBatch(3, 20, int64(i)), int32(i/2))
	}
	// Replicate in two fetches.
	data, err := leader.ReadBytes(0, 1<<20, 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.AppendAsFollower(data); err != nil {
		t.Fatal(err)
	}
	wantErr(t, follower.AppendAsFollower(data), ErrOffsetMismatch) // not at the end any more
	rest, err := leader.ReadBytes(9, 1<<20, leader.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.AppendAsFollower(rest); err != nil {
		t.Fatal(err)
	}
	sameBatches(t, readAll(t, follower), readAll(t, leader))
	if fmt.Sprint(follower.Epochs()) != fmt.Sprint(leader.Epochs()) {
		t.Fatalf("follower epochs %v, leader %v", follower.Epochs(), leader.Epochs())
	}
}

func TestAppendNotify(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig())
	c := l.AppendNotify()
	if c2 := l.AppendNotify(); c2 != c {
		t.Fatal("two waiters before an append got different channels")
	}
	select {
	case <-c:
		t.Fatal("notify channel closed before any append")
	default:
	}
	mustAppend(t, l, mkBatch(1, 1, 0), 0)
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal("notify channel not closed by the append")
	}
	c3 := l.AppendNotify()
	select {
	case <-c3:
		t.Fatal("fresh channel already closed")
	default:
	}
	l.Close()
	select {
	case <-c3:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake waiters")
	}
}

func TestClosedAndDeleted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l, err := Open(dir, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, mkBatch(1, 1, 0), 0)
	held, err := l.Read(0, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there after Delete: %v", err)
	}
	_, _, err = l.Append(mkBatch(1, 1, 0), 0)
	wantErr(t, err, ErrClosed)
	_, err = l.Read(0, 1, 1)
	wantErr(t, err, ErrClosed)
	b := make([]byte, held.Bytes)
	if _, err := held.Chunks[0].File.ReadAt(b, held.Chunks[0].Pos); err != nil {
		t.Fatalf("held slice unreadable after Delete: %v", err)
	}
	held.Release()
	held.Release() // idempotent
	if _, err := held.Chunks[0].File.ReadAt(b, 0); err == nil {
		t.Fatal("file still open after the last release")
	}
}

func TestFlushPolicies(t *testing.T) {
	for _, p := range []FlushPolicy{FlushNever, FlushInterval, FlushEveryBatch} {
		t.Run(p.String(), func(t *testing.T) {
			got, err := ParseFlushPolicy(p.String())
			if err != nil || got != p {
				t.Fatalf("ParseFlushPolicy(%q): got %v %v", p.String(), got, err)
			}
			cfg := DefaultConfig()
			cfg.Flush = p
			cfg.FlushIntervalMs = 20
			l := openLog(t, t.TempDir(), cfg)
			for range 5 {
				mustAppend(t, l, mkBatch(2, 10, 0), 0)
			}
			if p == FlushInterval {
				// The timer armed by the appends flushes without another append.
				l.flushMu.Lock()
				first := l.lastFlush
				l.flushMu.Unlock()
				deadline := time.Now().Add(5 * time.Second)
				for {
					l.flushMu.Lock()
					last, armed := l.lastFlush, l.flushTimer != nil
					l.flushMu.Unlock()
					if last > first && !armed {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("interval flush never ran")
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := ParseFlushPolicy("sometimes"); err == nil {
		t.Fatal("ParseFlushPolicy(sometimes): got nil error")
	}
}

func TestAppendAllocations(t *testing.T) {
	cfg := DefaultConfig()
	l := openLog(t, t.TempDir(), cfg)
	b := mkBatch(16, 100, 0)
	mustAppend(t, l, b, 0)
	allocs := testing.AllocsPerRun(500, func() {
		if _, _, err := l.Append(b, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs >= 1 {
		t.Fatalf("got %v allocations per Append, want 0", allocs)
	}
}

func TestAssignEpochStart(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, DefaultConfig())
	mustAppend(t, l, mkBatch(3, 1, 0), 0) // 0-2 epoch 0
	if err := l.AssignEpochStart(5); err != nil {
		t.Fatal(err)
	}
	if err := l.AssignEpochStart(4); err != nil { // older than the latest: ignored
		t.Fatal(err)
	}
	if e, off := l.EndOffsetForEpoch(3); e != 0 || off != 3 {
		t.Fatalf("EndOffsetForEpoch(3): got %d %d, want 0 3", e, off)
	}
	mustAppend(t, l, mkBatch(2, 1, 0), 5) // 3-4 epoch 5: no new entry
	check := func(l *Log) {
		t.Helper()
		if got := l.Epochs(); len(got) != 2 || got[1] != (EpochEntry{Epoch: 5, Start: 3}) {
			t.Fatalf("epochs: %v, want [{0 0} {5 3}]", got)
		}
	}
	check(l)
	l.Close()
	check(openLog(t, dir, DefaultConfig())) // persisted
}
