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
)

// lossY is where a level's loss per fault sits on the frontier's log axis:
// its value, or the zero baseline (below every positive value) for none.
func lossY(l LevelOutcome, zero float64) float64 {
	if l.LostPerFault <= 0 {
		return zero
	}
	return l.LostPerFault
}

// zeroBaseline is the y of "nothing lost" on a log axis: a line of its own
// below the smallest positive loss (and below 1).
func zeroBaseline(levels []LevelOutcome) float64 {
	z := 0.25
	for _, l := range levels {
		if l.LostPerFault > 0 {
			z = min(z, l.LostPerFault/4)
		}
	}
	return z
}

// lossTicks labels the zero baseline "0" and the log axis above it at
// 1-2-5 steps from 1.
type lossTicks struct{ zero float64 }

func (t lossTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := []plot.Tick{{Value: t.zero, Label: "0"}}
	for _, tk := range (niceTicks{}).Ticks(max(lo, 1), hi) {
		if tk.Value >= 1 {
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// hline is a dashed horizontal line across the plot at y.
type hline struct {
	y   float64
	col color.Color
}

func (h hline) Plot(c draw.Canvas, plt *plot.Plot) {
	y := plt.Y.Norm(h.y)
	if y < 0 || y > 1 {
		return
	}
	py := c.Min.Y + vg.Length(y)*(c.Max.Y-c.Min.Y)
	c.StrokeLine2(draw.LineStyle{Color: h.col, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}},
		c.Min.X, py, c.Max.X, py)
}

// capacitySpread is each level's capacity range over its repetitions, at
// its height on the frontier; empty without repeats.
func capacitySpread(levels []LevelOutcome, zero float64) xIntervals {
	var r xIntervals
	for _, l := range levels {
		if l.Spread == nil || l.Spread.MaxMiBps.N < 2 {
			continue
		}
		st := l.Spread.MaxMiBps
		r = append(r, interval{at: lossY(l, zero), mid: l.MaxMiBps, lo: st.Min, hi: st.Max})
	}
	return r
}

// durabilityFrontierChart is the throughput-versus-durability frontier:
// one point per level, x its max sustainable throughput without faults, y
// the acknowledged records it lost per fault run (log scale, zero on its
// own baseline), labelled, with the Pareto front drawn. Nil without
// levels.
func durabilityFrontierChart(levels []LevelOutcome) (*figure, string) {
	if len(levels) == 0 {
		return nil, ""
	}
	zero := zeroBaseline(levels)
	p := newPlot("Throughput vs durability: capacity without faults, loss under faults",
		"max sustainable throughput without faults (MiB/s)", "lost per fault (log)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = lossTicks{zero: zero}
	xmax, ymax := 0.0, 1.0
	// Levels that lost nothing share the baseline: their labels go up in
	// rows, in order of throughput, so neighbours do not overwrite each
	// other; each label has its point's colour.
	row := map[int]int{}
	var onZero []int
	for i, l := range levels {
		if l.LostPerFault <= 0 {
			onZero = append(onZero, i)
		}
	}
	slices.SortFunc(onZero, func(a, b int) int { return cmp.Compare(levels[a].MaxMiBps, levels[b].MaxMiBps) })
	for k, i := range onZero {
		row[i] = k % 4
	}
	var front plotter.XYs
	for i, l := range levels {
		xy := plotter.XYs{{X: l.MaxMiBps, Y: lossY(l, zero)}}
		xmax, ymax = max(xmax, l.MaxMiBps), max(ymax, l.LostPerFault)
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, ""
		}
		s.Color, s.Radius = seriesColor(i), vg.Points(5)
		s.Shape = draw.RingGlyph{}
		if l.Front {
			s.Shape = draw.CircleGlyph{}
			front = append(front, xy[0])
		}
		label := l.Level
		if l.MaxMiBps <= 0 {
			label += " (no rate met the SLO)"
		}
		if l.Lost > 0 {
			label += fmt.Sprintf(": %d lost in %d fault run(s)", l.Lost, l.FaultRuns)
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: []string{label}})
		if err != nil {
			return nil, ""
		}
		lb.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(4 + 11*float64(row[i]))}
		lb.TextStyle[0].Font.Size = vg.Points(8.5)
		lb.TextStyle[0].Color = seriesColor(i)
		p.Add(s, lb)
	}
	if len(front) > 1 {
		l, err := plotter.NewLine(front)
		if err == nil {
			l.Color, l.Width = color.Gray{Y: 0x40}, vg.Points(1.2)
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(l)
		}
	}
	spread := capacitySpread(levels, zero)
	if eb := spread.errorBars(); eb != nil {
		eb.Color = color.Gray{Y: 0x40}
		p.Add(eb)
		for _, iv := range spread {
			xmax = max(xmax, iv.hi)
		}
	}
	p.Add(hline{y: zero, col: color.Gray{Y: 0x90}})
	p.X.Min, p.X.Max = 0, xmax*1.45 // room for the labels right of the points
	p.Y.Min, p.Y.Max = zero/2, math.Max(ymax*4, 10)
	p.Add(plotter.NewGrid())
	p.Legend = plot.NewLegend() // the caption explains the marks
	f := single(p)
	caption := fmt.Sprintf("One point per durability level (%d). x: the max sustainable rate under the SLO, measured without faults; "+
		"y: acknowledged records the audit could not read back, per fault run (points on the bottom line lost none). "+
		"Filled points and the dashed line are the Pareto front: no other level has both more throughput and less loss.", len(levels))
	if len(spread) > 0 {
		caption += " Horizontal error bars span each level's capacity over its repetitions, lowest to highest; the points are their medians."
	}
	return &f, caption
}

