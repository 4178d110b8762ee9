package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/bench/rebalance"
)

// RebalanceChart draws the rows of a rebalance sweep: rebalance time against
// group size, one line per protocol, one panel per event, saved as
// dir/rebalance.png and .svg. Events that did not converge are left out of
// their line and counted in the caption.
func RebalanceChart(rows []rebalance.Row, dir string) (Chart, error) {
	var events []rebalance.Event
	var protocols []rebalance.Protocol
	for _, r := range rows {
		if r.Event != "" && !slices.Contains(events, r.Event) {
			events = append(events, r.Event)
		}
		if !slices.Contains(protocols, r.Protocol) {
			protocols = append(protocols, r.Protocol)
		}
	}
	if len(events) == 0 {
		return Chart{}, fmt.Errorf("rebalance chart: no measured events")
	}
	failed := 0
	var panels []*plot.Plot
	for _, ev := range events {
		pl := newPlot(string(ev), "group size (members)", "seconds to owned and consumed again")
		pl.X.Tick.Marker = sizeTicks(rows)
		if len(pl.X.Tick.Marker.(plot.ConstantTicks)) > 1 {
			pl.X.Scale = plot.LogScale{}
		}
		top := 0.0
		for i, proto := range protocols {
			var xy plotter.XYs
			for _, r := range rows {
				if r.Event != ev || r.Protocol != proto {
					continue
				}
				if !r.Done {
					failed++
					continue
				}
				xy = append(xy, plotter.XY{X: float64(r.Size), Y: r.RebalanceS})
				top = math.Max(top, r.RebalanceS)
			}
			if len(xy) == 0 {
				continue
			}
			slices.SortFunc(xy, func(a, b plotter.XY) int { return int(a.X - b.X) })
			l, s, err := plotter.NewLinePoints(xy)
			if err != nil {
				return Chart{}, fmt.Errorf("rebalance chart: %w", err)
			}
			l.Color, s.Color = seriesColor(i), seriesColor(i)
			s.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}}[i%3]
			pl.Add(l, s)
			pl.Legend.Add(string(proto), l, s)
		}
		pl.Y.Min = 0
		legendRoom(pl, top, 0.35)
		pl.Add(plotter.NewGrid())
		panels = append(panels, pl)
	}
	f := figure{rows: [][]*plot.Plot{panels}, w: vg.Length(len(panels)) * 4 * vg.Inch, h: 4.5 * vg.Inch}
	png, svg, err := f.save(dir, "rebalance")
	if err != nil {
		return Chart{}, err
	}
	caption := "Time from the event (a member joins a group of the size shown, that member leaves cleanly, or one of the original members crashes) until every partition is owned and has delivered a record again, on one clock, per group protocol."
	if failed > 0 {
		caption += fmt.Sprintf(" %d measurements did not converge within the profile's timeout and are not drawn.", failed)
	}
	return Chart{Kind: "rebalance", Name: "rebalance", Title: "Rebalance time vs group size", Caption: caption, PNG: png, SVG: svg}, nil
}

// sizeTicks labels the group sizes measured.
func sizeTicks(rows []rebalance.Row) plot.ConstantTicks {
	var sizes []int
	for _, r := range rows {
		if r.Size > 0 && !slices.Contains(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
	}
	slices.Sort(sizes)
	var t plot.ConstantTicks
	for _, n := range sizes {
		t = append(t, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	return t
}
