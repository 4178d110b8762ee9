package reports

import (
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/stats"
)

// point builds a finished, valid point that met the SLO, with one counted
// run per throughput (MiB/s) and the given p99.
func point(id string, p99 float64, mibs ...float64) *Point {
	l := &sweep.Line{Status: sweep.PointDone, Valid: true, SLO: sweep.Verdict{Pass: true}, Figures: map[string]sweep.Stat{}}
	for _, m := range mibs {
		l.Runs = append(l.Runs, sweep.RunSummary{Counted: true, Figures: map[string]float64{"produce_mib_per_sec": m, "response_p99_ms": p99}})
	}
	s := stats.Summarize(mibs)
	l.Figures["produce_mib_per_sec"] = sweep.Stat{N: s.N, Median: s.Median, Min: s.Min, Max: s.Max}
	l.Figures["response_p99_ms"] = sweep.Stat{N: s.N, Median: p99, Min: p99, Max: p99}
	p := &Point{Line: l, Set: Settings{Acks: "all", RF: 1, MinISR: 1}}
	p.Def.ID = id
	return p
}

// With repeats, the rank test and the overlap of runs decide ties, not
// 1 %: a point 5 % lower but within the top point's noise is tied (and
// wins on p99); one clearly lower is not, even with a lower p99.
func TestTiesWithRepeats(t *testing.T) {
	top := point("top", 20, 100, 90, 110, 105)
	noisy := point("noisy", 10, 95, 85, 104, 99)   // −5 %, runs overlap: tied
	lower := point("lower", 5, 80, 82, 79, 81)     // −20 %, every run below: not tied
	close1 := point("close", 30, 99.5, 99.5, 99.5) // 3 runs: overlap decides
	points := []*Point{top, noisy, lower, close1}
	lv := top.Set.Durability()
	if got := best(points, lv); got != noisy {
		t.Fatalf("best %s, want noisy (tied with the top, lower p99)", got.Def.ID)
	}
	tiedSet := tiedWithBest(points, map[string]*Point{lv: noisy})
	if !tiedSet[top] || !tiedSet[close1] || tiedSet[lower] || tiedSet[noisy] {
		t.Fatalf("tied %v, want top and close, not lower nor the best itself", tiedSet)
	}
	// Without repeats the 1 % rule stands.
	one, two := point("one", 20, 100), point("two", 10, 98.5)
	if got := best([]*Point{one, two}, lv); got != one {
		t.Fatalf("single runs: best %s, want one (two is 1.5 %% lower)", got.Def.ID)
	}
}

// Charts with repeats show each point's range of runs as error bars.
func TestSpreadBars(t *testing.T) {
	a, b, single := point("a", 1, 10, 14, 12), point("b", 1, 20, 30), point("c", 1, 50)
	a.Set.Partitions, b.Set.Partitions, single.Set.Partitions = 1, 2, 4
	parts := func(p *Point) float64 { return float64(p.Set.Partitions) }
	eb := pointSpread([]*Point{a, b, single}, "produce_mib_per_sec", parts, parts).errorBars()
	if eb == nil {
		t.Fatal("no error bars for points with repeats")
	}
	r := eb.XYs
	if len(r) != 2 || r[0] != (plotter.XY{X: 1, Y: 12}) || r[1] != (plotter.XY{X: 2, Y: 12.5}) {
		t.Fatalf("bar centres %v, want (1, 12) and (2, 12.5): the single-run point has none", r)
	}
	lo0, hi0 := eb.YError(0)
	lo1, hi1 := eb.YError(1)
	if lo0 != 2 || hi0 != 2 || lo1 != 2.5 || hi1 != 2.5 {
		t.Fatalf("bar extents ±(%v, %v) and ±(%v, %v), want ±2 and ±2.5 (per partition)", lo0, hi0, lo1, hi1)
	}
	if pointSpread([]*Point{single}, "produce_mib_per_sec", parts, parts).errorBars() != nil {
		t.Fatal("error bars without repeats")
	}
}
