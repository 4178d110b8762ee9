package sweep

import (
	"context"
	"math"

	"github.com/kbench/kbench/profiles"
)

// Prober runs the load at a rate (records/s, 0 = unthrottled) and reports
// what happened. The sweep's prober runs the load generator; tests use a
// fake with a known capacity.
type Prober interface {
	Probe(ctx context.Context, rate float64) (Observation, error)
}

// Why a search stopped.
const (
	StopConverged   = "converged"         // the bracket is within the precision
	StopMaxProbes   = "max_probes"        // the probe budget ran out first
	StopMaxPassed   = "max_rate_passed"   // even the highest allowed rate met the SLO
	StopMinFailed   = "min_rate_failed"   // even the lowest allowed rate missed it
	StopCalibration = "calibration_empty" // the unthrottled probe achieved nothing
)

// Probe is one run of a search.
type Probe struct {
	Rate     float64  `json:"rate"` // 0 = the unthrottled calibration
	Achieved float64  `json:"achieved"`
	Pass     bool     `json:"pass"`
	Reasons  []string `json:"reasons,omitempty"`
	// Run names the run in the point's runs list.
	Run string `json:"run,omitempty"`
}

// SearchResult is where a max-sustainable search ended.
type SearchResult struct {
	// Found is the highest target rate that met the SLO; 0 when none did.
	Found float64 `json:"found"`
	// Achieved is what the producers actually did at Found.
	Achieved float64 `json:"achieved"`
	// The bracket: Lo is Found, Hi the lowest rate that failed (0 = none
	// failed: the sustainable rate may be higher than Hi could tell).
	Lo       float64 `json:"bracket_lo"`
	Hi       float64 `json:"bracket_hi"`
	WidthPct float64 `json:"bracket_width_pct"` // (Hi-Lo)/Lo × 100; 0 when open
	// Calibration is the unthrottled probe's achieved rate (0 = not run).
	Calibration float64 `json:"calibration,omitempty"`
	Converged   bool    `json:"converged"`
	Stop        string  `json:"stop"`
	Probes      []Probe `json:"probes"`
}

// search is the rate search as a pure state machine: next proposes a rate,
// record takes the verdict. Bracket first (× or ÷ Factor from the start),
// then bisect. Every probe lies strictly inside the current bracket, so
// Lo < Hi always holds and the bracket only shrinks, whatever noise does to
// individual verdicts; the probe budget bounds it all.
type search struct {
	cfg        profiles.Search
	min, max   float64
	start      float64
	lo, hi     float64 // highest pass, lowest fail; 0 = none yet
	loAchieved float64
	hint       float64 // achieved rate of a producer-limited failure at hi
	calibrate  bool
	calib      float64
	probes     []Probe
	stop       string
}

func newSearch(cfg profiles.Search) *search {
	if cfg.Factor <= 1 {
		cfg.Factor = profiles.DefaultSearchFactor
	}
	if cfg.Precision <= 0 {
		cfg.Precision = profiles.DefaultSearchPrecision
	}
	if cfg.MaxProbes < 2 {
		cfg.MaxProbes = profiles.DefaultSearchMaxProbes
	}
	s := &search{cfg: cfg, calibrate: cfg.Start == 0}
	if !s.calibrate {
		s.setBounds(cfg.Start, math.Inf(1))
	}
	return s
}

// setBounds fixes the start and range; ceiling caps the maximum (the
// calibration's achieved rate, since producers cannot do more than flat out).
func (s *search) setBounds(start, ceiling float64) {
	s.start = start
	s.max = s.cfg.Max
	if s.max == 0 {
		s.max = start * 1000
	}
	s.max = math.Min(s.max, ceiling)
	s.min = s.cfg.Min
	if s.min == 0 {
		s.min = math.Max(start/64, 1)
	}
	s.start = math.Min(math.Max(s.start, s.min), s.max)
}

// next returns the rate to probe, or ok=false when the search is over.
func (s *search) next() (rate float64, ok bool) {
	if s.stop != "" {
		return 0, false
	}
	if len(s.probes) >= s.cfg.MaxProbes {
		return s.finish(StopMaxProbes)
	}
	switch {
	case s.calibrate && len(s.probes) == 0:
		return 0, true
	case s.lo == 0 && s.hi == 0:
		return s.start, true
	case s.hi == 0: // only passes so far: step up
		if s.lo >= s.max {
			return s.finish(StopMaxPassed)
		}
		return math.Min(s.lo*s.cfg.Factor, s.max), true
	case s.lo == 0: // only failures: step down
		if s.hi <= s.min {
			return s.finish(StopMinFailed)
		}
		r := s.hi / s.cfg.Factor
		if s.hint > 0 {
			// The producers topped out at hint: just below it is a far
			// better guess than a blind step.
			r = math.Min(s.hint*0.95, s.hi*0.95)
		}
		return math.Max(r, s.min), true
	}
	if (s.hi-s.lo)/s.lo <= s.cfg.Precision {
		return s.finish(StopConverged)
	}
	return math.Sqrt(s.lo * s.hi), true
}

func (s *search) finish(why string) (float64, bool) {
	s.stop = why
	return 0, false
}

// record takes the verdict of a probe at rate.
func (s *search) record(rate float64, o Observation, v Verdict) {
	s.probes = append(s.probes, Probe{Rate: rate, Achieved: o.Achieved, Pass: v.Pass, Reasons: v.Reasons, Run: o.Run})
	if rate == 0 { // calibration
		s.calib = o.Achieved
		if o.Achieved <= 0 {
			s.stop = StopCalibration
			return
		}
		// Start below flat-out, where an SLO usually still holds, and never
		// probe meaningfully above what the producers did flat out.
		start := s.cfg.Start
		if start == 0 {
			start = 0.8 * o.Achieved
		}
		s.setBounds(start, 1.1*o.Achieved)
		return
	}
	if v.Pass {
		if rate > s.lo {
			s.lo, s.loAchieved = rate, o.Achieved
		}
		return
	}
	if s.hi == 0 || rate < s.hi {
		s.hi = rate
		s.hint = 0
		if v.Limited && o.Achieved < rate {
			s.hint = o.Achieved
		}
	}
}

func (s *search) result() SearchResult {
	r := SearchResult{Found: s.lo, Achieved: s.loAchieved, Lo: s.lo, Hi: s.hi, Calibration: s.calib, Stop: s.stop, Probes: s.probes}
	if s.lo > 0 && s.hi > 0 {
		r.WidthPct = 100 * (s.hi - s.lo) / s.lo
	}
	r.Converged = s.stop == StopConverged
	return r
}

// Search runs a max-sustainable rate search with pr, judging each probe by
// slo. It returns what it found so far along with a prober's error.
func Search(ctx context.Context, cfg profiles.Search, slo profiles.SLO, pr Prober) (SearchResult, error) {
	s := newSearch(cfg)
	for {
		rate, ok := s.next()
		if !ok {
			return s.result(), nil
		}
		o, err := pr.Probe(ctx, rate)
		if err != nil {
			return s.result(), err
		}
		s.record(rate, o, judge(o, slo))
	}
}
