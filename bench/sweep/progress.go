package sweep

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/profiles"
)

// EventKind says what happened.
type EventKind int

// The events of a sweep, in the order they come.
const (
	SweepStarted EventKind = iota
	PointStarted
	RunStarted // a repetition or a search probe
	IntervalDone
	PointFinished
	SweepFinished
)

// Event is one step of a sweep, for progress displays.
type Event struct {
	Kind    EventKind
	Profile string
	Dir     string
	// Total points, and how many are finished (earlier sessions included).
	Total, Finished int
	// Remaining is the estimated time left; Elapsed is this session's.
	Remaining, Elapsed time.Duration

	Point    *profiles.Point
	Run      string  // run name (r1, r1-probe03)
	Rate     float64 // the run's target rate; 0 = unthrottled
	Interval *bench.Interval
	Line     *Line    // PointFinished
	Summary  *Summary // SweepFinished
}

// Progress receives a sweep's events, from one goroutine at a time.
type Progress interface {
	Event(ev Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(ev Event)

// Event calls f.
func (f ProgressFunc) Event(ev Event) { f(ev) }

// Printer shows progress: on a terminal a bar with the ETA and the current
// run's live throughput and p99, redrawn in place, with a line per finished
// point above it; otherwise plain lines.
type Printer struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
	// latency is the histogram the SLO uses, shown live.
	latency string
	bar     string // the status line currently drawn (tty)
}

var _ Progress = (*Printer)(nil)

// NewPrinter writes to w; tty selects the redrawn bar.
func NewPrinter(w io.Writer, tty bool, latency string) *Printer {
	return &Printer{w: w, tty: tty, latency: cmpOr(latency, "response")}
}

// Event prints ev.
func (p *Printer) Event(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case SweepStarted:
		p.line(fmt.Sprintf("sweep %s: %d points (%d already finished), about %s, writing to %s", ev.Profile, ev.Total, ev.Finished, fmtDur(ev.Remaining), ev.Dir))
	case PointStarted:
		if !p.tty {
			p.line(fmt.Sprintf("[%d/%d] %s %s (eta %s)", ev.Finished+1, ev.Total, ev.Point.ID, ev.Point.Label, fmtDur(ev.Remaining)))
		}
		p.status(ev, "starting")
	case RunStarted:
		what := fmt.Sprintf("%s at %s", ev.Run, rateText(ev.Rate))
		if !p.tty {
			p.line("  " + what)
		}
		p.status(ev, what)
	case IntervalDone:
		iv := ev.Interval
		d := (iv.End - iv.Start).Seconds()
		live := fmt.Sprintf("%s @ %s: %.0f rec/s, %s p99 %s", ev.Run, rateText(ev.Rate), float64(iv.Acked)/max(d, 1e-9), p.latency, p99Text(iv, p.latency))
		if iv.Warmup {
			live += " (warmup)"
		}
		if !p.tty {
			p.line(fmt.Sprintf("    [%5.1fs] %s", iv.End.Seconds(), live))
		}
		p.status(ev, live)
	case PointFinished:
		p.line(pointText(ev.Line, p.latency))
	case SweepFinished:
		if p.tty && p.bar != "" {
			fmt.Fprint(p.w, "\r\033[K")
			p.bar = ""
		}
		s := ev.Summary
		msg := fmt.Sprintf("sweep %s: %d done, %d failed, %d from earlier sessions, in %s", ev.Profile, s.Done, s.Failed, s.Skipped, fmtDur(s.Elapsed))
		if s.Interrupted {
			msg += fmt.Sprintf("; interrupted with %d of %d points finished", ev.Finished, ev.Total)
		}
		p.line(msg)
	}
}

// line prints a permanent line (clearing the bar first on a terminal).
func (p *Printer) line(s string) {
	if p.tty && p.bar != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, s)
	if p.tty && p.bar != "" {
		fmt.Fprint(p.w, p.bar)
	}
}

// maxBar keeps the bar within an ordinary terminal's width.
const maxBar = 118

// status redraws the bar (terminal only).
func (p *Printer) status(ev Event, what string) {
	if !p.tty {
		return
	}
	const width = 24
	done := 0
	if ev.Total > 0 {
		done = width * ev.Finished / ev.Total
	}
	bar := "[" + strings.Repeat("=", done) + strings.Repeat(" ", width-done) + "]"
	id := ""
	if ev.Point != nil {
		id = ev.Point.ID + " " + ev.Point.Label
	}
	p.bar = fmt.Sprintf("%s %d/%d eta %s | %s | %s", bar, ev.Finished, ev.Total, fmtDur(ev.Remaining), id, what)
	// A wrapped line cannot be redrawn in place: keep it short.
	if r := []rune(p.bar); len(r) > maxBar {
		p.bar = string(r[:maxBar-1]) + "…"
	}
	fmt.Fprint(p.w, "\r\033[K"+p.bar)
}

func rateText(r float64) string {
	if r <= 0 {
		return "unthrottled"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func p99Text(iv *bench.Interval, latency string) string {
	h := iv.Response
	switch latency {
	case "service":
		h = iv.Service
	case "e2e":
		h = iv.E2E
	}
	if h == nil || h.TotalCount() == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f ms", float64(h.ValueAtQuantile(99))/1e6)
}

// pointText is the line printed when a point finishes.
func pointText(l *Line, latency string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s %s: ", l.Point.ID, l.Point.Label)
	if l.Status == PointFailed {
		fmt.Fprintf(&b, "FAILED: %s", l.Error)
		return b.String()
	}
	if st, ok := l.Figures["max_sustainable_rate"]; ok {
		fmt.Fprintf(&b, "max sustainable %.0f records/s", st.Median)
		if len(l.Search) > 0 {
			sr := l.Search[0]
			if sr.Hi > 0 {
				fmt.Fprintf(&b, " (bracket %.0f–%.0f, %.1f %%, %d probes)", sr.Lo, sr.Hi, sr.WidthPct, len(sr.Probes))
			} else {
				fmt.Fprintf(&b, " (%s, %d probes)", sr.Stop, len(sr.Probes))
			}
		}
		b.WriteString(", ")
	}
	if st, ok := l.Figures["produce_records_per_sec"]; ok {
		fmt.Fprintf(&b, "%.0f records/s", st.Median)
	}
	if st, ok := l.Figures[latency+"_p99_ms"]; ok {
		fmt.Fprintf(&b, ", %s p99 %.2f ms", latency, st.Median)
	}
	if st, ok := l.Figures["e2e_p99_ms"]; ok && latency != "e2e" {
		fmt.Fprintf(&b, ", e2e p99 %.2f ms", st.Median)
	}
	if st, ok := l.Figures["produce_records_per_sec"]; ok && st.N > 1 {
		fmt.Fprintf(&b, " (median of %d, spread %.1f %%)", st.N, st.SpreadPct)
	}
	if l.SLO.Pass {
		b.WriteString("; SLO met")
	} else {
		fmt.Fprintf(&b, "; SLO missed: %s", strings.Join(l.SLO.Reasons, "; "))
	}
	if !l.Valid {
		fmt.Fprintf(&b, "; INVALID: %s", strings.Join(l.Invalid, "; "))
	}
	fmt.Fprintf(&b, " [%s]", fmtDur(l.Elapsed.Dur()))
	return b.String()
}
