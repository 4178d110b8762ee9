// Package tune searches producer settings for the most throughput (or the
// most latency headroom at a fixed rate) under an SLO, measuring each
// candidate with the sweep's machinery.
//
// The search is a pure function of its measurements: Next looks at every
// measurement so far and says what to measure next, or why to stop. A
// resume replays the recorded measurements and carries on exactly where the
// interrupted run would have; tests drive it with synthetic noisy surfaces
// and no broker.
//
// How it decides (a noise-aware compass search):
//
//   - Start at the starting settings. The best candidate so far (highest
//     median measurement) is the incumbent.
//   - Look around the incumbent: along each ordered setting (linger.ms,
//     batch.size, max in-flight) a step up and a step down, starting with a
//     wide step (a third to a half of the range) and halving it down to the
//     next value; along each unordered one (the codec and its level) every
//     other value. The first neighbour not yet measured is measured next;
//     when one turns out better it becomes the incumbent and the look-around
//     starts again from there.
//   - Two medians are clearly apart when their gap exceeds 2 noise units,
//     scaled by √(1/n₁ + 1/n₂) for n₁ and n₂ measurements. The noise of
//     one measurement is estimated from the candidates measured more than
//     once (range ÷ the expected range of that many normal draws), and is
//     never taken below the prior until three candidates were repeated.
//   - Measurements are repeated only where a decision is close: before a
//     step is shrunk, and before stopping, every candidate among the three
//     best that is not clearly worse than the incumbent is measured again
//     (the less measured one first, at most MaxRepeats times), and the
//     incumbent itself at least twice.
//   - It stops when the smallest step around the incumbent finds nothing
//     not measured and no close call is left (no neighbour and no contender
//     can be significantly better), or when the evaluation budget is spent.
//
// Why this and not Bayesian optimisation or successive halving: the space is
// a small grid of mostly ordered settings whose response is close to
// unimodal along each one (more batching helps until latency or the
// network limits it), so a pattern search reaches the optimum in a few
// dozen measurements; its every choice can be explained in a line; it
// needs no model whose fit on a dozen noisy points would decide more than
// the data do; and it spends repeats only on the few decisions that matter.
// Successive halving measures every sampled candidate at least once, which
// costs more than the grid's third on small grids. The price: it is a local
// search, so when two separate regions of the space are both good (say a
// light codec with small batches and zstd with large ones), it finds the
// one it reaches from the starting settings.
package tune

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/kbench/kbench/internal/stats"
)

// Dim is one setting the search varies.
type Dim struct {
	// Name is the setting as a profile axis names it (linger.ms,
	// batch.size, compression, max.in.flight.requests.per.connection).
	Name string `json:"name"`
	// Values are normalised as the profile stores them; an ordered
	// dimension's are ascending.
	Values []string `json:"values"`
	// Written are the values as the profile or --space wrote them
	// (16KiB for 16384), in the same order, for labels.
	Written []string `json:"written,omitempty"`
	// Ordered dimensions are numeric: neighbours are values nearby.
	Ordered bool `json:"ordered"`
}

// text is value v as written.
func (d Dim) text(v int) string {
	if v < len(d.Written) {
		return d.Written[v]
	}
	return d.Values[v]
}

// Space is the grid of candidates: every combination of the dimensions'
// values. A candidate is one value index per dimension.
type Space struct {
	Dims []Dim `json:"dims"`
}

// Size is the number of candidates in the grid.
func (s Space) Size() int {
	n := 1
	for _, d := range s.Dims {
		n *= len(d.Values)
	}
	return n
}

// Key names a candidate compactly and stably ("2.0.3").
func Key(c []int) string {
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ".")
}

// Label names a candidate by its settings, as a sweep's point label does.
func (s Space) Label(c []int) string {
	parts := make([]string, len(c))
	for i, v := range c {
		parts[i] = s.Dims[i].Name + "=" + s.Dims[i].text(v)
	}
	return strings.Join(parts, "/")
}

// Index is the candidate's position in the grid, the first dimension
// varying slowest (the order a sweep expands its axes in).
func (s Space) Index(c []int) int {
	i := 0
	for d, v := range c {
		i = i*len(s.Dims[d].Values) + v
	}
	return i
}

// Candidate is the inverse of Index.
func (s Space) Candidate(index int) []int {
	c := make([]int, len(s.Dims))
	for d := len(s.Dims) - 1; d >= 0; d-- {
		n := len(s.Dims[d].Values)
		c[d] = index % n
		index /= n
	}
	return c
}

// Measurement is one measured value of a candidate: higher is better (max
// sustainable records/s, or SLO headroom at a fixed rate); 0 when nothing
// met the SLO.
type Measurement struct {
	Cand  []int
	Value float64
}

