package selftest

import (
	"math"
	"slices"
)

// Stat summarises one figure over rounds: the median and the range.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Spread is the range as a share of the median (0.1 = the rounds span 10 %
// of the median); 0 when the median is 0.
func (s Stat) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return (s.Max - s.Min) / math.Abs(s.Median)
}

// median is the middle value, or the mean of the two middle values; NaNs
// are dropped and an empty input gives NaN.
func median(xs []float64) float64 {
	s := finite(xs)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func finite(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

// summarize gives the median and range of the finite values; N counts them.
func summarize(xs []float64) Stat {
	s := finite(xs)
	if len(s) == 0 {
		return Stat{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	return Stat{Median: median(s), Min: slices.Min(s), Max: slices.Max(s), N: len(s)}
}

// ratios pairs the rounds of a target with the rounds of a reference and
// summarises target/reference per round. Runs of one round are adjacent in
// time, so the per-round ratio cancels drift (other load on the machine,
// thermal state) that a ratio of two medians would keep. Rounds missing on
// either side, or with a zero reference, are left out.
func ratios(target, ref map[int]float64) Stat {
	var rs []float64
	for round, v := range target {
		r, ok := ref[round]
		if !ok || r == 0 {
			continue
		}
		rs = append(rs, v/r)
	}
	return summarize(rs)
}
