package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/kbench/kbench/internal/units"
)

// A backlog run (RunConfig.Backlog > 0, e2e only) measures how fast
// consumers catch up, the way OpenMessaging Benchmark's backlog test is
// set up, and reports the figures OMB leaves out:
//
//  1. Build: producers run at the target rate from the start; the consumers
//     are connected but paused. When the records acknowledged and not yet
//     consumed reach Backlog bytes, the consumers resume, reading from where
//     the run's producing started.
//  2. Drain: producers keep their rate; the drain ends when the backlog
//     (acknowledged minus consumed records) falls to the drain level, and
//     then the load stops.
//
// A steady stream never shows an empty backlog (records in flight), so the
// drain level is the larger of (1 − DrainRatio) × the records built and a
// floor of 1000 records (as OMB) but at most a tenth of the records built.
// The run's Warmup + Duration bounds both phases: a backlog that was never
// built or never drained by then makes the result invalid.
// Phase figures count every record, warmup or not.

// backlogPoll is how often the phases are checked: the drain time's
// resolution.
const backlogPoll = 5 * time.Millisecond

// drainFloor is the most records the drain level is raised to.
const drainFloor = 1000

// BacklogFigures are a backlog run's build and drain figures.
type BacklogFigures struct {
	TargetBytes int64   `json:"target_bytes"`
	DrainRatio  float64 `json:"drain_ratio"`
	// Built says the backlog reached TargetBytes; BuiltRecords/BuiltBytes
	// is what was retained when the consumers resumed (or, if never built,
	// when the run ended), after BuildS seconds of producing.
	Built        bool    `json:"built"`
	BuiltRecords int64   `json:"built_records"`
	BuiltBytes   int64   `json:"built_bytes"`
	BuildS       Seconds `json:"build_s"`
	// DrainLevel is the backlog, in records, at which the drain counts as done.
	DrainLevel int64 `json:"drain_level_records"`
	// Drained says the backlog fell to DrainLevel, DrainS seconds after the
	// consumers resumed; otherwise DrainS is how long they tried and
	// LeftRecords what was still unconsumed when the run ended.
	Drained     bool    `json:"drained"`
	DrainS      Seconds `json:"drain_s"`
	LeftRecords int64   `json:"left_records"`
	// During the drain: consumed and acknowledged records and rates; the
	// net rate (consumed minus produced) is how fast the backlog shrank.
	DrainConsumed        int64   `json:"drain_consumed"`
	DrainRecordsPerSec   float64 `json:"drain_records_per_sec"`
	DrainMiBPerSec       float64 `json:"drain_mib_per_sec"`
	DrainProduced        int64   `json:"drain_produced"`
	ProduceRecordsPerSec float64 `json:"drain_produce_records_per_sec"`
	NetRecordsPerSec     float64 `json:"drain_net_records_per_sec"`
	// The producers' latencies while the backlog was built (consumers
	// paused) and while it drained.
	BeforeDrain PhaseLatency `json:"before_drain"`
	DuringDrain PhaseLatency `json:"during_drain"`
}

// PhaseLatency is the producers' latency over one phase of a backlog run.
type PhaseLatency struct {
	Service  *Latency `json:"service,omitempty"`
	Response *Latency `json:"response,omitempty"`
}

// backlog drives the phases of a backlog run; nil when there is none.
type backlog struct {
	r      *run
	resume chan struct{} // closed when the consumers may read

	mu      sync.Mutex // guards fig and resumed
	fig     BacklogFigures
	resumed time.Duration // since run start
}

func newBacklog(r *run) *backlog {
	if r.cfg.Backlog <= 0 {
		return nil
	}
	return &backlog{r: r, resume: make(chan struct{}), fig: BacklogFigures{TargetBytes: r.cfg.Backlog, DrainRatio: r.cfg.DrainRatio}}
}

func (b *backlog) meters() []*meter {
	return append(b.r.producerMeters(), b.r.consumerMeters()...)
}

// begin starts the build phase; call it before any record is sent.
func (b *backlog) begin() {
	if b == nil {
		return
	}
	for _, m := range b.meters() {
		m.swapPhase(newTally())
	}
}

// waitResume blocks a consumer until the backlog is built or ctx ends.
func (b *backlog) waitResume(ctx context.Context) {
	if b == nil {
		return
	}
	select {
	case <-b.resume:
	case <-ctx.Done():
	}
}

