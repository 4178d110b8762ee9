package reports

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CodecPoint is one codec at one level on one batch size, as the codec
// shootout measured it. reports takes its own type rather than the bench
// result so that charts depend on nothing upstream.
type CodecPoint struct {
	Label        string  // codec:level, as in the table
	Codec        string  // codec name: points of one codec share a colour
	BatchBytes   int     // producer batch size limit
	Ratio        float64 // uncompressed / wire bytes
	CompressMBps float64 // median per core; 0 when the codec does no work (none)
}

// codecFormats are written for every chart: PNG to look at, SVG to embed.
func codecFormats() []string { return []string{"png", "svg"} }

// CodecCharts writes the codec shootout charts into dir and returns the
// files written: codecs-ratio shows ratio against batch size, one line per
// codec and level; codecs-pareto-<size> shows, per batch size, compress
// speed against ratio with the Pareto front (no point both faster and
// better compressing) drawn through it.
func CodecCharts(dir string, points []CodecPoint) ([]string, error) {
	if len(points) == 0 {
		return nil, errors.New("codec charts: no points")
	}
	var files []string
	p, err := codecRatioPlot(points)
	if err != nil {
		return nil, err
	}
	fs, err := codecSave(p, dir, "codecs-ratio")
	if err != nil {
		return nil, err
	}
	files = append(files, fs...)

	for _, size := range codecBatchSizes(points) {
		var at []CodecPoint
		for _, pt := range points {
			if pt.BatchBytes == size && pt.CompressMBps > 0 {
				at = append(at, pt)
			}
		}
		if len(at) == 0 {
			continue
		}
		p, err := codecParetoPlot(at, size)
		if err != nil {
			return nil, err
		}
		fs, err := codecSave(p, dir, "codecs-pareto-"+codecSizeLabel(size))
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

func codecSave(p *plot.Plot, dir, base string) ([]string, error) {
	var files []string
	for _, ext := range codecFormats() {
		path := filepath.Join(dir, base+"."+ext)
		if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
			return files, fmt.Errorf("saving %s: %w", path, err)
		}
		files = append(files, path)
	}
	return files, nil
}

func codecBatchSizes(points []CodecPoint) []int {
	var sizes []int
	for _, pt := range points {
		if !slices.Contains(sizes, pt.BatchBytes) {
			sizes = append(sizes, pt.BatchBytes)
		}
	}
	slices.Sort(sizes)
	return sizes
}

// codecSizeLabel prints a batch size the way users type it: 16KiB, 1MiB.
func codecSizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// codecColorIndex gives every codec a fixed colour so charts agree.
func codecColorIndex(codec string) int {
	switch codec {
	case "none":
		return 6
	case "gzip":
		return 0
	case "snappy":
		return 1
	case "lz4":
		return 2
	case "zstd":
		return 3
	}
	return 4
}

func codecRatioPlot(points []CodecPoint) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Compression ratio by batch size"
	p.X.Label.Text = "batch size (uncompressed, log scale)"
	p.Y.Label.Text = "ratio (uncompressed / wire bytes)"
	p.X.Scale = plot.LogScale{}
	var ticks plot.ConstantTicks
	for _, s := range codecBatchSizes(points) {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: codecSizeLabel(s)})
	}
	p.X.Tick.Marker = ticks
	// Room right of the largest batch size for the legend, which would
	// otherwise cover the lines' ends.
	sizes := codecBatchSizes(points)
	p.X.Min, p.X.Max = float64(sizes[0])/1.25, float64(sizes[len(sizes)-1])*5
	p.Legend.Top = true

	var labels []string
	for _, pt := range points {
		if !slices.Contains(labels, pt.Label) {
			labels = append(labels, pt.Label)
		}
	}
	perCodec := map[string]int{} // how many levels of a codec so far, for dashes and glyphs
	for _, label := range labels {
		var xys plotter.XYs
		codec := ""
		for _, pt := range points {
			if pt.Label == label {
				xys = append(xys, plotter.XY{X: float64(pt.BatchBytes), Y: pt.Ratio})
				codec = pt.Codec
			}
		}
		slices.SortFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, scatter, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("ratio chart %s: %w", label, err)
		}
		n := perCodec[codec]
		perCodec[codec]++
		line.Color = plotutil.Color(codecColorIndex(codec))
		line.Dashes = plotutil.Dashes(n)
		scatter.Color = line.Color
		scatter.Shape = plotutil.Shape(n)
		p.Add(line, scatter)
		p.Legend.Add(label, line, scatter)
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// codecParetoFront returns the points no other point beats on both compress
// speed and ratio, fastest first.
func codecParetoFront(points []CodecPoint) []CodecPoint {
	var front []CodecPoint
	for _, i := range paretoFront(len(points), func(i int) float64 { return points[i].CompressMBps }, func(i int) float64 { return points[i].Ratio }) {
		front = append(front, points[i])
	}
	slices.Reverse(front)
	return front
}

func codecParetoPlot(points []CodecPoint, size int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Compress speed vs ratio at " + codecSizeLabel(size) + " batches (Pareto front dashed)"
	p.X.Label.Text = "compress MB/s per core (log scale)"
	p.Y.Label.Text = "ratio (uncompressed / wire bytes)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true

	// Pad the x range so labels of the extreme points stay inside.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pt := range points {
		lo, hi = min(lo, pt.CompressMBps), max(hi, pt.CompressMBps)
	}
	p.X.Min, p.X.Max = lo/1.5, hi*2

	front := codecParetoFront(points)
	var fxy plotter.XYs
	for _, pt := range front {
		fxy = append(fxy, plotter.XY{X: pt.CompressMBps, Y: pt.Ratio})
	}
	fl, err := plotter.NewLine(fxy)
	if err != nil {
		return nil, fmt.Errorf("pareto front: %w", err)
	}
	fl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	fl.Width = vg.Points(1.5)
	p.Add(fl)
	p.Legend.Add("Pareto front", fl)

	var codecs []string
	for _, pt := range points {
		if !slices.Contains(codecs, pt.Codec) {
			codecs = append(codecs, pt.Codec)
		}
	}
	for _, codec := range codecs {
		var xys plotter.XYs
		var labels []string
		for _, pt := range points {
			if pt.Codec == codec {
				xys = append(xys, plotter.XY{X: pt.CompressMBps, Y: pt.Ratio})
				labels = append(labels, pt.Label)
			}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("pareto chart %s: %w", codec, err)
		}
		sc.Color = plotutil.Color(codecColorIndex(codec))
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(4)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("pareto labels %s: %w", codec, err)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(8)
		}
		p.Add(sc, lb)
		p.Legend.Add(codec, sc)
	}
	p.Add(plotter.NewGrid())
	return p, nil
}
