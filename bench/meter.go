package bench

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tally is one set of counters and histograms: either one interval's or the
// whole measured window's.
type tally struct {
	sent, acked, failed     int64
	ackedBytes              int64
	consumed, consumedBytes int64
	service, response, e2e  *hdr.Histogram
	lastAck, lastConsume    time.Duration // since run start
	errs                    map[errKey]int64
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
	t.consumed += o.consumed
	t.consumedBytes += o.consumedBytes
	t.service.Merge(o.service)
	t.response.Merge(o.response)
	t.e2e.Merge(o.e2e)
	t.lastAck = max(t.lastAck, o.lastAck)
	t.lastConsume = max(t.lastConsume, o.lastConsume)
	for k, v := range o.errs {
		t.errs[k] += v
	}
}

func (t *tally) reset() {
	t.sent, t.acked, t.failed, t.ackedBytes, t.consumed, t.consumedBytes = 0, 0, 0, 0, 0, 0
	t.service.Reset()
	t.response.Reset()
	t.e2e.Reset()
	clear(t.errs)
}

// meter is one client's recorder. Acks arrive on franz-go's goroutines and
// snapshots on the reporter's, hence the mutex; each client has its own
// meter so producers do not contend with each other.
type meter struct {
	mu     sync.Mutex
	warmup time.Duration
	iv     *tally // since the last snapshot, warmup included (for live lines)
	tot    *tally // measured window only
	all    int64  // records acked or consumed, warmup included (for draining)
	// pending counts records handed to the client and not yet acked or
	// failed; outcomes those that were.
	pending, outcomes int64
}

func newMeter(warmup time.Duration) *meter {
	return &meter{warmup: warmup, iv: newTally(), tot: newTally()}
}

func (m *meter) sent(intended time.Duration) {
	m.mu.Lock()
	m.iv.sent++
	m.pending++
	if intended >= m.warmup {
		m.tot.sent++
	}
	m.mu.Unlock()
}

// ack records one produce outcome; times are since run start.
func (m *meter) ack(intended, actual, acked time.Duration, bytes int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending--
	m.outcomes++
	measured := intended >= m.warmup
	if err != nil {
		k := classify(err)
		m.iv.failed++
		m.iv.errs[k]++
		// Errors count whenever they happen: a failure in warmup still
		// says the setup is broken.
		m.tot.errs[k]++
		if measured {
			m.tot.failed++
		}
		return
	}
	m.all++
	for _, t := range []*tally{m.iv, m.tot} {
		if t == m.tot && !measured {
			continue
		}
		t.acked++
		t.ackedBytes += int64(bytes)
		record(t.service, acked-actual)
		record(t.response, acked-intended)
		t.lastAck = max(t.lastAck, acked)
	}
}

// consumed records one consumed record; intended < 0 when the record has no
// kbench stamp (e2e latency unknown), now is since run start.
func (m *meter) consumed(intended, now time.Duration, bytes int, ours bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ours {
		m.all++
	}
	measured := now >= m.warmup
	if intended >= 0 {
		measured = intended >= m.warmup
	}
	for _, t := range []*tally{m.iv, m.tot} {
		if t == m.tot && !measured {
			continue
		}
		t.consumed++
		t.consumedBytes += int64(bytes)
		if intended >= 0 {
			record(t.e2e, now-intended)
		}
		t.lastConsume = max(t.lastConsume, now)
	}
}

func (m *meter) fetchError(err error) {
	m.mu.Lock()
	k := classify(err)
	m.iv.errs[k]++
	m.tot.errs[k]++
	m.mu.Unlock()
}

// drainInterval adds the interval tally into dst and resets it.
func (m *meter) drainInterval(dst *tally) {
	m.mu.Lock()
	dst.merge(m.iv)
	m.iv.reset()
	m.mu.Unlock()
}

func (m *meter) total(dst *tally) {
	m.mu.Lock()
	dst.merge(m.tot)
	m.mu.Unlock()
}

// progress returns how many records got an outcome (warmup included) and
// how many are still waiting for one.
func (m *meter) progress() (done, pending int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outcomes, m.pending
}

func (m *meter) outstanding() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending
}

func (m *meter) count() int64 {
	m.mu.Lock()
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
