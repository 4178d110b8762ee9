package reports

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/kbench/kbench/internal/stats"
)

// heatGroup is a set of finished points that differ only in linger.ms and
// batch.size.
type heatGroup struct {
	lingers []int
	sizes   []int
	at      map[[2]int]*Point
	label   string
}

// heatGroups finds the groups spanning at least two linger.ms values and
// two batch sizes: a grid worth a heatmap.
func heatGroups(points []*Point) []*heatGroup {
	var keys []string
	groups := map[string]*heatGroup{}
	for _, p := range points {
		if !p.Done() || p.Set.LingerMs < 0 || p.Set.BatchBytes <= 0 {
			continue
		}
		k := p.Set.without("linger.ms", "batch.size")
		g := groups[k]
		if g == nil {
			g = &heatGroup{at: map[[2]int]*Point{}}
			groups[k] = g
			keys = append(keys, k)
		}
		if !slices.Contains(g.lingers, p.Set.LingerMs) {
			g.lingers = append(g.lingers, p.Set.LingerMs)
		}
		if !slices.Contains(g.sizes, p.Set.BatchBytes) {
			g.sizes = append(g.sizes, p.Set.BatchBytes)
		}
		g.at[[2]int{p.Set.LingerMs, p.Set.BatchBytes}] = p
	}
	var out []*heatGroup
	for _, k := range keys {
		g := groups[k]
		if len(g.lingers) < 2 || len(g.sizes) < 2 {
			continue
		}
		slices.Sort(g.lingers)
		slices.Sort(g.sizes)
		out = append(out, g)
	}
	if len(out) > 1 {
		for _, g := range out {
			for _, p := range g.at {
				g.label = sharedLabel(p, "linger.ms", "batch.size")
				break
			}
		}
	}
	return out
}

// heatGrid is a heatmap's data: columns are linger.ms values, rows batch
// sizes, both drawn at their index so cells are evenly sized.
type heatGrid struct {
	z        [][]float64 // [row][col]; NaN = not measured
	min, max float64
}

func (g heatGrid) Dims() (c, r int)   { return len(g.z[0]), len(g.z) }
func (g heatGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g heatGrid) X(c int) float64    { return float64(c) }
func (g heatGrid) Y(r int) float64    { return float64(r) }
func (g heatGrid) Min() float64       { return g.min }
func (g heatGrid) Max() float64       { return g.max }

// heatMetric is what a heatmap shows: figure fig of each point.
type heatMetric struct {
	name, title, unit, fig string
	// higherIsBetter flips the colours so red always marks the worse end.
	higherIsBetter bool
}

func heatMetrics() []heatMetric {
	return []heatMetric{
		{"throughput", "linger.ms × batch.size: achieved throughput", "MiB/s", "produce_mib_per_sec", true},
		{"p99", "linger.ms × batch.size: p99 response time", "ms", "response_p99_ms", false},
	}
}

// heatCell is a cell's label: the median over the point's runs and, with
// repeats, ± half their range as a share of it (a heatmap cannot carry
// error bars); ranged says whether it has that spread.
func heatCell(p *Point, fig string) (text string, ranged bool) {
	st, ranged := spreadOf(p, fig)
	if !ranged {
		v, _ := p.Fig(fig)
		return formatFig(v), false
	}
	return medianSpread(stats.Summary{N: st.N, Median: st.Median, Min: st.Min, Max: st.Max}), true
}

