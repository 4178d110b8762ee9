package audit

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// bitset is a growable set of sequence numbers: one bit per record.
type bitset []uint64

// set adds i and reports whether it was there already.
func (b *bitset) set(i uint64) bool {
	w := int(i >> 6)
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	m := uint64(1) << (i & 63)
	was := (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b bitset) has(i uint64) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(uint64(1)<<(i&63)) != 0
}

func (b bitset) count() int64 {
	var n int
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// andNotCount counts the members of b that are not in c.
func (b bitset) andNotCount(c bitset) int64 {
	var n int
	for i, w := range b {
		if i < len(c) {
			w &^= c[i]
		}
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

func (b bitset) bytes() int64 { return int64(cap(b)) * 8 }

// ackRun is a stretch of acknowledgements of one producer on one
// partition with consecutive sequence numbers at consecutive offsets (one
// record batch, typically). off is -1 when offsets are unknown (acks=0).
type ackRun struct {
	seq  uint64
	part int32
	off  int64
	n    uint64
}

// ledger is one producer's bookkeeping: which sequence numbers were
// acknowledged (a bitset) and where (a run-length, delta- and
// varint-encoded log: a batch of records costs a few bytes, a lone record
// about four). Memory is then about 1 bit plus 0.1 to 4 bytes per record.
type ledger struct {
	// sent is one past the highest sequence number handed to the client;
	// only the producer's own goroutine writes it.
	sent atomic.Uint64

	mu         sync.Mutex
	acked      bitset
	ackedN     int64
	failed     int64
	doubleAcks int64 // a second success for one id: a client bug
	log        []byte
	pending    ackRun // n == 0: none
	lastSeqEnd uint64
	lastOff    []int64 // per partition: the encoder's offset base
}

func (l *ledger) noteSent(seq uint64) {
	if seq+1 > l.sent.Load() {
		l.sent.Store(seq + 1)
	}
}

func (l *ledger) fail() {
	l.mu.Lock()
	l.failed++
	l.mu.Unlock()
}

// ack records that seq was acknowledged at part/off (off -1: unknown).
func (l *ledger) ack(seq uint64, part int32, off int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acked.set(seq) {
		l.doubleAcks++
		return
	}
	l.ackedN++
	p := &l.pending
	if p.n > 0 && seq == p.seq+p.n && part == p.part && (off == p.off+int64(p.n) || (off < 0 && p.off < 0)) {
		p.n++
		return
	}
	l.flush()
	*p = ackRun{seq: seq, part: part, off: off, n: 1}
}

// flush appends the pending run to the log. Caller holds mu.
func (l *ledger) flush() {
	p := l.pending
	if p.n == 0 {
		return
	}
	if int(p.part) >= len(l.lastOff) {
		l.lastOff = append(l.lastOff, make([]int64, int(p.part)+1-len(l.lastOff))...)
	}
	l.log = binary.AppendVarint(l.log, int64(p.seq-l.lastSeqEnd))
	l.log = binary.AppendUvarint(l.log, uint64(p.part))
	l.log = binary.AppendVarint(l.log, p.off-l.lastOff[p.part])
	l.log = binary.AppendUvarint(l.log, p.n)
	l.lastSeqEnd = p.seq + p.n
	l.lastOff[p.part] = nextBase(p)
	l.pending = ackRun{}
}

// nextBase is the offset the next run on the partition is encoded against.
func nextBase(r ackRun) int64 {
	if r.off < 0 {
		return r.off
	}
	return r.off + int64(r.n)
}

// each calls fn for every run in acknowledgement order. It flushes the
// pending run, so call it once acknowledgements have stopped.
func (l *ledger) each(fn func(ackRun)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush()
	var lastSeqEnd uint64
	var lastOff []int64
	b := l.log
	for len(b) > 0 {
		var r ackRun
		ds, n1 := binary.Varint(b)
		part, n2 := binary.Uvarint(b[n1:])
		doff, n3 := binary.Varint(b[n1+n2:])
		cnt, n4 := binary.Uvarint(b[n1+n2+n3:])
		if n1 <= 0 || n2 <= 0 || n3 <= 0 || n4 <= 0 {
			panic("audit: corrupt acknowledgement log") // written by flush alone
		}
		b = b[n1+n2+n3+n4:]
		r.seq, r.part, r.n = lastSeqEnd+uint64(ds), int32(part), cnt
		if int(r.part) >= len(lastOff) {
			lastOff = append(lastOff, make([]int64, int(r.part)+1-len(lastOff))...)
		}
		r.off = lastOff[r.part] + doff
		lastSeqEnd = r.seq + r.n
		lastOff[r.part] = nextBase(r)
		fn(r)
	}
}

// bytes is the memory the ledger holds.
func (l *ledger) bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked.bytes() + int64(cap(l.log)) + int64(cap(l.lastOff))*8
}

// partTiming tracks one partition's produce outcomes in time.
type partTiming struct {
	acks    int64
	last    time.Time     // the latest successful acknowledgement
	gap     time.Duration // longest time a record waited with no acknowledgement on the partition
	gapFrom time.Time
}

// availability finds, per partition, the longest window in which a record
// was waiting and no record was acknowledged: from the later of the
// record's send time and the partition's previous acknowledgement, to the
// record's outcome (success or failure). Partitions nothing was sent to
// are not unavailable, however long they wait.
type availability struct {
	mu    sync.Mutex
	parts []partTiming
}

func (a *availability) outcome(part int32, sent, now time.Time, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if int(part) >= len(a.parts) {
		a.parts = append(a.parts, make([]partTiming, int(part)+1-len(a.parts))...)
	}
	p := &a.parts[part]
	from := sent
	if p.last.After(from) {
		from = p.last
	}
	if g := now.Sub(from); g > p.gap {
		p.gap, p.gapFrom = g, from
	}
	if ok {
		p.acks++
		if now.After(p.last) {
			p.last = now
		}
	}
}

// window is one partition's longest wait without an acknowledgement.
type window struct {
	acks int64
	from time.Time
	dur  time.Duration
}

func (a *availability) windows(partitions int) []window {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]window, max(partitions, len(a.parts)))
	for i, p := range a.parts {
		out[i] = window{acks: p.acks, from: p.gapFrom, dur: p.gap}
	}
	return out
}

// readBack is what the scan found for one producer's ids.
type readBack struct {
	seen   bitset
	dup    bitset // read more than once
	copies int64  // extra copies beyond the first
}

func (r *readBack) read(seq uint64) {
	if r.seen.set(seq) {
		r.dup.set(seq)
		r.copies++
	}
}
