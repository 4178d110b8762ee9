package bench

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sendSlot is one record in flight with what its acknowledgement needs
// besides the record: its sequence number and the times to measure
// against. It holds nothing more (the acknowledged size is the record's key
// and value), so a record costs the producer little more memory than the
// client's own record does. Slots are carved from slabs and never reused,
// like records from the allocator but one allocation per slotsPerSlab
// records. (Reusing a slot after its promise was measured to cost more than
// it saves: the promise runs on another core, and taking the slot's cache
// lines back costs the producer more than fresh memory does.) The slot is
// the record's Context — embedding the produce context, so the client
// cancels records exactly as before — which is how a producer's one promise
// finds it.
type sendSlot struct {
	context.Context
	rec              kgo.Record
	seq              uint64
	intended, actual time.Duration
}

// stampSlot is the stamp header of one record of an e2e run, the only kind
// of run whose consumers read it; carved from slabs like sendSlot.
type stampSlot struct {
	hdr   [1]kgo.RecordHeader
	stamp [16]byte
}

// slotsPerSlab is how many slots one allocation makes.
const slotsPerSlab = 64

// arenaChunk is the size of the chunks keys and generated values are
// carved from; a value larger than a quarter of it gets its own buffer.
const arenaChunk = 64 << 10

// sendMemory hands a producer goroutine its slots and the bytes for keys and
// generated values, from slabs and chunks: the per-record work allocates
// nothing itself.
type sendMemory struct {
	ctx    context.Context
	slots  []sendSlot
	stamps []stampSlot
	buf    []byte // the unused rest of the current chunk
}

func (m *sendMemory) slot() *sendSlot {
	if len(m.slots) == 0 {
		m.slots = make([]sendSlot, slotsPerSlab)
	}
	s := &m.slots[0]
	m.slots = m.slots[1:]
	s.Context = m.ctx
	return s
}

func (m *sendMemory) stamp() *stampSlot {
	if len(m.stamps) == 0 {
		m.stamps = make([]stampSlot, slotsPerSlab)
	}
	s := &m.stamps[0]
	m.stamps = m.stamps[1:]
	return s
}

// scratch returns an empty slice with room for n bytes to append to; keep
// then claims what was used.
func (m *sendMemory) scratch(n int) []byte {
	if n > arenaChunk/4 {
		return make([]byte, 0, n)
	}
	if len(m.buf) < n {
		m.buf = make([]byte, arenaChunk)
	}
	return m.buf[:0:n]
}

// keep claims b, which was appended to scratch's slice, so no later
// scratch hands out its bytes; a b that outgrew its scratch has its own.
func (m *sendMemory) keep(b []byte) {
	if len(b) > 0 && len(b) <= len(m.buf) && &b[0] == &m.buf[0] {
		m.buf = m.buf[len(b):]
	}
}

// ownSample is how often (one record in N) the CPU time spent in kbench's
// own per-record code is measured; the sum, scaled up, says how much of the
// generator's CPU the generator itself took rather than the client.
const ownSample = 1024

// ownPollSample is how often (one poll in N) a consumer measures the CPU
// time of its own per-poll code.
const ownPollSample = 8

// ownSampled picks one record in ownSample by a hash of its sequence
// number, so the sample does not keep hitting the records that start a new
// slab (every 64th).
func ownSampled(seq uint64) bool { return (seq*0x9E3779B97F4A7C15)>>54 == 0 }

// ownClock accumulates the sampled time spent in kbench's own code. The
// producer goroutine and the promise both add to a producer's clock.
//
// A stretch is timed on the monotonic clock, which Go reads without a
// system call, not on the thread's CPU clock: that one is a system call,
// and entering the kernel just before a stretch of a few hundred
// nanoseconds slows the stretch itself (caches, branch predictors), so it
// read kbench's own share about 1.7 times what a CPU profile shows. The
// monotonic clock counts a stretch in which the thread was descheduled,
// though, so a sample longer than ownCap is set aside as interrupted —
// unless long samples are the rule rather than the exception (a large
// value generated afresh per record), when they are the work itself.
type ownClock struct {
	ns, longNS atomic.Int64 // samples up to ownCap, and above it, scaled
	n, long    atomic.Int64 // samples, and those above ownCap
}

// ownCap is the longest sample taken as uninterrupted work: longer than
// anything kbench's per-record code takes for records up to a few KiB,
// shorter than the time slice the scheduler gives another thread.
const ownCap = 200 * time.Microsecond

// ownMark is where a measured stretch of kbench's own code began, on the
// monotonic clock.
type ownMark time.Duration

// ownEpoch anchors ownMark readings.
var ownEpoch = time.Now()

func ownStart() ownMark { return ownMark(time.Since(ownEpoch)) }