// Config tunes the search.
type Config struct {
	// Noise is the prior relative noise of one measurement (its standard
	// deviation as a share of the value); default 0.1.
	Noise float64 `json:"noise"`
	// MaxRepeats bounds the measurements of one candidate; default 4 (the fewest a side with which the rank test can find a difference at 0.05).
	MaxRepeats int `json:"max_repeats"`
	// MaxEvals bounds all measurements; 0 = no bound (the caller's time
	// budget stops it).
	MaxEvals int `json:"max_evals,omitempty"`
	// Start is the first candidate.
	Start []int `json:"start"`
}

// Defaults.
const (
	DefaultNoise      = 0.1
	DefaultMaxRepeats = 4
	// apart is how many noise units two medians must differ by to be
	// clearly apart (about 95 % one-sided for normal noise).
	apart = 2.0
	// contenders is how many of the best candidates close calls are
	// resolved among (the incumbent included).
	contenders = 3
)

func (c Config) withDefaults() Config {
	if c.Noise <= 0 {
		c.Noise = DefaultNoise
	}
	if c.MaxRepeats < 1 {
		c.MaxRepeats = DefaultMaxRepeats
	}
	return c
}

// Step kinds and stop reasons.
const (
	KindStart   = "start"
	KindExplore = "explore"
	KindRepeat  = "repeat"

	StopOptimum = "no neighbour or contender can be significantly better"
	StopBudget  = "evaluation budget spent"
)

// Step is the search's decision: the candidate to measure next and why, or
// why it stops.
type Step struct {
	Cand   []int  `json:"candidate,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason"`
	// Stop is set when the search is over.
	Stop string `json:"stop,omitempty"`
}

// Stats are one candidate's measurements.
type Stats struct {
	Cand   []int
	Values []float64
	Median float64
	first  int // index of its first measurement: tie-break by age
}

// N is how often the candidate was measured.
func (s *Stats) N() int { return len(s.Values) }

// State is what the measurements say: every candidate's figures, the
// incumbent and the noise estimate.
type State struct {
	Space Space
	Cands map[string]*Stats
	// Order lists the candidates by median, best first (ties: more
	// measurements, then measured earlier).
	Order []*Stats
	// Noise is the relative noise of one measurement in use.
	Noise float64
	// Repeated counts candidates measured more than once.
	Repeated int
	cfg      Config
	n        int
}

// Assess summarises measurements.
func Assess(sp Space, cfg Config, ms []Measurement) *State {
	cfg = cfg.withDefaults()
	st := &State{Space: sp, Cands: map[string]*Stats{}, cfg: cfg, n: len(ms)}
	for i, m := range ms {
		k := Key(m.Cand)
		s := st.Cands[k]
		if s == nil {
			s = &Stats{Cand: slices.Clone(m.Cand), first: i}
			st.Cands[k] = s
			st.Order = append(st.Order, s)
		}
		s.Values = append(s.Values, m.Value)
	}
	var noise []float64
	for _, s := range st.Order {
		s.Median = stats.Median(s.Values)
		if s.N() < 2 {
			continue
		}
		st.Repeated++
		// A search that found nothing meeting the SLO is a verdict, not a
		// noisy figure: it says nothing of the noise.
		if slices.Min(s.Values) > 0 {
			noise = append(noise, (slices.Max(s.Values)-slices.Min(s.Values))/s.Median/expectedRange(s.N()))
		}
	}
	st.Noise = cfg.Noise
	if len(noise) > 0 {
		est := stats.Median(noise)
		if len(noise) >= 3 {
			st.Noise = max(est, 0.01)
		} else {
			st.Noise = max(est, cfg.Noise)
		}
	}
	slices.SortStableFunc(st.Order, func(a, b *Stats) int {
		return cmp.Or(cmp.Compare(b.Median, a.Median), cmp.Compare(b.N(), a.N()), cmp.Compare(a.first, b.first))
	})
	return st
}

// expectedRange is the expected range of n draws of unit normal noise
// (the d2 constant of quality control), to turn a range into a deviation.
func expectedRange(n int) float64 {
	d2 := []float64{0, 0, 1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078}
	if n < len(d2) {
		return d2[n]
	}
	return 3.078 + 0.1*float64(n-10) // slow growth; only for long repeats
}

// Best is the incumbent: the highest median; nil before any measurement.
func (st *State) Best() *Stats {
	if len(st.Order) == 0 {
		return nil
	}
	return st.Order[0]
}

// Apart reports whether b is clearly worse than a: its median lower by
// more than the noise of their measurement counts allows.
func (st *State) Apart(a, b *Stats) bool {
	if a.Median <= 0 {
		return false
	}
	if b.Median <= 0 {
		return true // mostly nothing met the SLO: no noise makes up for that
	}
	margin := apart * st.Noise * math.Sqrt(1/float64(a.N())+1/float64(b.N()))
	return b.Median < a.Median*(1-margin)
}

