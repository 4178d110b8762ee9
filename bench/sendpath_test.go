package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func parsed(tb testing.TB, w Workload) *parsedWorkload {
	tb.Helper()
	w.Seed = 42
	p, err := w.parse()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// batchRatio compresses values in batches of about batch bytes, as the
// client does, and returns raw/compressed over all of them.
func batchRatio(t *testing.T, codec string, g *generator, total, batch int) float64 {
	t.Helper()
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zenc.Close()
	var raw, packed int
	buf := make([]byte, 0, batch+64<<10)
	var out []byte
	flush := func() {
		switch codec {
		case "zstd":
			out = zenc.EncodeAll(buf, out[:0])
		case "lz4":
			var w bytes.Buffer
			lw := lz4.NewWriter(&w)
			if _, err := lw.Write(buf); err != nil {
				t.Fatal(err)
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			out = w.Bytes()
		}
		raw += len(buf)
		packed += len(out)
		buf = buf[:0]
	}
	for raw+len(buf) < total {
		buf = append(buf, g.value(nil, time.Time{})...)
		if len(buf) >= batch {
			flush()
		}
	}
	if len(buf) > 0 {
		flush()
	}
	return float64(raw) / float64(packed)
}

// TestPayloadPoolCompression: values sampled from the default pool compress
// like freshly generated ones (within 5 %), with zstd and lz4, in batches
// of the default batch.size and of 256 KiB: a codec finds no more to repeat.
func TestPayloadPoolCompression(t *testing.T) {
	for _, tt := range []struct {
		size string
		c    float64
	}{{"100", 0.5}, {"100", 0.9}, {"1KiB", 0}, {"1KiB", 0.5}, {"uniform:50:2000", 0.9}} {
		size, c := tt.size, tt.c
		for _, batch := range []int{16 << 10, 256 << 10} {
			pooled := parsed(t, Workload{RecordSize: size, Compressibility: c})
			pooled.buildPool(batch)
			if len(pooled.pool) != max(1<<20, 64*batch) {
				t.Fatalf("default pool of %d bytes for batches of %d", len(pooled.pool), batch)
			}
			fresh := parsed(t, Workload{RecordSize: size, Compressibility: c, PayloadPool: "0"})
			fresh.buildPool(batch)
			if fresh.pool != nil {
				t.Fatal("a pool was built with --payload-pool 0")
			}
			for _, codec := range []string{"zstd", "lz4"} {
				p := batchRatio(t, codec, newGenerator(pooled, 1), 2*batch+1<<20, batch)
				f := batchRatio(t, codec, newGenerator(fresh, 1), 2*batch+1<<20, batch)
				if math.Abs(p/f-1) > 0.05 {
					t.Errorf("size %s compressibility %.1f batch %d %s: pooled ratio %.3f, fresh %.3f: more than 5 %% apart", size, c, batch, codec, p, f)
				}
			}
		}
	}
}

// TestPayloadPoolValues: pooled values have the requested sizes, differ
// from record to record, and a draw larger than the pool is generated.
func TestPayloadPoolValues(t *testing.T) {
	w := parsed(t, Workload{RecordSize: "uniform:10:3000", PayloadPool: "64KiB"})
	w.buildPool(16 << 10)
	if len(w.pool) != 64<<10 {
		t.Fatalf("pool of %d bytes, want 64KiB", len(w.pool))
	}
	g := newGenerator(w, 0)
	seen := map[string]bool{}
	for range 2000 {
		v := g.value(nil, time.Time{})
		if len(v) < 10 || len(v) > 3000 {
			t.Fatalf("value of %d bytes, want 10..3000", len(v))
		}
		seen[string(v)] = true
	}
	if len(seen) < 1990 {
		t.Errorf("%d distinct values of 2000", len(seen))
	}
	big := parsed(t, Workload{RecordSize: "normal:1KiB:64KiB", PayloadPool: "1KiB"})
	big.buildPool(16 << 10)
	if len(big.pool) < 2*(1<<10+4*64<<10) {
		t.Errorf("pool of %d bytes for normal:1KiB:64KiB: want room for mean + 4 sd twice", len(big.pool))
	}
	if _, err := (Workload{PayloadPool: "lots"}).parse(); err == nil {
		t.Error("payload pool \"lots\" accepted")
	}
}

// TestPayloadPoolWalk: values are read through the pool in order, each at
// a block boundary and never overlapping the values drawn within one pass,
// so a batch (the pool holds 64 of them) never holds the same bytes twice;
// a pass ends at the pool's end and the next starts at a random block.
func TestPayloadPoolWalk(t *testing.T) {
	w := parsed(t, Workload{RecordSize: "uniform:50:300"})
	w.buildPool(16 << 10)
	g := newGenerator(w, 3)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(w.pool)))
	passes, prevEnd := 0, -1
	for i := range 50000 {
		v := g.value(nil, time.Time{})
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(v))) - base)
		switch {
		case off%64 != 0:
			t.Fatalf("value %d at pool offset %d: not at a 64-byte block boundary", i, off)
		case off+len(v) > len(w.pool):
			t.Fatalf("value %d runs past the pool: offset %d, %d bytes, pool %d", i, off, len(v), len(w.pool))
		case prevEnd >= 0 && off >= prevEnd:
			if gap := off - prevEnd; gap > 128 {
				t.Fatalf("value %d at offset %d, %d bytes past the one before: want the next block or the one after", i, off, gap)
			}
		default: // a new pass from a random block
			passes++
		}
		prevEnd = off + len(v)
	}
	if passes < 2 {
		t.Fatalf("%d passes over a %d-byte pool in 50000 values of 50..300 bytes: want several", passes, len(w.pool))
	}
	// Two generators (two producers) start their walks at different blocks.
	a, b := newGenerator(w, 1).value(nil, time.Time{}), newGenerator(w, 2).value(nil, time.Time{})
	if unsafe.SliceData(a) == unsafe.SliceData(b) {
		t.Error("two producers start reading the pool at the same block")
	}
}

