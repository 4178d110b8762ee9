package reports

import (
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/stats"
)

// interval is a figure's median and range over a point's runs (or a
// level's repetitions), at a position on the other axis: what a chart with
// repeats shows as spread.
type interval struct {
	at, mid, lo, hi float64
}

// intervals are drawn as vertical error bars around the median; xIntervals
// as horizontal ones.
type (
	intervals  []interval
	xIntervals []interval
)

func (r intervals) Len() int                        { return len(r) }
func (r intervals) XY(i int) (float64, float64)     { return r[i].at, r[i].mid }
func (r intervals) YError(i int) (float64, float64) { return r[i].below(), r[i].above() }

func (r xIntervals) Len() int                        { return len(r) }
func (r xIntervals) XY(i int) (float64, float64)     { return r[i].mid, r[i].at }
func (r xIntervals) XError(i int) (float64, float64) { return r[i].below(), r[i].above() }

// below and above are the bar's extents from the median. A bar drawn on a
// figure derived from medians (CPU per MiB: median cores ÷ median MiB/s)
// can sit outside its runs' range; the bar then starts at it.
func (iv interval) below() float64 { return max(0, iv.mid-iv.lo) }
func (iv interval) above() float64 { return max(0, iv.hi-iv.mid) }

// spreadOf is figure name's median and range over p's counted runs (for
// steady_ figures, its steady runs); ok only with two or more.
func spreadOf(p *Point, name string) (sweep.Stat, bool) {
	if !p.Done() {
		return sweep.Stat{}, false
	}
	st, ok := p.Line.Figures[name]
	return st, ok && st.N >= 2
}

// figures reads a figure by name: a point's medians (Point.Fig) or one
// run's values.
type figures func(name string) (float64, bool)

// runSpread is value's median and range over p's counted runs, value
// reading one run's figures; ok only with two or more runs giving one.
func runSpread(p *Point, value func(figures) (float64, bool)) (stats.Summary, bool) {
	if !p.Done() {
		return stats.Summary{}, false
	}
	var xs []float64
	for _, r := range p.Line.Runs {
		if !r.Counted {
			continue
		}
		if v, ok := value(func(name string) (float64, bool) { v, ok := r.Figures[name]; return v, ok }); ok {
			xs = append(xs, v)
		}
	}
	s := stats.Summarize(xs)
	return s, s.N >= 2
}

// pointSpread is figure name's range over each point's runs at x(p),
// divided by div(p) (1 for the figure itself); empty when no point has two
// or more runs.
func pointSpread(points []*Point, name string, x, div func(*Point) float64) intervals {
	var r intervals
	for _, p := range points {
		st, ok := spreadOf(p, name)
		if !ok {
			continue
		}
		d := div(p)
		r = append(r, interval{at: x(p), mid: st.Median / d, lo: st.Min / d, hi: st.Max / d})
	}
	return r
}

// errorBars draws vertical intervals; nil when there are none.
func (r intervals) errorBars() *plotter.YErrorBars {
	if len(r) == 0 {
		return nil
	}
	eb, err := plotter.NewYErrorBars(r)
	if err != nil { // only for NaN or infinite values, which a finished point does not have
		return nil
	}
	eb.LineStyle.Width = vg.Points(1)
	eb.CapWidth = vg.Points(6)
	return eb
}

// errorBars draws horizontal intervals; nil when there are none.
func (r xIntervals) errorBars() *plotter.XErrorBars {
	if len(r) == 0 {
		return nil
	}
	eb, err := plotter.NewXErrorBars(r)
	if err != nil {
		return nil
	}
	eb.LineStyle.Width = vg.Points(1)
	eb.CapWidth = vg.Points(6)
	return eb
}

// shifted draws a plotter moved right by dx: error bars over bars drawn
// with an offset from their category.
type shifted struct {
	plot.Plotter
	dx vg.Length
}

func (s shifted) Plot(c draw.Canvas, p *plot.Plot) {
	c.Push()
	c.Translate(vg.Point{X: s.dx})
	s.Plotter.Plot(c, p)
	c.Pop()
}