// add adds the time since m, less what reading the clock costs on average,
// scaled by scale. A sample below the average cost counts negative:
// clamping it at zero would count the clock's own jitter as kbench's work.
func (c *ownClock) add(m ownMark, scale int64) {
	d := int64(time.Since(ownEpoch) - time.Duration(m))
	c.n.Add(1)
	if d > int64(ownCap) {
		c.long.Add(1)
		c.longNS.Add(d * scale)
		return
	}
	c.ns.Add((d - ownOverhead()) * scale)
}

// total is the time kbench's own code took, scaled up from the samples.
// Samples above ownCap count only when they are more than one in a
// hundred: a thread is descheduled within a sub-microsecond stretch far
// more rarely than that.
func (c *ownClock) total() time.Duration {
	t := c.ns.Load()
	if n := c.n.Load(); n > 0 && c.long.Load()*100 > n {
		t += c.longNS.Load()
	}
	return time.Duration(t)
}

// ownOverhead is what an empty measurement shows on average (the slowest
// twentieth, interrupted, left out): every measurement pays it.
var ownOverhead = sync.OnceValue(func() int64 {
	ds := make([]int64, 400)
	for i := range ds {
		m := ownStart()
		ds[i] = int64(time.Since(ownEpoch) - time.Duration(m))
	}
	slices.Sort(ds)
	ds = ds[:len(ds)*19/20]
	var sum int64
	for _, d := range ds {
		sum += d
	}
	return sum / int64(len(ds))
})

// record fills slot s with record seq of producer pr: key, value, the
// times its acknowledgement measures against and, in an e2e run, the stamp
// its consumers read. now is the send time, given to the client as the
// record's timestamp so it need not read the clock again.
func (r *run) record(pr *producer, s *sendSlot, seq uint64, intended time.Duration, now time.Time) *kgo.Record {
	actual := now.Sub(r.start)
	mem := &pr.mem
	var key, val []byte
	if pr.gen.keyed {
		key = pr.gen.appendKey(mem.scratch(maxKeyLen), seq)
		mem.keep(key)
	}
	if pr.gen.writes {
		val = pr.gen.appendValue(mem.scratch(pr.gen.valueRoom), key, r.start.Add(intended))
		mem.keep(val)
	} else {
		val = pr.gen.appendValue(nil, key, time.Time{}) // only a json value (written) reads the time
	}
	// Field by field into the zeroed slot: assigning a whole kgo.Record
	// would copy its zero fields too, under the GC's write barrier.
	rec := &s.rec
	rec.Topic, rec.Key, rec.Value, rec.Timestamp, rec.Context = r.cfg.Topic.Name, key, val, now, s
	if r.cfg.Mode == ModeE2E {
		st := mem.stamp()
		binary.BigEndian.PutUint64(st.stamp[:], r.runID)
		binary.BigEndian.PutUint64(st.stamp[8:], uint64(intended))
		st.hdr[0] = kgo.RecordHeader{Key: StampHeader, Value: st.stamp[:]}
		rec.Headers = st.hdr[:]
	}
	s.seq, s.intended, s.actual = seq, intended, actual
	return rec
}

// ackClock is a producer's acknowledgement time: the clock is read again
// only when a request was written or a response read since the last
// reading. That is exact, not an approximation: a record's promise runs
// after its response was read (or, with acks=0, its request written), and
// the client counts that in wireStats.io first; with io unchanged since the
// last reading, the record's response was in before it, so the reading lies
// between the response and the promise, as a fresh one would. A broker
// stall shows in full: its responses arrive after it and count as io.
type ackClock struct {
	io int64         // wireStats.io at the last reading; -1 before the first
	at time.Duration // the last reading, since run start
}

func (c *ackClock) now(r *run) time.Duration {
	if n := r.wire.io.Load(); n != c.io {
		c.io, c.at = n, time.Since(r.start)
	}
	return c.at
}

// promise is producer pr's one promise for all its records.
func (r *run) promise(pr *producer) func(*kgo.Record, error) {
	hooks := r.cfg.Hooks
	return func(rec *kgo.Record, err error) {
		s := rec.Context.(*sendSlot)
		var t0 ownMark
		sampled := ownSampled(s.seq)
		if sampled {
			t0 = ownStart()
		}
		if hooks != nil && hooks.OnAck != nil {
			hooks.OnAck(pr.id, s.seq, rec, err)
		}
		acked := pr.clock.now(r)
		if err == nil {
			pr.m.acked(s.intended, s.actual, acked, len(rec.Key)+len(rec.Value))
		} else {
			pr.m.failedAck(s.intended, s.actual, acked, len(rec.Key)+len(rec.Value), err)
		}
		if sampled && s.intended >= r.cfg.Warmup {
			pr.own.add(t0, ownSample)
		}
	}
}
