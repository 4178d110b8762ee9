package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/profiles"
)

// partGroup is a set of finished, not rate-capped points that differ only
// in partitions (and the producers and consumers scaled with them).
type partGroup struct {
	points []*Point // by partitions
	label  string
}

// partitionGroups finds groups with at least two partition counts. Fixed
// rate points are left out: their throughput is the rate asked for.
func partitionGroups(points []*Point) []*partGroup {
	var keys []string
	groups := map[string]*partGroup{}
	for _, p := range points {
		if !p.Done() || p.Set.RateKind == profiles.RateFixed || p.Set.Partitions <= 0 {
			continue
		}
		if _, ok := p.Fig("produce_mib_per_sec"); !ok {
			continue
		}
		k := p.Set.without("partitions", "producers", "consumers")
		g := groups[k]
		if g == nil {
			g = &partGroup{}
			groups[k] = g
			keys = append(keys, k)
		}
		g.points = append(g.points, p)
	}
	var out []*partGroup
	for _, k := range keys {
		g := groups[k]
		var counts []int
		for _, p := range g.points {
			if !slices.Contains(counts, p.Set.Partitions) {
				counts = append(counts, p.Set.Partitions)
			}
		}
		if len(counts) < 2 {
			continue
		}
		slices.SortStableFunc(g.points, func(a, b *Point) int { return cmp.Compare(a.Set.Partitions, b.Set.Partitions) })
		out = append(out, g)
	}
	if len(out) > 1 {
		for _, g := range out {
			g.label = sharedLabel(g.points[0], "partitions", "producers", "consumers", "scale")
		}
	}
	return out
}

// Ceiling is the highest per-partition throughput a group of points
// showed, and the point that showed it.
type Ceiling struct {
	MiBps, RecordsPerSec float64 // per partition
	From                 *Point
}

// perPartitionCeiling is the best throughput per partition among the
// valid points; ok is false when no point is valid.
func perPartitionCeiling(points []*Point) (Ceiling, bool) {
	var c Ceiling
	for _, p := range points {
		mib, ok := p.Fig("produce_mib_per_sec")
		if !ok || !p.Valid() || p.Set.Partitions <= 0 {
			continue
		}
		if per := mib / float64(p.Set.Partitions); per > c.MiBps {
			rec, _ := p.Fig("produce_records_per_sec")
			c = Ceiling{MiBps: per, RecordsPerSec: rec / float64(p.Set.Partitions), From: p}
		}
	}
	return c, c.From != nil
}

// partitionChart plots throughput against partitions (top) and throughput
// per partition (bottom), with the per-partition ceiling marked: the
// dashed line is what linear scaling at the ceiling would give.
func partitionChart(g *partGroup) (figure, string, error) {
	ceil, ok := perPartitionCeiling(g.points)
	if !ok {
		return figure{}, "", fmt.Errorf("partition chart: no valid point")
	}
	rate := g.points[0].Set.RateText()
	title := "Partition scaling: throughput vs partitions (" + rate + ")"
	if g.label != "" {
		title += "\n" + g.label
	}
	top := newPlot(title, "partitions (log scale)", "achieved produce throughput (MiB/s)")
	bottom := newPlot("Throughput per partition", "partitions (log scale)", "MiB/s per partition")
	var ticks plot.ConstantTicks
	var total, per, badTotal, badPer plotter.XYs
	lo, hi := g.points[0].Set.Partitions, g.points[len(g.points)-1].Set.Partitions
	for _, p := range g.points {
		mib, _ := p.Fig("produce_mib_per_sec")
		n := float64(p.Set.Partitions)
		if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == n }) {
			ticks = append(ticks, plot.Tick{Value: n, Label: strconv.Itoa(p.Set.Partitions)})
		}
		if p.Valid() {
			total = append(total, plotter.XY{X: n, Y: mib})
			per = append(per, plotter.XY{X: n, Y: mib / n})
		} else {
			badTotal = append(badTotal, plotter.XY{X: n, Y: mib})
			badPer = append(badPer, plotter.XY{X: n, Y: mib / n})
		}
	}
	ranged := false
	ceilLabel := fmt.Sprintf("per-partition ceiling %s MiB/s (%s records/s, %s)", formatFig(ceil.MiBps), formatFig(ceil.RecordsPerSec), ceil.From.Def.ID)
	for i, pl := range []*plot.Plot{top, bottom} {
		pl.X.Scale = plot.LogScale{}
		pl.X.Tick.Marker = ticks
		pl.X.Min, pl.X.Max = float64(lo)/1.2, float64(hi)*1.2
		pl.Y.Min = 0
		measured, bad := total, badTotal
		ideal := plotter.XYs{{X: float64(lo), Y: ceil.MiBps * float64(lo)}, {X: float64(hi), Y: ceil.MiBps * float64(hi)}}
		idealName := "linear scaling at the " + ceilLabel
		if i == 1 {
			measured, bad = per, badPer
			ideal = plotter.XYs{{X: float64(lo), Y: ceil.MiBps}, {X: float64(hi), Y: ceil.MiBps}}
			idealName = ceilLabel
		}
		il, err := plotter.NewLine(ideal)
		if err != nil {
			return figure{}, "", fmt.Errorf("partition chart: %w", err)
		}
		il.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		il.Color = color.RGBA{R: 0xb0, A: 0xff}
		pl.Add(il)
		pl.Legend.Add(idealName, il)
		if len(measured) > 0 {
			l, s, err := plotter.NewLinePoints(measured)
			if err != nil {
				return figure{}, "", fmt.Errorf("partition chart: %w", err)
			}
			l.Color, s.Color = seriesColor(0), seriesColor(0)
			s.Shape = draw.CircleGlyph{}
			pl.Add(l, s)
			pl.Legend.Add("measured ("+rate+")", l, s)
		}
		// With repeats, each point's runs span a range: shown as error bars.
		nParts := func(p *Point) float64 { return float64(p.Set.Partitions) }
		div := func(*Point) float64 { return 1 }
		if i == 1 {
			div = nParts
		}
		if eb := pointSpread(g.points, "produce_mib_per_sec", nParts, div).errorBars(); eb != nil {
			eb.Color = seriesColor(0)
			pl.Add(eb)
			ranged = true
		}
		if len(bad) > 0 {
			s, err := plotter.NewScatter(bad)
			if err != nil {
				return figure{}, "", fmt.Errorf("partition chart: %w", err)
			}
			s.Shape, s.Radius = draw.CrossGlyph{}, vg.Points(4)
			pl.Add(s)
			pl.Legend.Add("invalid point", s)
		}
		pl.Legend.Left = true
		legendRoom(pl, topOf(measured, bad, ideal), 0.35)
		pl.Add(plotter.NewGrid())
	}
	caption := fmt.Sprintf("%d points at %s rates; the per-partition ceiling is the most any valid point reached per partition (%s, %s). "+
		"Below the dashed line, something other than partitions (producers, CPU, broker) limits throughput.",
		len(g.points), rate, ceil.From.Name(), formatFig(ceil.MiBps)+" MiB/s")
	if ranged {
		caption += " Error bars span each point's runs, lowest to highest; the dots are their medians."
	}
	if g.label != "" {
		caption = g.label + ". " + caption
	}
	return figure{rows: [][]*plot.Plot{{top}, {bottom}}, w: 8 * vg.Inch, h: 8 * vg.Inch, stack: []float64{1, 1}}, caption, nil
}
