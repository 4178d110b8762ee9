package reports

import (
	"fmt"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/kbench/kbench/bench"
)

// percentileTicks label the HdrHistogram percentile axis, x = 1/(1-p).
type percentileTicks struct{}

func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"}
	var ticks []plot.Tick
	for i, l := range labels {
		v := math.Pow(10, float64(i))
		if v >= lo && v <= hi*1.0001 {
			ticks = append(ticks, plot.Tick{Value: v, Label: l})
		}
		if half := 2 * v; i == 0 && half >= lo && half <= hi {
			ticks = append(ticks, plot.Tick{Value: half, Label: "50%"})
		}
	}
	return ticks
}

// spectrum samples a histogram along the percentile axis: x = 1/(1-p)
// from 1 (the minimum) to the histogram's count (the maximum), y in ms.
func spectrum(h *hdr.Histogram) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	top := math.Log10(float64(n))
	const steps = 200
	var xys plotter.XYs
	for i := 0; i <= steps; i++ {
		x := math.Pow(10, top*float64(i)/steps)
		q := 100 * (1 - 1/x)
		xys = append(xys, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(q)) / 1e6})
	}
	xys[len(xys)-1].Y = float64(h.Max()) / 1e6
	return xys
}

// spectrumChart plots a point's latency percentile spectrum: response
// time (from the intended send, coordinated omission corrected) against
// service time (from the actual send), and end-to-end when measured. Nil
// when the point recorded no histogram.
func spectrumChart(pt *Point) (*plot.Plot, string) {
	if !pt.Done() || pt.Line.Result == nil {
		return nil, ""
	}
	lat := pt.Line.Result.Latency
	series := []struct {
		name string
		l    *bench.Latency
	}{
		{"response time (from intended send)", lat.Response},
		{"service time (from actual send)", lat.Service},
		{"end-to-end (intended send to consumed)", lat.E2E},
	}
	p := newPlot("Latency percentile spectrum: "+pt.Name(), "percentile", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	drawn := 0
	maxX := 1.0
	for i, s := range series {
		if s.l == nil || s.l.Encode == "" {
			continue
		}
		h, err := s.l.Histogram()
		if err != nil {
			continue
		}
		xys := spectrum(h)
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		l.Color = seriesColor(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		p.Legend.Add(s.name, l)
		maxX = max(maxX, xys[len(xys)-1].X)
		drawn++
	}
	if drawn == 0 {
		return nil, ""
	}
	p.X.Min, p.X.Max = 1, maxX
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	r := pt.Line.Result
	caption := fmt.Sprintf("%s (%s): the counted run's full histograms, %d responses; x is 1/(1−p), so each decade is one more nine.",
		pt.Name(), pt.Set.Durability(), responseCount(r))
	return p, caption
}

func responseCount(r *bench.Result) int64 {
	if r.Latency.Response != nil {
		return r.Latency.Response.Count
	}
	if r.Latency.Service != nil {
		return r.Latency.Service.Count
	}
	return 0
}
