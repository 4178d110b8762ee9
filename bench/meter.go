package bench

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tally is one set of counters and histograms: either one interval's or the
// whole measured window's.
type tally struct {
	sent, acked, failed int64
	ackedBytes          int64
	// delivered and deliveredBytes count the acknowledgements that
	// arrived after warmup, whenever their records were sent: the
	// delivery rate's count (see run.result). acked counts the records
	// sent after warmup, whatever became of them later.
	delivered, deliveredBytes int64
	consumed, consumedBytes   int64
	service, response, e2e    *hdr.Histogram
	lastAck, lastConsume      time.Duration // since run start
	errs                      map[errKey]int64
}

type errKey struct {
	code int16
	name string
}

func newTally() *tally {
	return &tally{service: newHist(), response: newHist(), e2e: newHist(), errs: map[errKey]int64{}}
}

func (t *tally) merge(o *tally) {
	t.sent += o.sent
	t.acked += o.acked
	t.failed += o.failed
	t.ackedBytes += o.ackedBytes
	t.delivered += o.delivered
	t.deliveredBytes += o.deliveredBytes
	t.consumed += o.consumed
	t.consumedBytes += o.consumedBytes
	// An interval from an agent has no histogram for what it did not measure.
	for _, h := range [][2]*hdr.Histogram{{t.service, o.service}, {t.response, o.response}, {t.e2e, o.e2e}} {
		if h[1] != nil {
			h[0].Merge(h[1])
		}
	}
	t.lastAck = max(t.lastAck, o.lastAck)
	t.lastConsume = max(t.lastConsume, o.lastConsume)
	for k, v := range o.errs {
		t.errs[k] += v
	}
}

// tallyOf is an interval's counters and histograms, to merge with others.
func tallyOf(iv *Interval) *tally {
	return &tally{
		sent: iv.Sent, acked: iv.Acked, failed: iv.Failed, ackedBytes: iv.AckedBytes,
		consumed: iv.Consumed, consumedBytes: iv.ConsumedBytes,
		service: iv.Service, response: iv.Response, e2e: iv.E2E,
	}
}

// fill sets iv's counters and histograms to t's.
func (t *tally) fill(iv *Interval) {
	iv.Sent, iv.Acked, iv.Failed, iv.AckedBytes = t.sent, t.acked, t.failed, t.ackedBytes
	iv.Consumed, iv.ConsumedBytes = t.consumed, t.consumedBytes
	iv.Service, iv.Response, iv.E2E = t.service, t.response, t.e2e
}

func (t *tally) reset() {
	t.sent, t.acked, t.failed, t.ackedBytes, t.consumed, t.consumedBytes = 0, 0, 0, 0, 0, 0
	t.delivered, t.deliveredBytes = 0, 0
	t.service.Reset()
	t.response.Reset()
	t.e2e.Reset()
	clear(t.errs)
}

// meter is one client's recorder; each client has its own, merged per
// interval, so clients never contend with each other. Sends are counted
// without a lock on the producer's goroutine; acks arrive on the client's
// promise goroutine and snapshots on the reporter's, hence the mutex, which
// the reporter takes once per interval. Every outcome is recorded once, in
// the interval's warmup or measured tally; the measured one joins the
// window's total when the interval is drained.
type meter struct {
	// sentAll counts records handed to the client, warmup included;
	// sentWarm those sent during warmup. Written by the producer
	// goroutine only, they have a cache line of their own: the mutex
	// below is the promise goroutine's, on another core.
	sentAll, sentWarm atomic.Int64
	_                 [48]byte

	// acks are the successful acknowledgements not yet in the tallies:
	// the producer's promise goroutine (franz-go runs one client's
	// promises one at a time) appends to them without the mutex, and
	// whoever takes the mutex moves them into the tallies first, the
	// promise itself every ackFlush records. That keeps the mutex off the
	// per-record path, where it took about a third of kbench's promise.
	acks ackRing

	mu     sync.Mutex
	warmup time.Duration
	// warm and meas hold the outcomes since the last snapshot, split by
	// whether they belong to warmup or to the measured window; the live
	// lines show both.
	warm, meas *tally
	tot        *tally // measured window up to the last snapshot
	all        int64  // records acked or consumed, warmup included (for draining)
	// outcomes counts records acked or failed; sentAll - outcomes are
	// pending. ivSent is sentAll at the last snapshot.
	outcomes, ivSent int64
	// phase, when set, also counts every outcome, warmup or not: the
	// build and drain phases of a backlog run (backlog.go).
	phase *tally
}