// sendBench is a run and producer set up to make records without a client.
func sendBench(tb testing.TB, w Workload, hooks *Hooks) (*run, *producer, func(*kgo.Record, error)) {
	tb.Helper()
	pw := parsed(tb, w)
	pw.buildPool(16 << 10)
	r := &run{cfg: RunConfig{Topic: TopicConfig{Name: "t"}, Hooks: hooks}, start: time.Now(), runID: 7}
	pr := &producer{gen: newGenerator(pw, 0), m: newMeter(0), mem: sendMemory{ctx: context.Background()}, clock: ackClock{io: -1}}
	return r, pr, r.promise(pr)
}

// sendOne is the produce loop's per-record work, the client's Produce
// replaced by the promise being called at once.
func sendOne(r *run, pr *producer, promise func(*kgo.Record, error), seq uint64) {
	now := time.Now()
	rec := r.record(pr, pr.mem.slot(), seq, now.Sub(r.start), now)
	pr.m.sent(now.Sub(r.start))
	promise(rec, nil)
}

func sendWorkloads(t testing.TB) map[string]Workload {
	path := filepath.Join(t.TempDir(), "lines")
	if err := os.WriteFile(path, []byte("one line\nanother line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]Workload{
		"random-100B":          {RecordSize: "100"},
		"random-1KiB-keyed":    {RecordSize: "1KiB", Keys: "round-robin", Compressibility: 0.5},
		"random-fresh-1KiB":    {RecordSize: "1KiB", PayloadPool: "0"},
		"json-zipf-keys":       {RecordSize: "512", Payload: "json", Keys: "zipf:1000:1.2"},
		"file-uniform-keys":    {Payload: "file:" + path, Keys: "uniform:100"},
		"random-normal-sizes":  {RecordSize: "normal:1KiB:100"},
		"random-uniform-sizes": {RecordSize: "uniform:10:2000", Keys: "round-robin:50"},
	}
}

// TestSendPathAllocations: making, stamping, metering and acknowledging a
// record allocates nothing per record in kbench's own code, for every
// payload and key kind, also with an OnAck hook set: memory comes in slabs
// of 64 records and 64 KiB chunks, so 1,000 records of at most 1 KiB take at
// most 16 + 16 + 1 allocations.
func TestSendPathAllocations(t *testing.T) {
	for name, w := range sendWorkloads(t) {
		var acks int
		r, pr, promise := sendBench(t, w, &Hooks{OnAck: func(int, uint64, *kgo.Record, error) { acks++ }})
		seq := uint64(0)
		for range 1000 { // warm: slots, value buffers, histograms' counts
			sendOne(r, pr, promise, seq)
			seq++
		}
		allocs := testing.AllocsPerRun(20, func() {
			for range 1000 {
				sendOne(r, pr, promise, seq)
				seq++
			}
		})
		if allocs > 33 {
			t.Errorf("%s: %.1f allocations per 1000 records, want at most 33 (slabs and chunks)", name, allocs)
		}
		if acks != int(seq) || pr.m.count() != int64(seq) {
			t.Errorf("%s: %d acks seen by the hook and %d by the meter, want %d", name, acks, pr.m.count(), seq)
		}
	}
}

// TestSendPathRecord: records made one after the other from slab and chunk
// memory each carry their own key, a json value of that key and, in an e2e
// run, their own stamp, none of a neighbour's; a produce run's records carry
// no header at all.
func TestSendPathRecord(t *testing.T) {
	r, pr, promise := sendBench(t, Workload{RecordSize: "64", Payload: "json", Keys: "round-robin"}, nil)
	if rec := r.record(pr, pr.mem.slot(), 0, 0, r.start); len(rec.Headers) != 0 {
		t.Fatalf("produce run: record has %d headers, want none", len(rec.Headers))
	}
	r.cfg.Mode = ModeE2E
	for seq := range uint64(200) {
		intended := time.Duration(seq) * time.Millisecond
		rec := r.record(pr, pr.mem.slot(), seq, intended, r.start.Add(intended))
		if string(rec.Key) != "key-"+itoa(seq) {
			t.Fatalf("record %d has key %q", seq, rec.Key)
		}
		var ev map[string]any
		if err := json.Unmarshal(rec.Value, &ev); err != nil || ev["session_id"] != string(rec.Key) {
			t.Fatalf("record %d: value %q (%v): want a json event of its key", seq, rec.Value, err)
		}
		got, ours, timed := r.stamp(rec)
		if !ours || !timed || got != intended || len(rec.Headers) != 1 || rec.Topic != "t" {
			t.Fatalf("record %d: stamp %v ours %v headers %d topic %q", seq, got, ours, len(rec.Headers), rec.Topic)
		}
		pr.m.sent(intended)
		promise(rec, nil)
	}
}

func itoa(n uint64) string { return string(appendUint(nil, n)) }

func appendUint(b []byte, n uint64) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// BenchmarkSendPath is kbench's own per-record produce work (the client's
// Produce excluded): 0 allocs/op, the bytes coming from slabs and chunks.
func BenchmarkSendPath(b *testing.B) {
	for name, w := range sendWorkloads(b) {
		b.Run(name, func(b *testing.B) {
			r, pr, promise := sendBench(b, w, nil)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sendOne(r, pr, promise, uint64(i))
			}
		})
	}
}

