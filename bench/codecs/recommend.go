package codecs

import (
	"math"
	"slices"
)

// worthwhileRatio is the least saving that justifies a codec: below 10%
// smaller, the CPU is better spent elsewhere.
const worthwhileRatio = 1.1

// Pick is one recommended codec and the figures behind it.
type Pick struct {
	Label        string  `json:"label"`
	Ratio        float64 `json:"ratio"`
	CPUSecPerGB  float64 `json:"cpu_s_per_gb"`
	CompressMBps float64 `json:"compress_mb_per_s"`
}

// Recommendation holds the picks for one batch size.
type Recommendation struct {
	BatchBytes int  `json:"batch_bytes"`
	Bandwidth  Pick `json:"bandwidth"` // highest ratio
	CPU        Pick `json:"cpu"`       // least CPU among codecs saving >= 10%
	Balanced   Pick `json:"balanced"`  // the knee of the ratio/CPU Pareto front
}

func pickOf(r *Result) Pick {
	p := Pick{Label: r.Label, Ratio: r.Ratio, CPUSecPerGB: r.CPUSecPerGB()}
	if r.Compress != nil {
		p.CompressMBps = r.Compress.MedianMBps
	}
	return p
}

// Recommend picks, for each batch size in results, the codec best for
// bandwidth (highest ratio, CPU breaking near-ties), for CPU (least compress
// plus decompress CPU among codecs that save at least 10%) and balanced:
// on the Pareto front of ratio against CPU, with both axes scaled to the
// front's range in log terms, the point nearest the ideal corner. When no
// codec saves 10%, CPU and balanced say "none".
func Recommend(results []Result) []Recommendation {
	var sizes []int
	for _, r := range results {
		if !slices.Contains(sizes, r.BatchBytes) {
			sizes = append(sizes, r.BatchBytes)
		}
	}
	var out []Recommendation
	for _, size := range sizes {
		var cands []*Result
		for i := range results {
			if r := &results[i]; r.BatchBytes == size && r.Compress != nil {
				cands = append(cands, r)
			}
		}
		if len(cands) == 0 {
			continue
		}
		rec := Recommendation{BatchBytes: size}
		best := cands[0]
		for _, r := range cands[1:] {
			switch {
			case r.Ratio > best.Ratio*1.005:
				best = r
			case r.Ratio >= best.Ratio/1.005 && r.CPUSecPerGB() < best.CPUSecPerGB():
				best = r
			}
		}
		rec.Bandwidth = pickOf(best)

		var worth []*Result
		for _, r := range cands {
			if r.Ratio >= worthwhileRatio {
				worth = append(worth, r)
			}
		}
		if len(worth) == 0 {
			none := Pick{Label: "none", Ratio: 1}
			rec.CPU, rec.Balanced = none, none
			out = append(out, rec)
			continue
		}
		cheap := worth[0]
		for _, r := range worth[1:] {
			if r.CPUSecPerGB() < cheap.CPUSecPerGB() {
				cheap = r
			}
		}
		rec.CPU = pickOf(cheap)
		rec.Balanced = pickOf(knee(paretoFront(worth)))
		out = append(out, rec)
	}
	return out
}

// paretoFront keeps the results no other result beats on both ratio (higher)
// and CPU (lower).
func paretoFront(rs []*Result) []*Result {
	var front []*Result
	for _, r := range rs {
		dominated := false
		for _, o := range rs {
			if o != r && o.Ratio >= r.Ratio && o.CPUSecPerGB() <= r.CPUSecPerGB() &&
				(o.Ratio > r.Ratio || o.CPUSecPerGB() < r.CPUSecPerGB()) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, r)
		}
	}
	return front
}

// knee returns the front's point nearest the ideal corner (best ratio at
// least CPU) once log ratio and log CPU are scaled to [0, 1] over the front.
// Log scales because both figures span orders of magnitude across codecs.
func knee(front []*Result) *Result {
	span := func(f func(*Result) float64) (lo, hi float64) {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, r := range front {
			lo, hi = min(lo, f(r)), max(hi, f(r))
		}
		return lo, hi
	}
	logRatio := func(r *Result) float64 { return math.Log(r.Ratio) }
	logCPU := func(r *Result) float64 { return math.Log(r.CPUSecPerGB()) }
	rLo, rHi := span(logRatio)
	cLo, cHi := span(logCPU)
	scale := func(v, a, b float64) float64 {
		if b-a < 1e-12 {
			return 1
		}
		return (v - a) / (b - a)
	}
	var best *Result
	bestD := math.Inf(1)
	for _, r := range front {
		x := scale(logRatio(r), rLo, rHi)   // 1 = best ratio
		y := 1 - scale(logCPU(r), cLo, cHi) // 1 = least CPU
		if d := (1-x)*(1-x) + (1-y)*(1-y); d < bestD {
			best, bestD = r, d
		}
	}
	return best
}
