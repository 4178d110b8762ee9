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
	"github.com/kbench/kbench/bench/sweep"
)

// timeline is one run's figures per interval, read from its hlog.
type timeline struct {
	rate     plotter.XYs            // records/s acknowledged, at each interval's end (s)
	p99      map[string]plotter.XYs // by tag: response, service, e2e (ms)
	warmup   float64                // seconds from the start when the warmup ended
	duration float64
}

// readTimeline reads one of a point's histogram logs (rel, relative to the
// run directory). The time axis starts at the first interval's start.
func readTimeline(dir string, p *Point, rel string) (*timeline, error) {
	if rel == "" {
		return nil, fmt.Errorf("%s: no histogram log", p.Def.ID)
	}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		return nil, fmt.Errorf("histogram log: %w", err)
	}
	defer f.Close()
	hs, err := bench.ReadHlog(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("%s: no intervals", rel)
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

// timelineChart plots a point's representative run: throughput and p99
// per interval, so stalls and warmup effects show.
func timelineChart(dir string, p *Point) (figure, string, error) {
	if p.Line == nil {
		return figure{}, "", fmt.Errorf("%s: not run", p.Def.ID)
	}
	f, tl, err := drawTimeline(dir, p, p.Line.Hlog, "Over time: "+p.Name(), nil)
	if err != nil {
		return figure{}, "", err
	}
	caption := fmt.Sprintf("%s: the representative run (%s) per interval of its histogram log %s; the dotted line ends the %gs warmup.",
		p.Name(), runNameOf(p), p.Line.Hlog, tl.warmup)
	return f, caption, nil
}

// faultTimelineChart plots a fault run of a frontier point with a mark
// where each fault started and where healing started.
func faultTimelineChart(dir string, p *Point, r sweep.RunSummary) (figure, string, error) {
	var marks []faultMark
	if r.Faults != nil {
		for _, ev := range r.Faults.Events {
			if !ev.Skipped {
				marks = append(marks, faultMark{at: float64(ev.Started), label: ev.Action.String()})
			}
		}
		if h := r.Faults.Heal; h.Started > 0 {
			marks = append(marks, faultMark{at: float64(h.Started), label: "healing starts", heal: true})
		}
	}
	title := fmt.Sprintf("Under faults: %s, %s", p.Name(), r.Scenario)
	f, tl, err := drawTimeline(dir, p, r.Hlog, title, marks)
	if err != nil {
		return figure{}, "", err
	}
	caption := fmt.Sprintf("%s: fault run %s (%s) at %s records/s per interval of %s. Red lines: each fault as it started (seconds after the %gs warmup); green: healing starts (the load has ended). "+
		"Latency here is the fault's: it is reported as unavailability, never in the steady-state figures.",
		p.Name(), r.Name, r.Scenario, formatCount(r.Target), r.Hlog, tl.warmup)
	return f, caption, nil
}

// faultMark is a vertical line on a timeline: a fault or the heal, at
// seconds after the warmup.
type faultMark struct {
	at    float64
	label string
	heal  bool
}

// drawTimeline draws the throughput and p99 panels of one histogram log,
// with marks (seconds after the warmup) drawn as labelled lines.
func drawTimeline(dir string, p *Point, rel, title string, marks []faultMark) (figure, *timeline, error) {
	tl, err := readTimeline(dir, p, rel)
	if err != nil {
		return figure{}, nil, err
	}
	top := newPlot(title, "time since the run started (s)", "acknowledged records/s")
	bottom := newPlot("p99 per interval", "time since the run started (s)", "p99 latency (ms)")
	if len(tl.rate) > 0 {
		l, s, err := plotter.NewLinePoints(tl.rate)
		if err != nil {
			return figure{}, nil, fmt.Errorf("timeline: %w", err)
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
			return figure{}, nil, fmt.Errorf("timeline: %w", err)
		}
		l.Color, s.Color, l.Dashes = seriesColor(i), seriesColor(i), plotutil.Dashes(i)
		s.Shape = draw.CircleGlyph{}
		bottom.Add(l, s)
		bottom.Legend.Add(tag+" p99", l, s)
	}
	legendRoom(top, topOf(tl.rate), 0.35)
	legendRoom(bottom, topOf(tl.p99["response"], tl.p99["service"], tl.p99["e2e"]), 0.35)
	end := tl.duration
	for _, m := range marks {
		end = max(end, tl.warmup+m.at)
	}
	for _, pl := range []*plot.Plot{top, bottom} {
		pl.X.Min, pl.X.Max = 0, end*1.04
		pl.Y.Min = 0
		pl.Add(plotter.NewGrid())
		pl.Legend.Left = true
		if tl.warmup > 0 {
			pl.Add(&warmupLine{x: tl.warmup})
		}
		for i, m := range marks {
			pl.Add(&markLine{x: tl.warmup + m.at, label: m.label, heal: m.heal, row: i})
		}
	}
	return figure{rows: [][]*plot.Plot{{top}, {bottom}}, w: 8 * vg.Inch, h: 7 * vg.Inch, stack: []float64{1, 1}}, tl, nil
}

func runNameOf(p *Point) string {
	for _, r := range p.Line.Runs {
		if r.Hlog == p.Line.Hlog {
			return r.Name
		}
	}
	return "?"
}

// markLine is a fault (red) or the heal (green) as a vertical line at x
// with its label; row staggers labels of marks close together.
type markLine struct {
	x     float64
	label string
	heal  bool
	row   int
}

func (m *markLine) Plot(c draw.Canvas, plt *plot.Plot) {
	x := plt.X.Norm(m.x)
	if x < 0 || x > 1 {
		return
	}
	col := color.Color(color.RGBA{R: 0xc0, G: 0x20, B: 0x20, A: 0xff})
	if m.heal {
		col = color.RGBA{R: 0x20, G: 0x90, B: 0x30, A: 0xff}
	}
	px := c.Min.X + vg.Length(x)*(c.Max.X-c.Min.X)
	c.StrokeLine2(draw.LineStyle{Color: col, Width: vg.Points(1.2)}, px, c.Min.Y, px, c.Max.Y)
	sty := draw.TextStyle{Color: col, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler, XAlign: draw.XLeft, YAlign: draw.YTop}
	sty.Font.Size = vg.Points(7.5)
	// Labels hang below the top, staggered, so a legend at the top left and
	// neighbouring marks stay readable.
	y := c.Max.Y - vg.Points(30+9*float64(m.row%4))
	c.FillText(sty, vg.Point{X: px + vg.Points(2), Y: y}, m.label)
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