// heatChart draws one metric over one group's grid, each cell labelled
// with its value (and its runs' spread, with repeats), and a colour bar
// beneath.
func heatChart(g *heatGroup, m heatMetric) (figure, string, error) {
	grid := heatGrid{min: math.Inf(1), max: math.Inf(-1)}
	var labels plotter.XYLabels
	var values []float64 // each label's value, to pick a readable text colour
	missed, ranged := false, false
	for r, size := range g.sizes {
		row := make([]float64, len(g.lingers))
		for c, linger := range g.lingers {
			row[c] = math.NaN()
			p := g.at[[2]int{linger, size}]
			if p == nil {
				continue
			}
			v, ok := p.Fig(m.fig)
			if !ok {
				continue
			}
			row[c] = v
			grid.min, grid.max = min(grid.min, v), max(grid.max, v)
			text, spread := heatCell(p, m.fig)
			ranged = ranged || spread
			if !p.Passed() {
				text += "*"
				missed = true
			}
			if !p.Valid() {
				text += "\n(invalid)"
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(r)})
			labels.Labels = append(labels.Labels, text)
			values = append(values, v)
		}
		grid.z = append(grid.z, row)
	}
	if math.IsInf(grid.min, 1) {
		return figure{}, "", fmt.Errorf("heatmap %s: no values", m.name)
	}
	flat := grid.max-grid.min <= 0.02*math.Abs(grid.max)
	if flat {
		// Differences under 2 % are noise (a fixed rate, say): centre the
		// colours so the cells look alike instead of exaggerating them.
		mid := (grid.min + grid.max) / 2
		grid.min, grid.max = mid-0.05*math.Abs(mid)-1e-9, mid+0.05*math.Abs(mid)+1e-9
	}
	var cmap palette.ColorMap = moreland.SmoothBlueRed()
	if m.higherIsBetter {
		cmap = palette.Reverse(cmap)
	}
	cmap.SetMin(grid.min)
	cmap.SetMax(grid.max)

	title := m.title + " (" + m.unit + ")"
	if g.label != "" {
		title += "\n" + g.label
	}
	p := newPlot(title, "linger.ms (ms)", "batch.size (bytes)")
	hm := plotter.NewHeatMap(grid, cmap.Palette(255))
	hm.NaN = color.Gray{Y: 0xdd}
	p.Add(hm)
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return figure{}, "", fmt.Errorf("heatmap labels: %w", err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign, lb.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		lb.TextStyle[i].Font.Size = vg.Points(10)
		if c, err := cmap.At(values[i]); err == nil && luminance(c) < 0.45 {
			lb.TextStyle[i].Color = color.White
		}
	}
	p.Add(lb)
	var xt, yt plot.ConstantTicks
	for c, l := range g.lingers {
		xt = append(xt, plot.Tick{Value: float64(c), Label: strconv.Itoa(l)})
	}
	for r, s := range g.sizes {
		yt = append(yt, plot.Tick{Value: float64(r), Label: sizeLabel(s)})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Min, p.X.Max = -0.5, float64(len(g.lingers))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(g.sizes))-0.5
	p.X.Padding, p.Y.Padding = 0, 0

	bar := plot.New()
	bar.HideY()
	bar.X.Padding = 0
	bar.X.Label.Text = m.unit + " (red = the worse end; * = the point missed the SLO; grey = not measured)"
	bar.X.Label.TextStyle.Font.Size = vg.Points(9)
	bar.Add(&plotter.ColorBar{ColorMap: cmap})

	caption := fmt.Sprintf("%s for each linger.ms (%s ms) and batch.size (%s); the median of each point's counted runs.",
		m.title[len("linger.ms × batch.size: "):], intList(g.lingers), sizeList(g.sizes))
	if ranged {
		caption += " ±: half the range of the point's runs, as a share of the median."
	}
	if missed {
		caption += " Cells marked * missed the SLO."
	}
	if flat {
		caption += " All cells are within 2 % of each other: the colour scale spans ±5 % so noise does not look like a difference."
	}
	if g.label != "" {
		caption = g.label + ". " + caption
	}
	return figure{rows: [][]*plot.Plot{{p}, {bar}}, w: 8 * vg.Inch, h: 6 * vg.Inch, stack: []float64{5, 1}}, caption, nil
}

// luminance is a colour's relative luminance, 0 (black) to 1 (white).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

func intList(xs []int) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(x)
	}
	return s
}

// formatFig writes a figure with three significant digits or so.
func formatFig(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.01:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
