package reports

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/kbench/kbench/bench"
)

// CompareMarkdown is the file `kbench report --compare` writes beside the
// report.
const CompareMarkdown = "compare.md"

// CompareReport is a run compared with another: a delta table per point
// both ran and, where both kept histograms, their percentile spectra
// overlaid.
type CompareReport struct {
	Path   string // the markdown written
	Charts []Chart
	Points int // points compared
}

// WriteCompareReport compares run B against run A (both sweep run
// directories) into dir: CompareMarkdown and a spectrum chart per matched
// point, at significance level alpha.
func WriteCompareReport(dirA, dirB, dir string, alpha float64) (*CompareReport, error) {
	a, err := LoadSide(dirA)
	if err != nil {
		return nil, err
	}
	b, err := LoadSide(dirB)
	if err != nil {
		return nil, err
	}
	runA, err := LoadRun(dirA)
	if err != nil {
		return nil, err
	}
	runB, err := LoadRun(dirB)
	if err != nil {
		return nil, err
	}
	pairs, onlyA, onlyB := Match(a, b)
	out := &CompareReport{Path: filepath.Join(dir, CompareMarkdown), Points: len(pairs)}
	var md strings.Builder
	fmt.Fprintf(&md, "# %s compared with %s\n\n", filepath.Base(filepath.Clean(dirB)), filepath.Base(filepath.Clean(dirA)))
	fmt.Fprintf(&md, "A is `%s`, B is `%s`. Points are matched by their settings. For each figure: A and B are the median over the point's runs ± half their range; "+
		"delta is B's median over A's − 1 with its %s %% confidence interval; p is the Mann–Whitney U rank test (exact for small counts); "+
		"~ marks a difference that is not significant at %s. Latency percentiles are compared run by run, each from that run's full histogram. "+
		"With fewer than 4 runs a point (the profile's `repeat`), no difference can be significant.\n\n",
		dirA, dirB, formatFig(100*(1-alpha)), formatFig(alpha))
	byDefA, byDefB := pointsByName(runA), pointsByName(runB)
	for _, pr := range pairs {
		c := Compare(pr[0].Name, pr[0].Runs, pr[1].Runs, nil, alpha)
		fmt.Fprintf(&md, "## %s\n\n", pr[0].Name)
		comparisonMarkdown(&md, c)
		pa, pb := byDefA[pr[0].Name], byDefB[pr[1].Name]
		if pa == nil || pb == nil {
			continue
		}
		f, caption := overlaidSpectrum(pa, pb)
		if f == nil {
			md.WriteString("\nNo spectrum: a side kept no response-time histogram.\n\n")
			continue
		}
		name := "compare-spectrum-" + pa.Def.ID
		png, svg, err := f.save(dir, name)
		if err != nil {
			return nil, err
		}
		out.Charts = append(out.Charts, Chart{Kind: "compare", Name: name, Title: "Percentile spectra, A against B: " + pa.Name(), Caption: caption, PNG: png, SVG: svg})
		fmt.Fprintf(&md, "\n![%s](%s)\n\n%s\n\n", name, filepath.Base(png), caption)
	}
	for _, l := range []struct {
		side string
		ps   []*SidePoint
	}{{"A", onlyA}, {"B", onlyB}} {
		if len(l.ps) == 0 {
			continue
		}
		fmt.Fprintf(&md, "## Only in %s\n\nNo point with the same settings on the other side:\n\n", l.side)
		for _, p := range l.ps {
			fmt.Fprintf(&md, "- %s\n", p.Name)
		}
		md.WriteString("\n")
	}
	if err := os.WriteFile(out.Path, []byte(md.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write comparison: %w", err)
	}
	return out, nil
}

func pointsByName(r *Run) map[string]*Point {
	m := map[string]*Point{}
	for _, p := range r.Points {
		m[p.Name()] = p
	}
	return m
}

// comparisonMarkdown writes one point's table.
func comparisonMarkdown(b *strings.Builder, c Comparison) {
	fmt.Fprintf(b, "| figure | A (n=%d) | B (n=%d) | delta | %s %% CI | p |\n|---|---:|---:|---:|---:|---:|\n", c.NA, c.NB, formatFig(100*(1-c.Alpha)))
	for _, r := range c.Rows {
		delta := signedRel(r.Delta)
		if !r.Significant {
			delta = "~ (" + delta + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | [%s, %s] | %s |\n", r.Figure.Label, medianSpread(r.A), medianSpread(r.B), delta, signedRel(r.Lo), signedRel(r.Hi), formatP(r.Test.P))
	}
}

// overlaidSpectrum draws the response-time spectra (service time when
// there is none) of A's and B's representative runs on one chart.
func overlaidSpectrum(a, b *Point) (*figure, string) {
	p := newPlot("Latency percentile spectrum, A against B: "+a.Name(), "percentile", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	maxX := 1.0
	drawn := 0
	for i, side := range []struct {
		name string
		pt   *Point
	}{{"A", a}, {"B", b}} {
		l, what := representativeLatency(side.pt)
		if l == nil {
			continue
		}
		h, err := l.Histogram()
		if err != nil {
			continue
		}
		xys := spectrum(h)
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		line.Color = seriesColor(i)
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		p.Add(line)
		p.Legend.Add(side.name+": "+what, line)
		maxX = math.Max(maxX, xys[len(xys)-1].X)
		drawn++
	}
	if drawn < 2 {
		return nil, ""
	}
	p.X.Min, p.X.Max = 1, maxX
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	f := single(p)
	return &f, fmt.Sprintf("%s: each side's representative run (its median run), full histogram; x is 1/(1−p), so each decade is one more nine. The table above compares every run.", a.Name())
}

// representativeLatency is the histogram a point's spectrum shows.
func representativeLatency(p *Point) (*bench.Latency, string) {
	if !p.Done() || p.Line.Result == nil {
		return nil, ""
	}
	lat := p.Line.Result.Latency
	switch {
	case lat.Response != nil && lat.Response.Encode != "":
		return lat.Response, "response time"
	case lat.Service != nil && lat.Service.Encode != "":
		return lat.Service, "service time"
	}
	return nil, ""
}
