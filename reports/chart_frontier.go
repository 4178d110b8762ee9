package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/bench/sweep"
)

// runDot is one load-generator run placed on the throughput/latency plane.
type runDot struct {
	mibps, p99 float64
	valid      bool
}

// durabilityLevels returns the durability levels of the points, weakest
// first (acks 0, 1, all; then RF; then min.insync).
func durabilityLevels(points []*Point) []string {
	var levels []string
	rank := map[string]Settings{}
	for _, p := range points {
		d := p.Set.Durability()
		if _, ok := rank[d]; !ok {
			levels = append(levels, d)
			rank[d] = p.Set
		}
	}
	acks := func(a string) int { return map[string]int{"0": 0, "1": 1, "all": 2}[a] }
	slices.SortFunc(levels, func(a, b string) int {
		x, y := rank[a], rank[b]
		return cmp.Or(cmp.Compare(acks(x.Acks), acks(y.Acks)), cmp.Compare(x.RF, y.RF), cmp.Compare(x.MinISR, y.MinISR))
	})
	return levels
}

// frontierDots collects every run (probes included) of the level's
// finished points: a max-sustainable search traces the level's whole
// latency curve. Fault runs are left out: their latency is the fault's,
// reported as unavailability.
func frontierDots(points []*Point, level string) []runDot {
	var dots []runDot
	for _, p := range points {
		if !p.Done() || p.Set.Durability() != level {
			continue
		}
		for _, r := range p.Line.Runs {
			if r.Phase == sweep.PhaseFault {
				continue
			}
			mib, ok1 := r.Figures["produce_mib_per_sec"]
			p99, ok2 := r.Figures["response_p99_ms"]
			if !ok1 || !ok2 || p99 <= 0 || mib <= 0 {
				continue
			}
			dots = append(dots, runDot{mibps: mib, p99: p99, valid: r.Valid})
		}
	}
	return dots
}

// validFront is the Pareto front of the valid runs (no other valid run
// has both more throughput and a lower p99), in increasing throughput.
func validFront(dots []runDot) []runDot {
	var valid []runDot
	for _, d := range dots {
		if d.valid {
			valid = append(valid, d)
		}
	}
	var front []runDot
	for _, i := range paretoFront(len(valid), func(i int) float64 { return valid[i].mibps }, func(i int) float64 { return -valid[i].p99 }) {
		front = append(front, valid[i])
	}
	return front
}

// frontierChart plots achieved throughput against p99 response time, one
// colour per durability level, with each level's Pareto front drawn as a
// line: the throughput-versus-durability frontier. Nil when fewer than two
// runs have both figures.
func frontierChart(points []*Point) (*plot.Plot, string) {
	levels := durabilityLevels(points)
	total := 0
	for _, lv := range levels {
		total += len(frontierDots(points, lv))
	}
	if total < 2 {
		return nil, ""
	}
	p := newPlot("Throughput vs p99 response time by durability setting",
		"achieved produce throughput (MiB/s)", "p99 response (ms, log)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = niceTicks{}
	p.X.Min = 0
	lo, hi := math.Inf(1), math.Inf(-1)
	xmax := 0.0
	invalidShown := false
	for i, lv := range levels {
		dots := frontierDots(points, lv)
		if len(dots) == 0 {
			continue
		}
		col := seriesColor(i)
		var ok, bad plotter.XYs
		for _, d := range dots {
			lo, hi = min(lo, d.p99), max(hi, d.p99)
			xmax = max(xmax, d.mibps)
			if d.valid {
				ok = append(ok, plotter.XY{X: d.mibps, Y: d.p99})
			} else {
				bad = append(bad, plotter.XY{X: d.mibps, Y: d.p99})
			}
		}
		var front plotter.XYs
		for _, d := range validFront(dots) {
			front = append(front, plotter.XY{X: d.mibps, Y: d.p99})
		}
		var thumbs []plot.Thumbnailer
		if len(front) > 0 {
			l, err := plotter.NewLine(front)
			if err == nil {
				l.Color, l.Width = col, vg.Points(1.5)
				p.Add(l)
				thumbs = append(thumbs, l)
			}
		}
		if len(ok) > 0 {
			s, err := plotter.NewScatter(ok)
			if err == nil {
				s.Color, s.Shape, s.Radius = col, draw.CircleGlyph{}, vg.Points(3)
				p.Add(s)
				thumbs = append(thumbs, s)
			}
		}
		if len(bad) > 0 {
			s, err := plotter.NewScatter(bad)
			if err == nil {
				s.Color, s.Shape, s.Radius = col, draw.CrossGlyph{}, vg.Points(4)
				p.Add(s)
				invalidShown = true
			}
		}
		p.Legend.Add(lv, thumbs...)
	}
	if invalidShown {
		marker := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: color.Black, Shape: draw.CrossGlyph{}, Radius: vg.Points(4)}}
		p.Legend.Add("invalid run (generator check failed)", marker)
	}
	// Room around the data so no point sits on an edge, and above it for
	// the legend.
	p.X.Min, p.X.Max = 0, xmax*1.08
	p.Y.Min, p.Y.Max = lo/1.5, hi*4
	p.Add(plotter.NewGrid())
	caption := fmt.Sprintf("Every run of every finished point (search probes included), %d durability level(s); "+
		"the line joins each level's Pareto front (no valid run of the level has both more throughput and a lower p99). "+
		"Crosses are runs the load generator marked invalid.", len(levels))
	return p, caption
}