func (st *State) measured(c []int) *Stats { return st.Cands[Key(c)] }

// radii are the step sizes along ordered dimensions, widest first.
func radii(sp Space) []int {
	r := 1
	for _, d := range sp.Dims {
		if d.Ordered {
			r = max(r, (len(d.Values)-1)/2)
		}
	}
	var out []int
	for ; r > 1; r /= 2 {
		out = append(out, r)
	}
	return append(out, 1)
}

// neighbour is a candidate next to the incumbent and how it differs.
type neighbour struct {
	cand []int
	how  string
}

// neighbours lists the candidates one step of radius r from c along each
// ordered dimension (clamped to its ends) and every other value of each
// unordered one, in dimension order.
func neighbours(sp Space, c []int, r int) []neighbour {
	var out []neighbour
	add := func(d, v int, how string) {
		n := slices.Clone(c)
		n[d] = v
		for _, o := range out {
			if slices.Equal(o.cand, n) {
				return
			}
		}
		out = append(out, neighbour{n, how})
	}
	for d, dim := range sp.Dims {
		last := len(dim.Values) - 1
		if !dim.Ordered {
			for v := range dim.Values {
				if v != c[d] {
					add(d, v, fmt.Sprintf("%s %s instead of %s", dim.Name, dim.text(v), dim.text(c[d])))
				}
			}
			continue
		}
		if up := min(c[d]+r, last); up != c[d] {
			add(d, up, fmt.Sprintf("%s up to %s from %s", dim.Name, dim.text(up), dim.text(c[d])))
		}
		if down := max(c[d]-r, 0); down != c[d] {
			add(d, down, fmt.Sprintf("%s down to %s from %s", dim.Name, dim.text(down), dim.text(c[d])))
		}
	}
	return out
}

// Next decides what to measure after ms: a pure function of the space,
// the configuration and the measurements, in their order.
func Next(sp Space, cfg Config, ms []Measurement) Step {
	cfg = cfg.withDefaults()
	if len(ms) == 0 {
		return Step{Cand: slices.Clone(cfg.Start), Kind: KindStart, Reason: "the starting settings"}
	}
	if cfg.MaxEvals > 0 && len(ms) >= cfg.MaxEvals {
		return Step{Stop: StopBudget, Reason: fmt.Sprintf("%d measurements, the budget", len(ms))}
	}
	st := Assess(sp, cfg, ms)
	inc := st.Best()
	for _, r := range radii(sp) {
		for _, nb := range neighbours(sp, inc.Cand, r) {
			if st.measured(nb.cand) == nil {
				return Step{Cand: nb.cand, Kind: KindExplore, Reason: "around the best so far: " + nb.how}
			}
		}
		if s := st.closeCall(); s != nil {
			return *s
		}
	}
	return Step{Stop: StopOptimum, Reason: fmt.Sprintf("every neighbour of %s was measured and none is within noise of beating it (noise ±%.0f %%)",
		sp.Label(inc.Cand), 100*st.Noise)}
}

// closeCall finds a decision about the incumbent that the noise leaves
// open, among the best candidates and the incumbent's nearest neighbours,
// and the repeat that could settle it; nil when none is open. Of several
// open decisions it takes the challenger that could most plausibly be
// better (the highest median plus its noise margin).
func (st *State) closeCall() *Step {
	inc := st.Best()
	if inc.Median <= 0 {
		return nil // nothing met the SLO yet: nothing to confirm
	}
	if inc.N() < 2 {
		return &Step{Cand: inc.Cand, Kind: KindRepeat, Reason: "confirm the best so far, measured once"}
	}
	pool := st.Order[1:min(len(st.Order), contenders)]
	for _, nb := range neighbours(st.Space, inc.Cand, 1) {
		if s := st.measured(nb.cand); s != nil && !slices.Contains(pool, s) {
			pool = append(pool, s)
		}
	}
	var pick, rival *Stats
	bestUp := math.Inf(-1)
	for _, c := range pool {
		if st.Apart(inc, c) {
			continue
		}
		// Measure the less measured side of the open decision.
		side := c
		if inc.N() < c.N() {
			side = inc
		}
		if side.N() >= st.cfg.MaxRepeats {
			continue // both measured enough: a tie
		}
		if up := c.Median * (1 + apart*st.Noise/math.Sqrt(float64(c.N()))); up > bestUp {
			bestUp, pick, rival = up, side, c
		}
	}
	if pick == nil {
		return nil
	}
	return &Step{Cand: pick.Cand, Kind: KindRepeat, Reason: fmt.Sprintf("close call: %s (median %s, n=%d) vs %s (median %s, n=%d)",
		st.Space.Label(inc.Cand), fmtValue(inc.Median), inc.N(), st.Space.Label(rival.Cand), fmtValue(rival.Median), rival.N())}
}

func fmtValue(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
