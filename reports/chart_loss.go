package reports

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// lossChart draws the durability audit's measured loss: lost and
// duplicated acknowledged records per audited point. Nil when no point
// was audited.
func lossChart(points []*Point) (*figure, string) {
	var names []string
	var lost, dup plotter.Values
	for _, p := range points {
		if p.Audit == nil {
			continue
		}
		names = append(names, p.Def.ID+"\n"+p.Set.Durability())
		lost = append(lost, float64(p.Audit.Lost))
		dup = append(dup, float64(p.Audit.Duplicated))
	}
	if len(names) == 0 {
		return nil, ""
	}
	pl := newPlot("Measured loss: acknowledged records lost or duplicated", "point (durability setting)", "records")
	top, _, err := addBars(pl, vg.Points(12), 0, []barSeries{
		{name: "lost (acknowledged, not readable)", v: lost},
		{name: "duplicated (readable more than once)", v: dup},
	})
	if err != nil {
		return nil, ""
	}
	top = max(top, 1)
	// The counts as text above each pair of bars, so zero reads as zero
	// rather than as a missing bar.
	ys, labels := make([]float64, len(names)), make([]string, len(names))
	for i := range names {
		ys[i] = max(lost[i], dup[i]) + top*0.04
		labels[i] = fmt.Sprintf("%.0f lost, %.0f duplicated", lost[i], dup[i])
	}
	if err := nameBars(pl, names, labels, ys, 9); err != nil {
		return nil, ""
	}
	pl.Y.Min, pl.Y.Max = 0, top*1.3
	pl.Add(plotter.NewGrid())
	f := single(pl)
	f.w = vg.Length(max(8, 1+1.8*float64(len(names)))) * vg.Inch // room for each point's labels
	return &f, fmt.Sprintf("The durability audit of %d point(s): every acknowledged record read back after the run; bars at zero mean nothing was lost or duplicated.", len(names))
}