// watch runs the phases until the drain ends (it then calls stopLoad) or
// the load ends otherwise; the returned channel closes when it is done.
func (b *backlog) watch(loadCtx context.Context, loadDone <-chan struct{}, stopLoad context.CancelFunc) <-chan struct{} {
	done := make(chan struct{})
	if b == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		b.phases(loadCtx, loadDone, stopLoad)
	}()
	return done
}

func (b *backlog) phases(loadCtx context.Context, loadDone <-chan struct{}, stopLoad context.CancelFunc) {
	tick := time.NewTicker(backlogPoll)
	defer tick.Stop()
	building := true
	for {
		select {
		case <-loadDone:
			b.end(building)
			return
		case <-loadCtx.Done():
			b.end(building)
			return
		case <-tick.C:
		}
		var c tally
		for _, m := range b.meters() {
			m.phaseCounts(&c)
		}
		if building {
			if c.ackedBytes-c.consumedBytes >= b.r.cfg.Backlog {
				b.built()
				building = false
			}
			continue
		}
		b.mu.Lock()
		left := b.fig.BuiltRecords + c.acked - c.consumed
		level := b.fig.DrainLevel
		b.mu.Unlock()
		if left <= level {
			b.drained(true)
			stopLoad()
			return
		}
	}
}

// swap starts a new phase (nil: none) and returns the old phase's
// producer and consumer tallies, each summed over the clients.
func (b *backlog) swap(next bool) (prod, cons *tally) {
	prod, cons = newTally(), newTally()
	for _, ms := range []struct {
		meters []*meter
		sum    *tally
	}{{b.r.producerMeters(), prod}, {b.r.consumerMeters(), cons}} {
		for _, m := range ms.meters {
			var t *tally
			if next {
				t = newTally()
			}
			if old := m.swapPhase(t); old != nil {
				ms.sum.merge(old)
			}
		}
	}
	return prod, cons
}

// built ends the build phase and resumes the consumers.
func (b *backlog) built() {
	prod, cons := b.swap(true)
	at := time.Since(b.r.start)
	b.mu.Lock()
	b.resumed = at
	b.fig.Built = true
	b.fig.BuildS = secs(at)
	b.fig.BuiltRecords = prod.acked - cons.consumed
	b.fig.BuiltBytes = prod.ackedBytes - cons.consumedBytes
	b.fig.DrainLevel = drainLevel(b.fig.BuiltRecords, b.r.cfg.DrainRatio)
	b.fig.BeforeDrain = PhaseLatency{Service: summarize(prod.service), Response: summarize(prod.response)}
	b.mu.Unlock()
	b.open()
}

func (b *backlog) open() {
	close(b.resume)
	for _, c := range b.r.consumers {
		c.cl.ResumeFetchTopics(b.r.cfg.Topic.Name)
	}
}

// drained ends the drain phase (ok: the backlog reached its level).
func (b *backlog) drained(ok bool) {
	prod, cons := b.swap(false)
	at := time.Since(b.r.start)
	b.mu.Lock()
	defer b.mu.Unlock()
	f := &b.fig
	d := at - b.resumed
	f.Drained = ok
	f.DrainS = secs(d)
	f.DrainConsumed, f.DrainProduced = cons.consumed, prod.acked
	f.LeftRecords = max(f.BuiltRecords+prod.acked-cons.consumed, 0)
	f.DrainRecordsPerSec = perSec(cons.consumed, d)
	f.DrainMiBPerSec = perSec(cons.consumedBytes, d) / mib
	f.ProduceRecordsPerSec = perSec(prod.acked, d)
	f.NetRecordsPerSec = f.DrainRecordsPerSec - f.ProduceRecordsPerSec
	f.DuringDrain = PhaseLatency{Service: summarize(prod.service), Response: summarize(prod.response)}
}

// end closes whatever phase was running when the load ended first.
func (b *backlog) end(building bool) {
	if !building {
		b.drained(false)
		return
	}
	// Never built: report how far it got, and let the consumers read so
	// the run's final catch-up still accounts for every record.
	prod, cons := b.swap(false)
	b.mu.Lock()
	b.fig.BuildS = secs(time.Since(b.r.start))
	b.fig.BuiltRecords = prod.acked - cons.consumed
	b.fig.BuiltBytes = prod.ackedBytes - cons.consumedBytes
	b.fig.BeforeDrain = PhaseLatency{Service: summarize(prod.service), Response: summarize(prod.response)}
	b.mu.Unlock()
	b.open()
}

