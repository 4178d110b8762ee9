package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Interval is one snapshot streamed while a run goes on. Its histograms
// belong to this interval only and must not be modified by sinks.
type Interval struct {
	Mode     Mode
	Index    int
	RunStart time.Time     // wall clock when load started
	Start    time.Duration // since RunStart
	End      time.Duration
	// Warmup is set when the interval began before the warmup ended.
	Warmup bool
	// Final marks the last, usually partial, interval (it includes the
	// wait for outstanding acknowledgements and the consumers' drain).
	Final                   bool
	Sent, Acked, Failed     int64
	AckedBytes              int64
	Consumed, ConsumedBytes int64
	Service, Response, E2E  *hdr.Histogram
	CPUCores                float64
}

// Sink receives intervals, one at a time, from a single goroutine.
type Sink interface {
	Interval(iv *Interval) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(iv *Interval) error

// Interval calls f.
func (f SinkFunc) Interval(iv *Interval) error { return f(iv) }

// Sinks fans an interval out to several sinks.
type Sinks []Sink

// Interval sends iv to every sink and joins their errors.
func (s Sinks) Interval(iv *Interval) error {
	var errs []error
	for _, k := range s {
		if k != nil {
			errs = append(errs, k.Interval(iv))
		}
	}
	return errors.Join(errs...)
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

const mib = 1 << 20

// LineSink writes one line per interval in the style of
// kafka-producer-perf-test, plus p99s.
type LineSink struct{ W io.Writer }

// Interval writes the line.
func (s LineSink) Interval(iv *Interval) error {
	d := iv.End - iv.Start
	var b strings.Builder
	fmt.Fprintf(&b, "[%6.1fs] ", iv.End.Seconds())
	if iv.Mode != ModeConsume {
		avg := iv.Service.Mean() / 1e6
		fmt.Fprintf(&b, "%d records acked, %.1f records/sec (%.2f MiB/sec), %.1f ms avg latency, %.1f ms max latency, %.1f ms p99 (response %.1f ms p99)",
			iv.Acked, perSec(iv.Acked, d), perSec(iv.AckedBytes, d)/mib, avg,
			ms(iv.Service.Max()), ms(iv.Service.ValueAtQuantile(99)), ms(iv.Response.ValueAtQuantile(99)))
		if iv.Failed > 0 {
			fmt.Fprintf(&b, ", %d failed", iv.Failed)
		}
	}
	if iv.Mode != ModeProduce {
		if iv.Mode == ModeE2E {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d records consumed, %.1f records/sec (%.2f MiB/sec)", iv.Consumed, perSec(iv.Consumed, d), perSec(iv.ConsumedBytes, d)/mib)
		if iv.E2E.TotalCount() > 0 {
			fmt.Fprintf(&b, ", %.1f ms e2e p99", ms(iv.E2E.ValueAtQuantile(99)))
		}
	}
	fmt.Fprintf(&b, ", cpu %.2f cores", iv.CPUCores)
	if iv.Warmup {
		b.WriteString(" (warmup)")
	}
	if iv.Final {
		b.WriteString(" (end)")
	}
	b.WriteByte('\n')
	_, err := io.WriteString(s.W, b.String())
	return err
}

// HlogSink writes interval histograms in the HdrHistogram log format (V2,
// values in nanoseconds), tagged service, response and e2e.
type HlogSink struct {
	w       *hdr.HistogramLogWriter
	started bool
}

// NewHlogSink writes to w.
func NewHlogSink(w io.Writer) *HlogSink { return &HlogSink{w: hdr.NewHistogramLogWriter(w)} }

// Interval writes the interval's histograms.
func (s *HlogSink) Interval(iv *Interval) error {
	startMs := iv.RunStart.UnixMilli()
	// The log's StartTime and BaseTime lines hold whole seconds, so the base
	// is truncated to match and the sub-second rest goes in each timestamp.
	baseMs := startMs / 1000 * 1000
	if !s.started {
		s.started = true
		s.w.SetBaseTime(baseMs)
		for _, err := range []error{
			s.w.OutputLogFormatVersion(),
			s.w.OutputComment(fmt.Sprintf("[kbench %s run; values in nanoseconds; tags: service, response, e2e]", iv.Mode)),
			s.w.OutputStartTime(baseMs),
			s.w.OutputBaseTime(baseMs),
			s.w.OutputLegend(),
		} {
			if err != nil {
				return fmt.Errorf("write hlog header: %w", err)
			}
		}
	}
	for _, h := range []struct {
		tag  string
		hist *hdr.Histogram
		use  bool
	}{
		{"service", iv.Service, iv.Mode != ModeConsume},
		{"response", iv.Response, iv.Mode != ModeConsume},
		{"e2e", iv.E2E, iv.Mode == ModeE2E},
	} {
		if !h.use {
			continue
		}
		c := h.hist.Clone()
		c.SetTag(h.tag)
		c.SetStartTimeMs(startMs + iv.Start.Milliseconds())
		c.SetEndTimeMs(startMs + iv.End.Milliseconds())
		if err := s.w.OutputIntervalHistogram(c); err != nil {
			return fmt.Errorf("write hlog interval: %w", err)
		}
	}
	return nil
}

// LoggedHistogram is one interval histogram read back from an hlog.
type LoggedHistogram struct {
	Tag        string
	Start, End time.Time
	Hist       *hdr.Histogram
}

// ReadHlog reads every interval histogram of an HdrHistogram log.
func ReadHlog(r io.Reader) ([]LoggedHistogram, error) {
	lr := hdr.NewHistogramLogReader(r)
	var out []LoggedHistogram
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return out, fmt.Errorf("read hlog: %w", err)
		}
		if h == nil {
			return out, nil
		}
		out = append(out, LoggedHistogram{
			Tag:   h.Tag(),
			Start: time.UnixMilli(h.StartTimeMs()),
			End:   time.UnixMilli(h.EndTimeMs()),
			Hist:  h,
		})
	}
}

// WriteSummary writes the final table of a run.
func WriteSummary(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nkbench %s: topic %s (%d partitions) on %s\n", r.Mode, r.Settings.Topic.Name, r.Partitions, r.Manifest.Target)
	fmt.Fprintf(&b, "measured %.1f s after %.1f s warmup", float64(r.Measured), r.Settings.Warmup.Seconds())
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	if p := r.Produce; p != nil {
		fmt.Fprintf(&b, "produced: %d acked, %d failed, %d undelivered; %.1f records/s", p.Acked, p.Failed, p.Undelivered, p.RecordsPerSec)
		if p.TargetRate > 0 {
			fmt.Fprintf(&b, " (%.2f %% of %.0f target)", p.AchievedPct, p.TargetRate)
		}
		fmt.Fprintf(&b, ", %.2f MiB/s uncompressed, %.2f MiB/s on the wire, compression ratio %.2f\n", p.MiBPerSec, p.WireMiBPerSec, p.CompressionRatio)
	}
	if c := r.Consume; c != nil {
		fmt.Fprintf(&b, "consumed: %d records, %.1f records/s, %.2f MiB/s, %.2f MiB/s on the wire; lag at end %d, unconsumed %d",
			c.Consumed, c.RecordsPerSec, c.MiBPerSec, c.WireMiBPerSec, c.LagAtEnd, c.Unconsumed)
		if c.IdleConsumers > 0 {
			fmt.Fprintf(&b, ", %d idle consumers", c.IdleConsumers)
		}
		b.WriteString("\n")
		if c.ShareDeliveries > 0 {
			fmt.Fprintf(&b, "share group: %d deliveries, %d of them redeliveries of a record already delivered, highest delivery count %d\n",
				c.ShareDeliveries, c.Redelivered, c.MaxDeliveryCount)
		}
	}
	fmt.Fprintf(&b, "generator cpu: %.2f of %d cores", r.CPU.Cores, r.CPU.Available)
	if r.CPU.IncludesBroker {
		b.WriteString(" (includes the embedded broker)")
	}
	if r.CPU.Own > 0 {
		fmt.Fprintf(&b, "; kbench's own record generation and metering about %.2f, the client library and Go runtime the rest", r.CPU.Own)
	}
	b.WriteString("\n")
	rows := []struct {
		name string
		l    *Latency
	}{{"service", r.Latency.Service}, {"response", r.Latency.Response}, {"end-to-end", r.Latency.E2E}}
	header := false
	for _, row := range rows {
		if row.l == nil {
			continue
		}
		if !header {
			fmt.Fprintf(&b, "\n%-12s %10s %9s %9s %9s %9s %9s %9s\n", "latency ms", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max")
			header = true
		}
		l := row.l
		fmt.Fprintf(&b, "%-12s %10d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", row.name, l.Count, l.P50, l.P90, l.P99, l.P999, l.P9999, l.Max)
	}
	writeBacklog(&b, r.Backlog)
	writeAgents(&b, r)
	if len(r.Errors) > 0 {
		b.WriteString("\nerrors:\n")
		for _, e := range r.Errors {
			if e.Code != 0 {
				fmt.Fprintf(&b, "  %8d  %s (code %d)\n", e.Count, e.Name, e.Code)
			} else {
				fmt.Fprintf(&b, "  %8d  %s\n", e.Count, e.Name)
			}
		}
	}
	if r.Valid {
		b.WriteString("\nresult: VALID\n")
	} else {
		b.WriteString("\nresult: INVALID\n")
		for _, why := range r.Invalid {
			fmt.Fprintf(&b, "  - %s\n", why)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