// costBars is the p99 cost chart's data: the levels with a steady p99,
// their p50 and p99 bars, and each bar's range over the level's
// repetitions (empty without repeats).
type costBars struct {
	names          []string
	p50, p99       plotter.Values
	p50Rng, p99Rng intervals
	rate           float64
}

func costData(levels []LevelOutcome) costBars {
	var c costBars
	for _, l := range levels {
		if l.SteadyP99 <= 0 {
			continue
		}
		at := float64(len(c.names))
		name := l.Level
		if l.SteadyMissed {
			name += " (!)"
		}
		c.names = append(c.names, name)
		c.p50 = append(c.p50, l.SteadyP50)
		c.p99 = append(c.p99, l.SteadyP99)
		c.rate = l.CommonRate
		if l.Spread == nil {
			continue
		}
		if st := l.Spread.SteadyP50; st.N >= 2 {
			c.p50Rng = append(c.p50Rng, interval{at: at, mid: l.SteadyP50, lo: st.Min, hi: st.Max})
		}
		if st := l.Spread.SteadyP99; st.N >= 2 {
			c.p99Rng = append(c.p99Rng, interval{at: at, mid: l.SteadyP99, lo: st.Min, hi: st.Max})
		}
	}
	return c
}

// p99CostChart is the companion: p50 and p99 response time of each level
// at the common rate, steady state (no faults), with error bars over the
// repetitions. Nil when no level has them.
func p99CostChart(levels []LevelOutcome) (*figure, string) {
	c := costData(levels)
	names, p50, p99, rate := c.names, c.p50, c.p99, c.rate
	if len(names) == 0 {
		return nil, ""
	}
	pl := newPlot(fmt.Sprintf("Latency cost at a common %s records/s, no faults", formatCount(rate)), "durability level", "response time (ms)")
	w := vg.Points(14)
	top, ranged, err := addBars(pl, w, w/2, []barSeries{{"p50", p50, c.p50Rng}, {"p99", p99, c.p99Rng}})
	if err != nil {
		return nil, ""
	}
	above := slices.Clone(p99) // labels go above the bars and their error bars
	for _, iv := range append(slices.Clone(c.p50Rng), c.p99Rng...) {
		above[int(iv.at)] = max(above[int(iv.at)], iv.hi)
	}
	labels := make([]string, len(names))
	for i := range names {
		above[i] += top * 0.03
		labels[i] = fmt.Sprintf("%s / %s ms", formatFig(p50[i]), formatFig(p99[i]))
	}
	if err := nameBars(pl, names, labels, above, 8.5); err != nil {
		return nil, ""
	}
	pl.Y.Min, pl.Y.Max = 0, top*1.35 // room above the bars for the legend
	pl.Add(plotter.NewGrid())
	f := single(pl)
	f.w = vg.Length(max(8, 1+1.9*float64(len(names)))) * vg.Inch
	caption := "Each level's steady-state run at the common rate, without faults (fault runs never enter these figures: their waits are reported as unavailability). " +
		"Labels: p50 / p99. (!) marks a level that could not sustain the common rate, so its latency includes queueing."
	if ranged {
		caption += " Error bars span each level's steady runs over its repetitions, lowest to highest; the bars are their medians."
	}
	return &f, caption
}
