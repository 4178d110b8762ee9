// Package stats is kbench's one place for summarising repeated measurements
// and telling whether two sets of runs differ: one median, one spread, one
// test. Everything here is a pure function of its input.
//
// The test is the Mann–Whitney U rank test (two-sided); the interval of a
// difference is Moses's confidence interval of the Hodges–Lehmann shift,
// on the ratio scale for positive figures. Why
// that and not a t-test or a bootstrap: benchmark runs on a shared machine
// are few (4–10 per side) and skewed (a run slowed by other work is far off,
// never equally far the other way); a rank test assumes no distribution,
// is exact for small counts, and one outlier moves it no more than any other
// run. A bootstrap of the median with 4–6 runs takes only a handful of
// distinct values and its interval is too narrow. The interval comes from
// the same rank distribution as the test, so "the interval excludes no
// change" and "the test is significant" agree (ties aside), and there is no
// random resampling: the same runs always give the same answer.
package stats

import (
	"math"
	"slices"
)

// Median is the middle of the finite values: for an even count the mean of
// the two middle values, the usual definition, which does not lean towards
// the lower or the higher run. NaN when there are none.
func Median(xs []float64) float64 {
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

// MedianIndex is the index in xs of a measured value at the median: the
// lower of the two middle values for an even count, so it names a run
// that happened (a representative run whose histogram can be shown). -1
// when xs has no finite value.
func MedianIndex(xs []float64) int {
	s := finite(xs)
	if len(s) == 0 {
		return -1
	}
	slices.Sort(s)
	v := s[(len(s)-1)/2]
	return slices.Index(xs, v)
}

// Summary is one figure over repeated runs: how many, the median and the
// range.
type Summary struct {
	N      int
	Median float64
	Min    float64
	Max    float64
}

// Summarize gives the median and range of the finite values of xs; N
// counts them. With none, the figures are NaN.
func Summarize(xs []float64) Summary {
	s := finite(xs)
	if len(s) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	return Summary{N: len(s), Median: Median(s), Min: slices.Min(s), Max: slices.Max(s)}
}

// Spread is the range as a share of the median (0.1: the runs span 10 % of
// the median); 0 when the median is 0 or unknown. It is the one spread
// kbench reports: with a handful of runs the range is what a reader can
// check, where a standard deviation would pretend to a shape.
func (s Summary) Spread() float64 {
	if s.Median == 0 || math.IsNaN(s.Median) {
		return 0
	}
	return (s.Max - s.Min) / math.Abs(s.Median)
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

// MedianInterval bounds the median of the distribution xs came from at
// confidence at least 1 − alpha, by order statistics (the sign test's
// interval: no shape assumed). ±Inf when there are too few values: 5 or
// fewer at alpha 0.05.
func MedianInterval(xs []float64, alpha float64) (lo, hi float64) {
	s := finite(xs)
	slices.Sort(s)
	n := len(s)
	// k is the largest count with P(Binomial(n, ½) ≤ k−1) ≤ alpha/2.
	k, cum, p := 0, 0.0, math.Pow(0.5, float64(n))
	for j := 0; j < n; j++ {
		cum += p
		if cum > alpha/2 {
			break
		}
		k = j + 1
		p = p * float64(n-j) / float64(j+1)
	}
	if k == 0 {
		return math.Inf(-1), math.Inf(1)
	}
	return s[k-1], s[n-k]
}
