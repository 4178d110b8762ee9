package reports

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// barSeries is one series of a grouped bar chart: a bar per category and,
// where the series has a spread, error bars over its repetitions.
type barSeries struct {
	name   string
	v      plotter.Values
	spread intervals
}

// addBars draws the series side by side in each category, bars w wide and
// error-bar caps capW wide, with a legend entry per series. It returns the
// highest bar or error bar and whether any error bars were drawn.
func addBars(p *plot.Plot, w, capW vg.Length, series []barSeries) (top float64, ranged bool, err error) {
	for i, s := range series {
		b, err := plotter.NewBarChart(s.v, w)
		if err != nil {
			return 0, false, err
		}
		b.Color = seriesColor(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(len(series)-1)/2) * w
		p.Add(b)
		p.Legend.Add(s.name, b)
		for _, v := range s.v {
			top = max(top, v)
		}
		if eb := s.spread.errorBars(); eb != nil {
			eb.CapWidth = capW
			p.Add(shifted{Plotter: eb, dx: b.Offset})
			for _, iv := range s.spread {
				top = max(top, iv.hi)
			}
			ranged = true
		}
	}
	return top, ranged, nil
}

// nameBars names the categories of a bar chart on the x axis and writes
// labels[i] centred above category i at height ys[i], in size points.
func nameBars(p *plot.Plot, names, labels []string, ys []float64, size float64) error {
	var xy plotter.XYLabels
	for i := range names {
		xy.XYs = append(xy.XYs, plotter.XY{X: float64(i), Y: ys[i]})
	}
	xy.Labels = labels
	lb, err := plotter.NewLabels(xy)
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = draw.XCenter
		lb.TextStyle[i].Font.Size = vg.Points(size)
	}
	p.Add(lb)
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.X.Min, p.X.Max = -0.6, float64(len(names))-0.4
	return nil
}
