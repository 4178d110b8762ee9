package reports

import (
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// runRange is the range of a figure over each point's counted runs, as
// vertical error bars around the median: what a chart with repeats shows
// as spread. Points with one run have no bar.
type runRange struct {
	x, mid, lo, hi []float64
}

func (r *runRange) Len() int                        { return len(r.x) }
func (r *runRange) XY(i int) (float64, float64)     { return r.x[i], r.mid[i] }
func (r *runRange) YError(i int) (float64, float64) { return r.mid[i] - r.lo[i], r.hi[i] - r.mid[i] }

// spreadBars draws the range of figure name over each point's runs at
// x(p), divided by div(p) (1 for the figure itself); nil when no point
// has two or more runs.
func spreadBars(points []*Point, name string, x, div func(*Point) float64) *plotter.YErrorBars {
	r := &runRange{}
	for _, p := range points {
		if !p.Done() {
			continue
		}
		st, ok := p.Line.Figures[name]
		if !ok || st.N < 2 {
			continue
		}
		d := div(p)
		r.x = append(r.x, x(p))
		r.mid, r.lo, r.hi = append(r.mid, st.Median/d), append(r.lo, st.Min/d), append(r.hi, st.Max/d)
	}
	if r.Len() == 0 {
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
