package reports

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/bench"
)

// timeline is one run's figures per interval, read from its hlog.
type timeline struct {
	rate     plotter.XYs            // records/s acknowledged, at each interval's end (s)
	p99      map[string]plotter.XYs // by tag: response, service, e2e (ms)
	warmup   float64                // seconds from the start when the warmup ended
	duration float64
}

// readTimeline reads a point's representative hlog. The time axis starts
// at the first interval's start.
func readTimeline(dir string, p *Point) (*timeline, error) {
	if p.Line == nil || p.Line.Hlog == "" {
		return nil, fmt.Errorf("%s: no histogram log", p.Def.ID)
	}
	f, err := os.Open(filepath.Join(dir, p.Line.Hlog))
	if err != nil {
		return nil, fmt.Errorf("histogram log: %w", err)
	}
	defer f.Close()
	hs, err := bench.ReadHlog(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Line.Hlog, err)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("%s: no intervals", p.Line.Hlog)
	}
	t0 := hs[0].Start
	for _, h := range hs {
		if h.Start.Before(t0) {
			t0 = h.Start
		}
	}
	tl := &timeline{p99: map[string]plotter.XYs{}, warmup: time.Duration(p.Def.Warmup).Seconds()}
	nominal := time.Duration(p.Def.Interval).Seconds()
	for _, h := range hs {
		end := h.End.Sub(t0).Seconds()
		d := h.End.Sub(h.Start).Seconds()
		tl.duration = max(tl.duration, end)
		if h.Hist.TotalCount() > 0 {
			tl.p99[h.Tag] = append(tl.p99[h.Tag], plotter.XY{X: end, Y: float64(h.Hist.ValueAtQuantile(99)) / 1e6})
		}
		// The final interval holds the wait for the last acknowledgements
		// and the drain: often a sliver, whose rate means nothing.
		if h.Tag == "response" && d > 0 && d >= nominal/4 {
			tl.rate = append(tl.rate, plotter.XY{X: end, Y: float64(h.Hist.TotalCount()) / d})
		}
	}
	return tl, nil
}

// timelineChart plots a point's throughput and p99 per interval, so stalls
// and warmup effects show.
func timelineChart(dir string, p *Point) (figure, string, error) {
	tl, err := readTimeline(dir, p)
	if err != nil {
		return figure{}, "", err
	}
	top := newPlot("Over time: "+p.Name(), "time since the run started (s)", "acknowledged records/s")
	bottom := newPlot("p99 per interval", "time since the run started (s)", "p99 latency (ms)")
	if len(tl.rate) > 0 {
		l, s, err := plotter.NewLinePoints(tl.rate)
		if err != nil {
			return figure{}, "", fmt.Errorf("timeline: %w", err)
		}
		l.Color, s.Color, s.Shape = seriesColor(0), seriesColor(0), draw.CircleGlyph{}
		top.Add(l, s)
		top.Legend.Add("acknowledged records/s (interval's response count ÷ its length)", l, s)
	}
	for i, tag := range []string{"response", "service", "e2e"} {
		xys := tl.p99[tag]
		if len(xys) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return figure{}, "", fmt.Errorf("timeline: %w", err)
		}
		l.Color, s.Color, l.Dashes = seriesColor(i), seriesColor(i), plotutil.Dashes(i)
		s.Shape = draw.CircleGlyph{}
		bottom.Add(l, s)
		bottom.Legend.Add(tag+" p99", l, s)
	}
	legendRoom(top, topOf(tl.rate), 0.35)
	legendRoom(bottom, topOf(tl.p99["response"], tl.p99["service"], tl.p99["e2e"]), 0.35)
	for _, pl := range []*plot.Plot{top, bottom} {
		pl.X.Min, pl.X.Max = 0, tl.duration*1.02
		pl.Y.Min = 0
		pl.Add(plotter.NewGrid())
		pl.Legend.Left = true
		if tl.warmup > 0 {
			pl.Add(&warmupLine{x: tl.warmup})
		}
	}
	caption := fmt.Sprintf("%s: the representative run (%s) per interval of its histogram log %s; the dotted line ends the %gs warmup.",
		p.Name(), runNameOf(p), p.Line.Hlog, tl.warmup)
	return figure{rows: [][]*plot.Plot{{top}, {bottom}}, w: 8 * vg.Inch, h: 7 * vg.Inch, stack: []float64{1, 1}}, caption, nil
}

func runNameOf(p *Point) string {
	for _, r := range p.Line.Runs {
		if r.Hlog == p.Line.Hlog {
			return r.Name
		}
	}
	return "?"
}

// warmupLine is a vertical dotted line at x across the whole plot.
type warmupLine struct{ x float64 }

func (w *warmupLine) Plot(c draw.Canvas, plt *plot.Plot) {
	x := plt.X.Norm(w.x)
	if x < 0 || x > 1 {
		return
	}
	px := c.Min.X + vg.Length(x)*(c.Max.X-c.Min.X)
	c.StrokeLine2(draw.LineStyle{Color: color.Gray{Y: 0x60}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}},
		px, c.Min.Y, px, c.Max.Y)
}