func newMeter(warmup time.Duration) *meter {
	return &meter{warmup: warmup, warm: newTally(), meas: newTally(), tot: newTally()}
}

func (m *meter) sent(intended time.Duration) {
	m.sentAll.Add(1)
	if intended < m.warmup {
		m.sentWarm.Add(1)
	}
}

// interval is the tally an outcome of the current interval goes to.
func (m *meter) interval(measured bool) *tally {
	if measured {
		return m.meas
	}
	return m.warm
}

// ackRingSize is the acknowledgements the ring holds; ackFlush is how
// many the promise lets collect before it moves them into the tallies
// itself. With ackFlush at most half the ring, an entry is never written
// over before it was moved.
const (
	ackRingSize = 512
	ackFlush    = 256
)

// ackRing is a single-writer ring of acknowledgements: the writer publishes
// an entry by storing tail after it; entries from head to tail are moved
// into the tallies under the meter's mutex, which alone writes head.
type ackRing struct {
	tail, head atomic.Uint64
	// flushed is tail at the writer's last flush; head is at least
	// that, so the writer knows the ring has room without reading head.
	flushed uint64
	_       [40]byte // the promise's lines, away from the mutex's
	entries [ackRingSize]ackEntry
}

type ackEntry struct {
	intended, actual, acked time.Duration
	bytes                   int
}

// acked records one successful acknowledgement, on the producer's promise
// goroutine; times are since run start. The tallies get it at the next
// flush: every reader of them takes the mutex, and so flushes, first.
func (m *meter) acked(intended, actual, acked time.Duration, bytes int) {
	r := &m.acks
	t := r.tail.Load()
	r.entries[t%ackRingSize] = ackEntry{intended, actual, acked, bytes}
	r.tail.Store(t + 1)
	if t+1-r.flushed >= ackFlush {
		m.mu.Lock()
		m.flushAcks()
		m.mu.Unlock()
		r.flushed = t + 1
	}
}

// failedAck records one failed produce outcome (promise goroutine).
func (m *meter) failedAck(intended, actual, acked time.Duration, bytes int, err error) {
	m.mu.Lock()
	m.flushAcks()
	m.ack(intended, actual, acked, bytes, err)
	m.mu.Unlock()
}

// flushAcks moves the published acknowledgements into the tallies. The
// caller holds m.mu.
func (m *meter) flushAcks() {
	r := &m.acks
	h, t := r.head.Load(), r.tail.Load()
	for ; h != t; h++ {
		e := &r.entries[h%ackRingSize]
		m.ack(e.intended, e.actual, e.acked, e.bytes, nil)
	}
	r.head.Store(t)
}

// ack records one produce outcome; times are since run start. The caller
// holds m.mu.
func (m *meter) ack(intended, actual, acked time.Duration, bytes int, err error) {
	m.outcomes++
	measured := intended >= m.warmup
	t := m.interval(measured)
	if err != nil {
		k := classify(err)
		t.failed++
		t.errs[k]++
		if !measured {
			// Errors count whenever they happen: a failure in warmup
			// still says the setup is broken.
			m.tot.errs[k]++
		}
		return
	}
	m.all++
	if acked >= m.warmup {
		m.tot.delivered++
		m.tot.deliveredBytes += int64(bytes)
	}
	t.acked1(acked, actual, intended, bytes)
	if m.phase != nil {
		m.phase.acked1(acked, actual, intended, bytes)
	}
}

func (t *tally) acked1(acked, actual, intended time.Duration, bytes int) {
	t.acked++
	t.ackedBytes += int64(bytes)
	record(t.service, acked-actual)
	record(t.response, acked-intended)
	t.lastAck = max(t.lastAck, acked)
}