// figures returns the run's backlog figures; call after watch is done.
func (b *backlog) figures() *BacklogFigures {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fig
	return &f
}

// drainLevel is the backlog in records at which a drain is done.
func drainLevel(built int64, ratio float64) int64 {
	level := int64(math.Ceil((1 - ratio) * float64(built)))
	return max(level, min(drainFloor, built/10))
}

// invalid says why a backlog run's figures do not stand.
func (f *BacklogFigures) invalid() []string {
	switch {
	case f == nil:
		return nil
	case !f.Built:
		return []string{fmt.Sprintf("the backlog never reached %s: %d bytes (%d records) were retained after %.1f s; lengthen the run or raise the rate",
			units.FormatBytes(f.TargetBytes), f.BuiltBytes, f.BuiltRecords, float64(f.BuildS))}
	case !f.Drained:
		return []string{fmt.Sprintf("the backlog did not drain to %d records within the run: %d records were left after %.1f s of draining (net %.0f records/s)",
			f.DrainLevel, f.LeftRecords, float64(f.DrainS), f.NetRecordsPerSec)}
	}
	return nil
}

func (c RunConfig) validateBacklog() []error {
	switch {
	case c.Backlog < 0:
		return []error{fmt.Errorf("backlog %d: want a size >= 0 bytes", c.Backlog)}
	case c.Backlog == 0 && c.DrainRatio != 0:
		return []error{errors.New("drain ratio: only used with a backlog")}
	case c.Backlog == 0:
		return nil
	}
	var errs []error
	if c.Mode != ModeE2E {
		errs = append(errs, fmt.Errorf("backlog: needs an e2e run (producers and consumers), not %s", c.Mode))
	}
	if c.DrainRatio <= 0 || c.DrainRatio > 1 {
		errs = append(errs, fmt.Errorf("drain ratio %v: want 0 < ratio <= 1 (the share of the backlog to consume)", c.DrainRatio))
	}
	if c.Duration == 0 {
		errs = append(errs, errors.New("backlog: give a duration; it bounds building and draining the backlog"))
	}
	if c.Rate == 0 {
		errs = append(errs, errors.New("backlog: needs a rate (records/s) for the producers to keep while it drains"))
	}
	if c.NumRecords > 0 {
		errs = append(errs, errors.New("backlog: num-records cannot be combined with a backlog; the drain ends the run"))
	}
	return errs
}

// writeBacklog adds a backlog run's figures to the summary.
func writeBacklog(b *strings.Builder, f *BacklogFigures) {
	if f == nil {
		return
	}
	state := "built"
	if !f.Built {
		state = "NOT built (target " + units.FormatBytes(f.TargetBytes) + ")"
	}
	fmt.Fprintf(b, "\nbacklog %s: %s (%d records) retained after %.2f s\n", state, units.FormatBytes(f.BuiltBytes), f.BuiltRecords, float64(f.BuildS))
	if !f.Built {
		return
	}
	if f.Drained {
		fmt.Fprintf(b, "drain time: %.3f s to %d records left (drain ratio %g)\n", float64(f.DrainS), f.DrainLevel, f.DrainRatio)
	} else {
		fmt.Fprintf(b, "drain time: NOT drained to %d records in %.3f s; %d left (drain ratio %g)\n", f.DrainLevel, float64(f.DrainS), f.LeftRecords, f.DrainRatio)
	}
	fmt.Fprintf(b, "drain rate: %.1f records/s, %.2f MiB/s consumed; producers %.1f records/s; net %.1f records/s\n",
		f.DrainRecordsPerSec, f.DrainMiBPerSec, f.ProduceRecordsPerSec, f.NetRecordsPerSec)
	fmt.Fprintf(b, "%-20s %24s %24s\n", "producer latency ms", "before drain p50 / p99", "during drain p50 / p99")
	for _, row := range []struct {
		name           string
		before, during *Latency
	}{{"service", f.BeforeDrain.Service, f.DuringDrain.Service}, {"response", f.BeforeDrain.Response, f.DuringDrain.Response}} {
		fmt.Fprintf(b, "%-20s %24s %24s\n", row.name, p50p99(row.before), p50p99(row.during))
	}
}

func p50p99(l *Latency) string {
	if l == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f / %.2f", l.P50, l.P99)
}