// BenchmarkConsumeRecord is kbench's own per-record consume work: decoding
// the stamp and metering the e2e latency; 0 allocs/op is the target.
func BenchmarkConsumeRecord(b *testing.B) {
	r := &run{cfg: RunConfig{Mode: ModeE2E}, runID: 7}
	m := newMeter(0)
	stamp := make([]byte, 16)
	stamp[7] = 7
	stamp[14] = 1
	rec := &kgo.Record{Value: make([]byte, 1024), Headers: []kgo.RecordHeader{{Key: "other", Value: []byte("x")}, {Key: StampHeader, Value: stamp}}}
	b.ReportAllocs()
	m.mu.Lock()
	defer m.mu.Unlock()
	for b.Loop() {
		intended, ours, timed := r.stamp(rec)
		m.consumed(intended, time.Millisecond, len(rec.Value), ours, timed)
	}
	if m.all == 0 || m.meas.e2e.TotalCount() == 0 {
		b.Fatal("stamp not recognised")
	}
}

// TestAckClockReadsAfterIO: acknowledgements share a clock reading only
// while the client has neither written nor read anything since it was
// taken; after a response (or, with acks=0, a request) the next
// acknowledgement reads the clock again. The run's start is moved back to
// stand for time passing, so no test waits.
func TestAckClockReadsAfterIO(t *testing.T) {
	r, pr, _ := sendBench(t, Workload{RecordSize: "10"}, nil)
	first := pr.clock.now(r)
	r.start = r.start.Add(-time.Hour)
	if got := pr.clock.now(r); got != first {
		t.Fatalf("no request or response since the last reading: got %v, want the shared %v", got, first)
	}
	r.wire.OnBrokerRead(kgo.BrokerMetadata{}, 0, 100, 0, 0, nil)
	if got := pr.clock.now(r); got < first+time.Hour {
		t.Fatalf("after a response: got %v, want a fresh reading past %v", got, first+time.Hour)
	}
	again := pr.clock.now(r)
	r.start = r.start.Add(-time.Hour)
	r.wire.OnBrokerWrite(kgo.BrokerMetadata{}, 0, 100, 0, 0, nil)
	if got := pr.clock.now(r); got < again+time.Hour {
		t.Fatalf("after a request (acks=0): got %v, want a fresh reading past %v", got, again+time.Hour)
	}
}

