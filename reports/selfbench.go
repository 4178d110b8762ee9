package reports

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SelfbenchBar is one target's throughput ratio to the ceiling on one
// workload, as the broker harness measured it. reports takes its own type
// so charts depend on nothing upstream.
type SelfbenchBar struct {
	Workload string
	Target   string
	Ratio    float64 // median over rounds
	// Low and High are the range over rounds; equal to Ratio (or both 0)
	// when there is no range to draw.
	Low, High float64
}

// SelfbenchChart writes selfbench-ratio.png and .svg into dir: one group of
// bars per workload, one bar per target, the height its records/s ratio to
// the ceiling with the range over rounds as an error bar, and a dashed line
// at 1 (the ceiling itself). Workloads and targets keep the order in which
// they first appear in bars.
func SelfbenchChart(dir string, bars []SelfbenchBar) ([]string, error) {
	if len(bars) == 0 {
		return nil, errors.New("selfbench chart: no bars")
	}
	var workloads, targets []string
	for _, b := range bars {
		if !slices.Contains(workloads, b.Workload) {
			workloads = append(workloads, b.Workload)
		}
		if !slices.Contains(targets, b.Target) {
			targets = append(targets, b.Target)
		}
	}
	p := plot.New()
	p.Title.Text = "Throughput relative to the null-broker ceiling (median over rounds, range as error bars)"
	p.Y.Label.Text = "records/s ÷ ceiling records/s"
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(workloads...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	width := vg.Points(min(14, 400/float64(len(workloads)*len(targets))))
	top := 1.0
	for i, target := range targets {
		vals := make(plotter.Values, len(workloads))
		var errs rangeBars
		for _, b := range bars {
			if b.Target != target {
				continue
			}
			x := slices.Index(workloads, b.Workload)
			vals[x] = b.Ratio
			top = max(top, b.Ratio, b.High)
			if b.High > b.Low {
				errs = append(errs, rangeBar{x: float64(x), y: b.Ratio, low: b.Low, high: b.High})
			}
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("selfbench chart %s: %w", target, err)
		}
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(float64(i)-float64(len(targets)-1)/2) * width
		p.Add(bc)
		p.Legend.Add(target, bc)
		if len(errs) > 0 {
			eb, err := plotter.NewYErrorBars(errs)
			if err != nil {
				return nil, fmt.Errorf("selfbench chart %s error bars: %w", target, err)
			}
			// Error bars sit on the group's x: shift them like the bars.
			p.Add(offsetErrorBars{eb, bc.Offset})
		}
	}
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(workloads)) - 0.5, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("selfbench chart: %w", err)
	}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.Legend.Add("ceiling", one)
	p.Y.Min, p.Y.Max = 0, top*1.15
	p.Add(plotter.NewGrid())

	var files []string
	for _, ext := range []string{"png", "svg"} {
		path := filepath.Join(dir, "selfbench-ratio."+ext)
		if err := p.Save(vg.Length(max(10, 0.9*float64(len(workloads))))*vg.Inch, 6*vg.Inch, path); err != nil {
			return files, fmt.Errorf("saving %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

type rangeBar struct{ x, y, low, high float64 }

// rangeBars draws asymmetric error bars from low to high around y.
type rangeBars []rangeBar

func (r rangeBars) Len() int                    { return len(r) }
func (r rangeBars) XY(i int) (float64, float64) { return r[i].x, r[i].y }
func (r rangeBars) YError(i int) (float64, float64) {
	return r[i].y - r[i].low, r[i].high - r[i].y
}

// offsetErrorBars draws error bars shifted sideways by a bar chart's offset,
// so each sits on its own bar.
type offsetErrorBars struct {
	*plotter.YErrorBars
	offset vg.Length
}

func (o offsetErrorBars) Plot(c draw.Canvas, p *plot.Plot) {
	c.Rectangle.Min.X += o.offset
	c.Rectangle.Max.X += o.offset
	o.YErrorBars.Plot(c, p)
}
