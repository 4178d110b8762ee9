package sweep

import (
	"fmt"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/profiles"
)

// Observation is what one run showed, reduced to what the SLO judges. The
// rate search sees only observations, so it is tested without a broker.
type Observation struct {
	Target   float64 // records/s asked for; 0 = unthrottled
	Achieved float64 // records/s acknowledged over the measured window
	Measured bool    // something was measured after warmup
	// Latency is the SLO's histogram summary; nil when nothing was recorded.
	Latency *bench.Latency
	// Errors counts failed, never acknowledged and never consumed records
	// and client errors.
	Errors      int64
	ErrorDetail string
	// LagRecords is the consumer lag when producing stopped; -1 = not measured.
	LagRecords  int64
	Interrupted bool
	// Run names the run that produced it, if it was recorded.
	Run string
}

// Verdict is an SLO judgement.
type Verdict struct {
	Pass    bool     `json:"pass"`
	Reasons []string `json:"reasons,omitempty"` // why it failed
	// Limited is set when the producers fell short of the target rate: the
	// achieved rate is then a ceiling the search should not probe far above.
	Limited bool `json:"producer_limited,omitempty"`
}

// observe reduces a run's result to what the SLO needs.
func observe(res *bench.Result, slo profiles.SLO) Observation {
	o := Observation{Measured: res.Measured > 0, Interrupted: res.Interrupted, LagRecords: -1}
	if p := res.Produce; p != nil {
		o.Target, o.Achieved = p.TargetRate, p.RecordsPerSec
		o.Errors += p.Undelivered
		if p.Undelivered > 0 {
			o.ErrorDetail = fmt.Sprintf("%d never acknowledged", p.Undelivered)
		}
	}
	if c := res.Consume; c != nil {
		o.LagRecords = c.LagAtEnd
		if c.Unconsumed > 0 {
			o.Errors += c.Unconsumed
			o.ErrorDetail = join(o.ErrorDetail, fmt.Sprintf("%d acknowledged but not consumed", c.Unconsumed))
		}
	}
	for _, e := range res.Errors {
		o.Errors += e.Count
		o.ErrorDetail = join(o.ErrorDetail, fmt.Sprintf("%d × %s", e.Count, e.Name))
	}
	switch slo.Latency {
	case "service":
		o.Latency = res.Latency.Service
	case "e2e":
		o.Latency = res.Latency.E2E
	default:
		o.Latency = res.Latency.Response
	}
	return o
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// judge applies the SLO: latency bounds, error-free, achieved ≥ 99 % of the
// target and bounded consumer lag. The generator's own validity flags (CPU
// saturation, say) are kept beside the verdict, not in it: a saturated
// generator inflates latencies, so a pass despite it is conservative.
func judge(o Observation, slo profiles.SLO) Verdict {
	var v Verdict
	fail := func(format string, args ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...)) }
	if o.Interrupted {
		fail("interrupted")
	}
	if !o.Measured {
		fail("nothing was measured")
	}
	if o.Target > 0 && o.Achieved < bench.MinAchieved*o.Target {
		v.Limited = true
		fail("achieved %.0f records/s, %.1f %% of the %.0f target (need %.0f %%)", o.Achieved, 100*o.Achieved/o.Target, o.Target, bench.MinAchieved*100)
	}
	if slo.ErrorFree && o.Errors > 0 {
		fail("errors: %s", o.ErrorDetail)
	}
	bounds := []struct {
		name  string
		limit float64
		got   func(*bench.Latency) float64
	}{
		{"p50", slo.P50Ms, func(l *bench.Latency) float64 { return l.P50 }},
		{"p99", slo.P99Ms, func(l *bench.Latency) float64 { return l.P99 }},
		{"p99.9", slo.P999Ms, func(l *bench.Latency) float64 { return l.P999 }},
	}
	for _, b := range bounds {
		if b.limit <= 0 {
			continue
		}
		if o.Latency == nil {
			fail("no %s latency was measured", slo.Latency)
			break
		}
		if got := b.got(o.Latency); got > b.limit {
			fail("%s %s %.2f ms > %g ms", slo.Latency, b.name, got, b.limit)
		}
	}
	if slo.MaxLagSec > 0 && o.LagRecords > 0 {
		rate := o.Target
		if rate <= 0 {
			rate = o.Achieved
		}
		if rate > 0 {
			if lag := float64(o.LagRecords) / rate; lag > slo.MaxLagSec {
				fail("consumer lag %d records = %.2f s of production > %g s", o.LagRecords, lag, slo.MaxLagSec)
			}
		}
	}
	v.Pass = len(v.Reasons) == 0
	return v
}
