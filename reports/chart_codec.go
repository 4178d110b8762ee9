package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// codecGroup is a set of finished points that differ only in codec and
// batch size.
type codecGroup struct {
	codecs []string
	sizes  []int
	at     map[string]*Point // codec + "/" + size
	// label names what the group's points share beyond codec and size,
	// when several groups exist.
	label string
}

func codecKey(codec string, size int) string { return fmt.Sprintf("%s/%d", codec, size) }

// codecGroups finds the groups with at least two codecs.
func codecGroups(points []*Point) []*codecGroup {
	var keys []string
	groups := map[string]*codecGroup{}
	for _, p := range points {
		if !p.Done() || p.Set.BatchBytes <= 0 {
			continue
		}
		k := p.Set.without("compression.type", "batch.size")
		g := groups[k]
		if g == nil {
			g = &codecGroup{at: map[string]*Point{}}
			groups[k] = g
			keys = append(keys, k)
		}
		if !slices.Contains(g.codecs, p.Set.Codec) {
			g.codecs = append(g.codecs, p.Set.Codec)
		}
		if !slices.Contains(g.sizes, p.Set.BatchBytes) {
			g.sizes = append(g.sizes, p.Set.BatchBytes)
		}
		g.at[codecKey(p.Set.Codec, p.Set.BatchBytes)] = p
	}
	var out []*codecGroup
	for _, k := range keys {
		g := groups[k]
		if len(g.codecs) < 2 {
			continue
		}
		slices.SortFunc(g.codecs, func(a, b string) int { return cmp.Compare(codecOrder(a), codecOrder(b)) })
		slices.Sort(g.sizes)
		out = append(out, g)
	}
	if len(out) > 1 {
		for _, g := range out {
			g.label = sharedLabel(g.anyPoint(), "compression.type", "batch.size")
		}
	}
	return out
}

func codecOrder(c string) int {
	if i := slices.Index([]string{"none", "gzip", "snappy", "lz4", "zstd"}, c); i >= 0 {
		return i
	}
	return 99
}

func (g *codecGroup) anyPoint() *Point {
	for _, c := range g.codecs {
		for _, s := range g.sizes {
			if p := g.at[codecKey(c, s)]; p != nil {
				return p
			}
		}
	}
	return nil
}

// sharedLabel describes a point's swept settings other than the named
// ones, e.g. "payload=random/rate=unthrottled".
func sharedLabel(p *Point, except ...string) string {
	var parts []string
	for _, a := range p.Def.Axes {
		if slices.Contains(except, a.Name) || (a.Name == "compression" && slices.Contains(except, "compression.type")) {
			continue
		}
		parts = append(parts, a.Name+"="+a.Written)
	}
	if len(parts) == 0 {
		return p.Def.Label
	}
	return strings.Join(parts, "/")
}

// codecMetric is one panel of the codec chart.
type codecMetric struct {
	title, unit string
	// value is the panel's figure for a point of the given codec, read
	// from its medians or from one of its runs.
	value func(codec string, fig figures) (float64, bool)
}

func codecMetrics(includesBroker bool) []codecMetric {
	cpuWho := "producer + consumer"
	if includesBroker {
		cpuWho = "producer + consumer + in-process broker"
	}
	return []codecMetric{
		{"Codec comparison: compression ratio", "ratio (uncompressed / compressed)", func(codec string, fig figures) (float64, bool) {
			if v, ok := fig("compression_ratio"); ok {
				return v, true
			}
			if codec == "none" {
				return 1, true
			}
			return 0, false
		}},
		{"Codec comparison: throughput", "achieved produce throughput (MiB/s)", func(_ string, fig figures) (float64, bool) {
			return fig("produce_mib_per_sec")
		}},
		{"Codec comparison: CPU per MiB", "generator CPU per MiB (core-ms; " + cpuWho + ")", func(_ string, fig figures) (float64, bool) {
			cores, ok1 := fig("cpu_cores")
			mib, ok2 := fig("produce_mib_per_sec")
			if !ok1 || !ok2 || mib <= 0 {
				return 0, false
			}
			return 1000 * cores / mib, true
		}},
	}
}

// codecBars is one batch size's bars in a codec panel, a value per codec
// (0 when not measured), and the range of each codec's runs where it had
// two or more.
func codecBars(g *codecGroup, m codecMetric, size int) (plotter.Values, intervals) {
	vals := make(plotter.Values, len(g.codecs))
	var spread intervals
	for j, c := range g.codecs {
		pt := g.at[codecKey(c, size)]
		if pt == nil {
			continue
		}
		v, ok := m.value(c, pt.Fig)
		if !ok {
			continue
		}
		vals[j] = v
		if s, ok := runSpread(pt, func(fig figures) (float64, bool) { return m.value(c, fig) }); ok {
			spread = append(spread, interval{at: float64(j), mid: v, lo: s.Min, hi: s.Max})
		}
	}
	return vals, spread
}

// codecChart draws one group's codec comparison: three panels of grouped
// bars (ratio, throughput, CPU per MiB), a bar per batch size per codec,
// with error bars over each point's runs when it has repeats.
func codecChart(g *codecGroup) (figure, string, error) {
	includesBroker := false
	for _, p := range g.at {
		if p.Line.Result != nil && p.Line.Result.CPU.IncludesBroker {
			includesBroker = true
		}
	}
	ranged := false
	var row []*plot.Plot
	for _, m := range codecMetrics(includesBroker) {
		title := m.title
		if g.label != "" {
			title += "\n" + g.label
		}
		p := newPlot(title, "codec", m.unit)
		p.Title.TextStyle.Font.Size = vg.Points(11)
		p.Y.Label.TextStyle.Font.Size = vg.Points(9)
		// Bars fill about 70 % of each codec's slot in a 4.5 inch panel.
		w := vg.Points(min(0.7*300/float64(len(g.codecs))/float64(len(g.sizes)), 40))
		series := make([]barSeries, len(g.sizes))
		for i, size := range g.sizes {
			vals, spread := codecBars(g, m, size)
			series[i] = barSeries{name: "batch.size=" + sizeLabel(size), v: vals, spread: spread}
		}
		// Caps as errorBars draws them, but no wider than half a bar.
		top, r, err := addBars(p, w, min(vg.Points(6), w/2), series)
		if err != nil {
			return figure{}, "", fmt.Errorf("codec chart: %w", err)
		}
		ranged = ranged || r
		p.NominalX(g.codecs...)
		p.Y.Min = 0
		legendRoom(p, top, 0.25)
		p.Add(plotter.NewGrid())
		row = append(row, p)
	}
	caption := fmt.Sprintf("Codecs %s at batch sizes %s: the median over each point's counted runs. "+
		"CPU is the load generator's own (cores busy ÷ MiB/s produced), so it includes compressing and decompressing.",
		strings.Join(g.codecs, ", "), sizeList(g.sizes))
	if ranged {
		caption += " Error bars span each point's runs, lowest to highest."
	}
	if g.label != "" {
		caption = g.label + ". " + caption
	}
	return figure{rows: [][]*plot.Plot{row}, w: 15 * vg.Inch, h: 5 * vg.Inch}, caption, nil
}

func sizeList(sizes []int) string {
	var s []string
	for _, n := range sizes {
		s = append(s, sizeLabel(n))
	}
	return strings.Join(s, ", ")
}