// TestAckRing: acknowledgements recorded without the mutex while other
// goroutines drain intervals, read progress and swap the phase all reach
// the tallies exactly once, in the warmup or the measured tally their
// intended time says; run under -race it also checks the ring's hand-over.
func TestAckRing(t *testing.T) {
	const n = 100000
	warmup := time.Duration(n/4) * time.Microsecond
	m := newMeter(warmup)
	done := make(chan struct{})
	var written atomic.Bool
	var drained []*tally
	go func() {
		defer close(done)
		for {
			d := newTally()
			m.drainInterval(d)
			drained = append(drained, d)
			if _, pending := m.progress(); pending == 0 && written.Load() {
				return
			}
		}
	}()
	for i := range n {
		intended := time.Duration(i) * time.Microsecond
		m.sent(intended)
		if i%1000 == 999 {
			m.failedAck(intended, intended, intended+time.Millisecond, 100, kerr.NotEnoughReplicas)
			continue
		}
		m.acked(intended, intended, intended+time.Millisecond, 100)
	}
	written.Store(true)
	<-done
	last := newTally()
	m.drainInterval(last)
	sum := newTally()
	for _, d := range append(drained, last) {
		sum.merge(d)
	}
	if want := int64(n - n/1000); sum.acked != want || sum.service.TotalCount() != want || sum.ackedBytes != 100*want {
		t.Errorf("intervals hold %d acks (%d timed, %d bytes), want %d", sum.acked, sum.service.TotalCount(), sum.ackedBytes, want)
	}
	if sum.failed != n/1000 {
		t.Errorf("intervals hold %d failures, want %d", sum.failed, n/1000)
	}
	tot := newTally()
	m.total(tot)
	wantMeasured := int64(0)
	for i := n / 4; i < n; i++ {
		if i%1000 != 999 {
			wantMeasured++
		}
	}
	if tot.acked != wantMeasured || tot.response.Max() < int64(time.Millisecond/time.Microsecond) {
		t.Errorf("measured window holds %d acks, want %d (those sent after warmup)", tot.acked, wantMeasured)
	}
	if done, pending := m.progress(); done != n || pending != 0 {
		t.Errorf("progress: %d done, %d pending, want %d and 0", done, pending, n)
	}
}

// spin keeps the thread busy for d.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// TestOwnClock checks what the own-code clock counts: busy stretches, in
// full; a stretch the thread spent mostly asleep (as when descheduled) not
// at all, when such stretches are rare; and long stretches when they are
// the rule.
func TestOwnClock(t *testing.T) {
	var c ownClock
	const n, busy = 2000, 5 * time.Microsecond
	for i := range n {
		m := ownStart()
		spin(busy)
		if i%500 == 0 {
			time.Sleep(20 * time.Millisecond) // interrupted: far past ownCap
		}
		c.add(m, 10)
	}
	// Each sample is at least busy long; a loaded machine may stretch
	// some, so the upper bound is loose, but far below the 4 × 2 ms × 10
	// the interrupted samples would add.
	got, low, high := c.total(), time.Duration(n*10)*busy, time.Duration(n*10)*busy*3
	if got < low*9/10 || got > high {
		t.Errorf("own time %v from %d samples of %v scaled by 10: want %v to %v", got, n, busy, low, high)
	}
	if long := c.long.Load(); long < 4 {
		t.Errorf("%d samples above ownCap, want at least the 4 interrupted ones", long)
	}

	// Every stretch long: they are the work, not interruptions.
	var l ownClock
	for range 20 {
		m := ownStart()
		spin(ownCap + 100*time.Microsecond)
		l.add(m, 1)
	}
	if got, want := l.total(), 20*(ownCap+100*time.Microsecond); got < want {
		t.Errorf("own time %v from 20 long stretches, want at least %v", got, want)
	}
}
