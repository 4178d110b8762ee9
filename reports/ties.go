package reports

import (
	"slices"

	"github.com/kbench/kbench/internal/stats"
)

// tieRule says when a point is tied with the best; the report states it.
const tieRule = "A point is tied with the top one when, with 3 or more runs each, the rank test (Mann–Whitney U at 0.05) cannot tell its throughput from the top point's and their runs overlap; with fewer runs, when it is within 1 % of it"

// tieRepeats is the fewest runs a point needs for the rank test to decide
// ties; below it the 1 % rule stands in.
const tieRepeats = 3

// tied reports whether p's throughput is tied with top's (see tieRule).
// With 3 runs each the rank test can never be significant, so the overlap
// of the runs decides; with 4 or more, both must hold.
func tied(top, p *Point) bool {
	a, b := runValues(top, "produce_mib_per_sec"), runValues(p, "produce_mib_per_sec")
	if len(a) < tieRepeats || len(b) < tieRepeats {
		ta, _ := top.Fig("produce_mib_per_sec")
		pb, _ := p.Fig("produce_mib_per_sec")
		return pb >= 0.99*ta
	}
	return !stats.Compare(a, b, 0.05).Significant && slices.Max(b) >= slices.Min(a)
}

// runValues is one figure over a finished point's counted runs.
func runValues(p *Point, name string) []float64 {
	if !p.Done() {
		return nil
	}
	var out []float64
	for _, r := range countedRuns(p) {
		if v, ok := r[name]; ok {
			out = append(out, v)
		}
	}
	return out
}

// tiedWithBest lists, per durability level, the points tied with the
// top point that were not picked as best.
func tiedWithBest(points []*Point, best map[string]*Point) map[*Point]bool {
	out := map[*Point]bool{}
	for lv, b := range best {
		if b == nil {
			continue
		}
		top, cands := topPoint(points, lv)
		for _, p := range cands {
			if p != b && (p == top || tied(top, p)) {
				out[p] = true
			}
		}
	}
	return out
}

// topPoint is the level's valid point that met the SLO with the highest
// median throughput, and every such point (the candidates for best).
func topPoint(points []*Point, level string) (top *Point, cands []*Point) {
	topMiB := 0.0
	for _, p := range points {
		if p.Set.Durability() != level || !p.Valid() || !p.Passed() {
			continue
		}
		mib, ok := p.Fig("produce_mib_per_sec")
		if !ok {
			continue
		}
		cands = append(cands, p)
		if top == nil || mib > topMiB {
			top, topMiB = p, mib
		}
	}
	return top, cands
}
