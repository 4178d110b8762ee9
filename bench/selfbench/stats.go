package selfbench

import "github.com/kbench/kbench/internal/stats"

// Stat summarises one figure over rounds: the median and the range.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
	// Values are the per-round values (ratios keep them: verdicts pool
	// them over workloads).
	Values []float64 `json:"values,omitempty"`
}

// Spread is the range as a share of the median (0.1 = the rounds span 10 %
// of the median); 0 when the median is 0.
func (s Stat) Spread() float64 { return s.summary().Spread() }

func (s Stat) summary() stats.Summary {
	return stats.Summary{N: s.N, Median: s.Median, Min: s.Min, Max: s.Max}
}

// summarize gives the median and range of the finite values; N counts them.
func summarize(xs []float64) Stat {
	s := stats.Summarize(xs)
	return Stat{Median: s.Median, Min: s.Min, Max: s.Max, N: s.N}
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
	st := summarize(rs)
	st.Values = rs
	return st
}
