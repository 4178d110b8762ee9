package tune

import (
	"math"
	"slices"
	"strings"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/stats"
	"github.com/kbench/kbench/profiles"
)

// Result is what a finished tune recommends, with its figures and gains.
type Result struct {
	Recommended Candidate  `json:"recommended"`
	Start       *Candidate `json:"start,omitempty"`
	Defaults    *Candidate `json:"kafka_defaults,omitempty"`
	// Gains of the recommendation's value (max sustainable rate, or SLO
	// headroom) over Kafka's defaults and over the start; nil when that
	// baseline was never measured.
	VsDefaults *Gain `json:"vs_kafka_defaults,omitempty"`
	VsStart    *Gain `json:"vs_start,omitempty"`
	// Measurements, Candidates and Runs (load-generator runs) spent;
	// GridCandidates is the size of the space.
	Measurements   int `json:"measurements"`
	Candidates     int `json:"candidates"`
	Runs           int `json:"runs"`
	GridCandidates int `json:"grid_candidates"`
}

// Candidate is one candidate's figures over its measurements.
type Candidate struct {
	Cand  []int  `json:"candidate"`
	Label string `json:"label"`
	// Settings are the producer properties the candidate sets.
	Settings map[string]string `json:"settings"`
	Points   []string          `json:"points"`
	// Value is what the search compared; Rate the records/s produced
	// (achieved at the rate found, or at the fixed rate), MiBps the same
	// in MiB/s, P99 the SLO histogram's p99 in ms there.
	Value Interval `json:"value"`
	Rate  Interval `json:"records_per_sec"`
	MiBps Interval `json:"mib_per_sec"`
	P99   Interval `json:"p99_ms"`
}

// Interval is a median with an interval for it: the range of the
// measurements, which holds the median with confidence Level = 1 − 2^(1−n)
// (75 % for 3, 87.5 % for 4), or the order-statistics interval at 95 %
// from 6 measurements on.
type Interval struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	Level  float64 `json:"level"`
}

func interval(xs []float64) Interval {
	s := stats.Summarize(xs)
	if s.N == 0 {
		return Interval{}
	}
	iv := Interval{N: s.N, Median: s.Median, Lo: s.Min, Hi: s.Max}
	switch {
	case s.N >= 6:
		iv.Lo, iv.Hi = stats.MedianInterval(xs, 0.05)
		iv.Level = 0.95
	case s.N >= 2:
		iv.Level = 1 - math.Pow(2, float64(1-s.N))
	}
	return iv
}

// Gain is the recommendation against a baseline: the change of the median,
// and the rank test's p-value and Moses interval of the shift at Level
// (0.95 when the counts allow, else 0.9 or 0.8; ±Inf when even 0.8 is out
// of reach).
type Gain struct {
	Against     string  `json:"against"`
	Same        bool    `json:"same,omitempty"` // the baseline is the recommendation
	NA          int     `json:"n_baseline"`
	NB          int     `json:"n_recommended"`
	Delta       float64 `json:"delta"`
	Lo          float64 `json:"lo"`
	Hi          float64 `json:"hi"`
	Level       float64 `json:"level"`
	P           float64 `json:"p"`
	Significant bool    `json:"significant"`
}

// openBound stands for an unbounded end: JSON has no infinities.
const openBound = 1e308

// Open reports whether the gain's interval could not be bounded.
func (g *Gain) Open() bool { return g.Lo <= -openBound || g.Hi >= openBound }

func gain(against string, a, b []float64) *Gain {
	g := &Gain{Against: against, NA: len(a), NB: len(b)}
	alpha := 0.2
	for _, al := range []float64{0.05, 0.1, 0.2} {
		if stats.MinP(len(a), len(b)) <= al {
			alpha = al
			break
		}
	}
	c := stats.Compare(a, b, alpha)
	g.Delta, g.Lo, g.Hi, g.Level, g.P, g.Significant = c.Delta, c.Lo, c.Hi, c.Level, c.Test.P, c.Significant
	g.Lo, g.Hi = clamp(g.Lo), clamp(g.Hi)
	g.Delta, g.P = clamp(g.Delta), clamp(g.P)
	return g
}

// clamp keeps a figure encodable: NaN (a baseline whose median is 0) is
// 0, infinities are ±openBound.
func clamp(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, -openBound), openBound)
}

// result sums the run up from its measurements and their result lines.
func (f *File) result(dir string) *Result {
	st := Assess(f.Space, f.Config, f.measurements())
	best := st.Best()
	if best == nil {
		return nil
	}
	lines := map[string]*sweep.Line{}
	if ls, _, err := sweep.ReadResultsFile(dir); err == nil {
		for i := range ls {
			lines[ls[i].Point.ID] = &ls[i]
		}
	}
	r := &Result{Measurements: len(f.Steps), Candidates: len(st.Cands), GridCandidates: f.Space.Size()}
	for _, s := range f.Steps {
		r.Runs += s.Runs
	}
	r.Recommended = f.candidate(best.Cand, lines)
	rec := r.Recommended.values(f)
	if s := st.measured(f.Config.Start); s != nil {
		c := f.candidate(f.Config.Start, lines)
		r.Start = &c
		r.VsStart = gain("the starting settings", s.Values, rec)
		r.VsStart.Same = slices.Equal(s.Cand, best.Cand)
	}
	if s := st.measured(f.Defaults); s != nil {
		c := f.candidate(f.Defaults, lines)
		r.Defaults = &c
		r.VsDefaults = gain("Kafka's defaults", s.Values, rec)
		r.VsDefaults.Same = slices.Equal(s.Cand, best.Cand)
	}
	return r
}

// values are a candidate's measured values, in order.
func (c *Candidate) values(f *File) []float64 {
	var out []float64
	for _, s := range f.Steps {
		if slices.Equal(s.Cand, c.Cand) {
			out = append(out, s.Value)
		}
	}
	return out
}

func (f *File) candidate(cand []int, lines map[string]*sweep.Line) Candidate {
	c := Candidate{Cand: cand, Label: f.Space.Label(cand), Settings: map[string]string{}}
	pr, err := prepared(f.Grid)
	if err == nil {
		if pt := pr.Point(cand); pt != nil {
			c.Label = pt.Label
			for _, d := range f.Space.Dims {
				for k, v := range pt.Producer {
					if k == d.Name || (d.Name == "compression" && strings.HasPrefix(k, "compression.")) {
						c.Settings[k] = v
					}
				}
			}
		}
	}
	var vals, rate, mib, p99 []float64
	lat := f.Grid.SLO.Latency
	for _, s := range f.Steps {
		if !slices.Equal(s.Cand, cand) {
			continue
		}
		c.Points = append(c.Points, s.Point)
		vals = append(vals, s.Value)
		l := lines[s.Point]
		if l == nil || l.Status != sweep.PointDone {
			continue
		}
		rateFig := "produce_records_per_sec"
		if f.Grid.Base.Rate.Kind == profiles.RateMaxSustainable {
			rateFig = "max_sustainable_achieved"
		}
		if v, ok := l.Figures[rateFig]; ok {
			rate = append(rate, v.Median)
		}
		if v, ok := l.Figures["produce_mib_per_sec"]; ok {
			mib = append(mib, v.Median)
		}
		if v, ok := l.Figures[lat+"_p99_ms"]; ok {
			p99 = append(p99, v.Median)
		}
	}
	c.Value, c.Rate, c.MiBps, c.P99 = interval(vals), interval(rate), interval(mib), interval(p99)
	return c
}
