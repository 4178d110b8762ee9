package reports

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one chart a report wrote: a PNG to look at and an SVG to zoom.
type Chart struct {
	// Kind groups charts in the report: frontier, spectrum, codec,
	// heatmap, partitions, timeline.
	Kind    string
	Name    string // file name without extension
	Title   string
	Caption string // what the chart shows and what it was drawn from
	PNG     string // path of the PNG
	SVG     string // path of the SVG
}

// figure is a chart before it is saved: one plot or a grid of them.
type figure struct {
	rows [][]*plot.Plot
	w, h vg.Length
	// stack, when set, lays the rows (one plot each) out top to bottom
	// with these relative heights instead of aligning equal tiles.
	stack []float64
}

func single(p *plot.Plot) figure {
	return figure{rows: [][]*plot.Plot{{p}}, w: 8 * vg.Inch, h: 5 * vg.Inch}
}

// save writes the figure as dir/name.png and dir/name.svg.
func (f figure) save(dir, name string) (pngPath, svgPath string, err error) {
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(dir, name+"."+ext)
		if err := f.saveAs(path, ext); err != nil {
			return "", "", fmt.Errorf("save chart %s: %w", path, err)
		}
		if ext == "png" {
			pngPath = path
		} else {
			svgPath = path
		}
	}
	return pngPath, svgPath, nil
}

func (f figure) saveAs(path, format string) (err error) {
	if len(f.rows) == 0 || len(f.rows[0]) == 0 {
		return errors.New("no plots")
	}
	c, err := draw.NewFormattedCanvas(f.w, f.h, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	switch {
	case len(f.rows) == 1 && len(f.rows[0]) == 1:
		f.rows[0][0].Draw(dc)
	case f.stack != nil:
		total := 0.0
		for _, w := range f.stack {
			total += w
		}
		top := vg.Length(0)
		for i, row := range f.rows {
			h := f.h * vg.Length(f.stack[i]/total)
			bottom := f.h - top - h
			row[0].Draw(draw.Crop(dc, 0, 0, bottom, -top))
			top += h
		}
	default:
		t := draw.Tiles{
			Rows: len(f.rows), Cols: len(f.rows[0]),
			PadX: vg.Points(12), PadY: vg.Points(12),
			PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6),
		}
		cs := plot.Align(f.rows, t, dc)
		for i := range f.rows {
			for j, p := range f.rows[i] {
				if p != nil {
					p.Draw(cs[i][j])
				}
			}
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = c.WriteTo(out)
	return err
}

// newPlot starts a plot in the house style: title, labelled axes, grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p
}

// legendRoom raises a linear y axis above the data's top so a legend at
// the top does not cover it.
func legendRoom(p *plot.Plot, ymax, frac float64) {
	if ymax > 0 {
		p.Y.Max = max(p.Y.Max, ymax*(1+frac))
	}
}

// topOf is the largest y of the series.
func topOf(series ...plotter.XYs) float64 {
	top := math.Inf(-1)
	for _, s := range series {
		for _, xy := range s {
			top = max(top, xy.Y)
		}
	}
	return top
}

// seriesColor gives the i-th series a colour from plotutil's palette.
func seriesColor(i int) color.Color { return plotutil.Color(i) }

// niceTicks labels a log axis at 1-2-5 steps within [lo, hi], so a narrow
// log range still gets several readable ticks.
type niceTicks struct{ unit string }

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := 1e-3; d <= 1e9; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v >= lo*0.999 && v <= hi*1.001 {
				ticks = append(ticks, plot.Tick{Value: v, Label: trimFloat(v) + t.unit})
			}
		}
	}
	if len(ticks) < 2 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	return ticks
}

// trimFloat writes v briefly: 0.5, 2, 1000.
func trimFloat(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