// consumed records one consumed record; intended < 0 when the record has no
// kbench stamp (e2e latency unknown), now is since run start; timed says
// whether intended is on this run's clock, so the end-to-end latency can be
// taken (another agent's record places itself in or out of the measured
// window but times nothing). The caller holds m.mu, taken once per poll.
func (m *meter) consumed(intended, now time.Duration, bytes int, ours, timed bool) {
	if ours {
		m.all++
	}
	measured := now >= m.warmup
	if intended >= 0 {
		measured = intended >= m.warmup
	}
	if !timed {
		intended = -1
	}
	m.interval(measured).consumed1(intended, now, bytes)
	if m.phase != nil {
		m.phase.consumed1(intended, now, bytes)
	}
}

func (t *tally) consumed1(intended, now time.Duration, bytes int) {
	t.consumed++
	t.consumedBytes += int64(bytes)
	if intended >= 0 {
		record(t.e2e, now-intended)
	}
	t.lastConsume = max(t.lastConsume, now)
}

func (m *meter) fetchError(err error) {
	m.mu.Lock()
	k := classify(err)
	m.meas.errs[k]++ // counted in the total whenever it happens
	m.mu.Unlock()
}

// drainInterval adds the interval's tallies into dst, the measured one
// into the total too, and resets them.
func (m *meter) drainInterval(dst *tally) {
	m.mu.Lock()
	m.flushAcks()
	sent := m.sentAll.Load()
	dst.sent += sent - m.ivSent
	m.ivSent = sent
	dst.merge(m.warm)
	dst.merge(m.meas)
	m.tot.merge(m.meas)
	m.warm.reset()
	m.meas.reset()
	m.mu.Unlock()
}

// total adds the measured window so far into dst.
func (m *meter) total(dst *tally) {
	m.mu.Lock()
	m.flushAcks()
	m.tot.sent = m.sentAll.Load() - m.sentWarm.Load()
	dst.merge(m.tot)
	dst.merge(m.meas)
	m.mu.Unlock()
}

// swapPhase makes t the phase tally (nil for none) and returns the old one.
func (m *meter) swapPhase(t *tally) *tally {
	m.mu.Lock()
	m.flushAcks()
	defer m.mu.Unlock()
	old := m.phase
	m.phase = t
	return old
}

// phaseCounts adds the phase tally's records and bytes to dst's counters.
func (m *meter) phaseCounts(dst *tally) {
	m.mu.Lock()
	m.flushAcks()
	defer m.mu.Unlock()
	if p := m.phase; p != nil {
		dst.acked += p.acked
		dst.ackedBytes += p.ackedBytes
		dst.consumed += p.consumed
		dst.consumedBytes += p.consumedBytes
	}
}

// progress returns how many records got an outcome (warmup included) and
// how many are still waiting for one.
func (m *meter) progress() (done, pending int64) {
	m.mu.Lock()
	m.flushAcks()
	defer m.mu.Unlock()
	return m.outcomes, m.sentAll.Load() - m.outcomes
}

func (m *meter) outstanding() int64 {
	_, pending := m.progress()
	return pending
}

func (m *meter) count() int64 {
	m.mu.Lock()
	m.flushAcks()
	defer m.mu.Unlock()
	return m.all
}

// classify names an error by its Kafka error code, or by what the client
// reported when the broker never answered.
func classify(err error) errKey {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return errKey{ke.Code, ke.Message}
	case errors.Is(err, kgo.ErrRecordTimeout):
		return errKey{0, "client: record timed out (delivery.timeout.ms)"}
	case errors.Is(err, kgo.ErrRecordRetries):
		return errKey{0, "client: record retries exhausted"}
	case errors.Is(err, kgo.ErrClientClosed):
		return errKey{0, "client: closed before the record was acknowledged"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errKey{0, "client: canceled"}
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return errKey{0, "client: " + msg}
}

// processCPU is the user+system CPU time this process has used. The
// embedded broker runs in this process, so its CPU is included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
