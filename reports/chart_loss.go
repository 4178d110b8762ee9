package reports

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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
	w := vg.Points(12)
	top := 1.0
	for i, s := range []struct {
		name string
		v    plotter.Values
	}{{"lost (acknowledged, not readable)", lost}, {"duplicated (readable more than once)", dup}} {
		b, err := plotter.NewBarChart(s.v, w)
		if err != nil {
			return nil, ""
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-0.5) * w
		pl.Add(b)
		pl.Legend.Add(s.name, b)
		for _, v := range s.v {
			top = max(top, v)
		}
	}
	// The counts as text above each pair of bars, so zero reads as zero
	// rather than as a missing bar.
	var xy plotter.XYLabels
	for i := range names {
		xy.XYs = append(xy.XYs, plotter.XY{X: float64(i), Y: max(lost[i], dup[i]) + top*0.04})
		xy.Labels = append(xy.Labels, fmt.Sprintf("%.0f lost, %.0f duplicated", lost[i], dup[i]))
	}
	lb, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, ""
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = draw.XCenter
		lb.TextStyle[i].Font.Size = vg.Points(9)
	}
	pl.Add(lb)
	pl.NominalX(names...)
	pl.X.Tick.Label.Font.Size = vg.Points(8)
	pl.X.Min, pl.X.Max = -0.6, float64(len(names))-0.4
	pl.Y.Min, pl.Y.Max = 0, top*1.3
	pl.Add(plotter.NewGrid())
	f := single(pl)
	f.w = vg.Length(max(8, 1+1.8*float64(len(names)))) * vg.Inch // room for each point's labels
	return &f, fmt.Sprintf("The durability audit of %d point(s): every acknowledged record read back after the run; bars at zero mean nothing was lost or duplicated.", len(names))
}
