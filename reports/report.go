package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

// ReportDir is where a report goes inside a run directory.
const ReportDir = "report"

// Report files.
const (
	ReportMarkdown = "report.md"
	ReportHTML     = "report.html"
)

// Report is everything the report pages show, charts already written.
type Report struct {
	Run   *Run
	Dir   string // where the report was written
	Title string
	// Facts describe the run: profile, target, software, host, SLO.
	Facts [][2]string
	// Partial says what is missing from an incomplete run; empty when the
	// run is complete.
	Partial []string
	// Levels are the durability levels, weakest first; Best holds each
	// level's best point (nil when none met the SLO).
	Levels []string
	Best   map[string]*Point
	// Tied are the points tied with their level's best (see tieRule).
	Tied   map[*Point]bool
	Charts []Chart
	// Skipped names the charts the run has no data for, and why.
	Skipped []string
	// Problems are charts that could not be drawn (an unreadable hlog, say).
	Problems []string
	// Frontier is each durability level's capacity and loss when the
	// profile measured a frontier; Reading says in words what it shows.
	Frontier []LevelOutcome
	Reading  []string
	// Compared is the comparison with another run that --compare wrote
	// next to the report (nil without one); ComparedWith is that run.
	Compared     *CompareReport
	ComparedWith string
}

// frontierChartName is the throughput-versus-durability chart's file name;
// the report's reading goes under it.
const frontierChartName = "durability-frontier"

// bestRule is how the best point of a durability level is chosen; the
// report states it.
const bestRule = "among valid points that met the SLO: the highest achieved throughput; points tied with it are decided by the lower p99 response time. " + tieRule

// best picks a level's best point by bestRule; nil when no point
// qualifies.
func best(points []*Point, level string) *Point {
	top, cands := topPoint(points, level)
	var pick *Point
	pickP99 := 0.0
	for _, p := range cands {
		if p != top && !tied(top, p) {
			continue
		}
		p99, ok := p.Fig("response_p99_ms")
		if !ok {
			p99 = 1e300
		}
		if pick == nil || p99 < pickP99 {
			pick, pickP99 = p, p99
		}
	}
	return pick
}

// BuildReport reads nothing: it draws the charts of run into dir (which
// must exist) and assembles the report. A chart whose data the run lacks
// is skipped and listed in Skipped.
func BuildReport(run *Run, dir string) (*Report, error) {
	m := run.Manifest
	rep := &Report{Run: run, Dir: dir, Best: map[string]*Point{}}
	rep.Title = fmt.Sprintf("kbench report: %s (%s)", m.Profile.Name, filepath.Base(filepath.Clean(run.Dir)))
	rep.Facts = facts(run)
	rep.Partial = partial(run)
	rep.Levels = durabilityLevels(run.Points)
	for _, lv := range rep.Levels {
		rep.Best[lv] = best(run.Points, lv)
	}
	rep.Tied = tiedWithBest(run.Points, rep.Best)

	add := func(kind, name, title string, f figure, caption string) error {
		png, svg, err := f.save(dir, name)
		if err != nil {
			return err
		}
		rep.Charts = append(rep.Charts, Chart{Kind: kind, Name: name, Title: title, Caption: caption, PNG: png, SVG: svg})
		return nil
	}

	// 0. The throughput-versus-durability frontier and its latency cost.
	rep.Frontier = frontierOutcomes(run.Points, m.Profile.Frontier)
	rep.Reading = frontierReading(rep.Frontier)
	if f, caption := durabilityFrontierChart(rep.Frontier); f != nil {
		if err := add("durability", frontierChartName, f.rows[0][0].Title.Text, *f, caption); err != nil {
			return nil, err
		}
		if f, caption := p99CostChart(rep.Frontier); f != nil {
			if err := add("durability", "durability-p99-cost", f.rows[0][0].Title.Text, *f, caption); err != nil {
				return nil, err
			}
		}
	}

	// 1. Throughput vs latency per durability level.
	if p, caption := frontierChart(run.Points); p != nil {
		if err := add("frontier", "throughput-latency", p.Title.Text, single(p), caption); err != nil {
			return nil, err
		}
	} else {
		rep.Skipped = append(rep.Skipped, "throughput vs latency: fewer than two runs have both throughput and a p99")
	}

	// 2. Percentile spectrum of each level's best point (or, when none
	// met the SLO, its valid point with the lowest p99).
	spectra := 0
	for _, lv := range rep.Levels {
		b, why := rep.Best[lv], ""
		if b == nil {
			if b = lowestP99(run.Points, lv); b == nil {
				continue
			}
			why = " No point of this level met the SLO: this is its valid point with the lowest p99."
		}
		if p, caption := spectrumChart(b); p != nil {
			caption += why
			if err := add("spectrum", "spectrum-"+b.Def.ID, p.Title.Text, single(p), caption); err != nil {
				return nil, err
			}
			spectra++
		}
	}
	if spectra == 0 {
		rep.Skipped = append(rep.Skipped, "percentile spectrum: no durability level has a valid point with recorded histograms")
	}

	// 3. Codec comparison.
	cgs := codecGroups(run.Points)
	for i, g := range cgs {
		f, caption, err := codecChart(g)
		if err != nil {
			return nil, err
		}
		title := "Codec comparison"
		if g.label != "" {
			title += ": " + g.label
		}
		if err := add("codec", numbered("codecs", i, len(cgs)), title, f, caption); err != nil {
			return nil, err
		}
	}
	if len(cgs) == 0 {
		rep.Skipped = append(rep.Skipped, "codec comparison: no finished points differ only in compression codec (and batch size)")
	}

	// 4. linger.ms × batch.size heatmaps.
	hgs := heatGroups(run.Points)
	for i, g := range hgs {
		for _, m := range heatMetrics() {
			f, caption, err := heatChart(g, m)
			if err != nil {
				rep.Problems = append(rep.Problems, err.Error())
				continue
			}
			title := f.rows[0][0].Title.Text
			if err := add("heatmap", numbered("heatmap-"+m.name, i, len(hgs)), title, f, caption); err != nil {
				return nil, err
			}
		}
	}
	if len(hgs) == 0 {
		rep.Skipped = append(rep.Skipped, "linger.ms × batch.size heatmaps: no finished points span two linger.ms values and two batch sizes with all else equal")
	}

	// 5. Partition scaling.
	pgs := partitionGroups(run.Points)
	for i, g := range pgs {
		f, caption, err := partitionChart(g)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		if err := add("partitions", numbered("partition-scaling", i, len(pgs)), f.rows[0][0].Title.Text, f, caption); err != nil {
			return nil, err
		}
	}
	if len(pgs) == 0 {
		rep.Skipped = append(rep.Skipped, "partition scaling: no finished unthrottled or max-sustainable points differ only in partitions")
	}

	// 6. Throughput and p99 over time, per point; a frontier point's fault
	// runs too, with their faults marked.
	var uncounted []string
	for _, p := range run.Points {
		if !p.Done() {
			continue
		}
		if p.Line.Hlog == "" {
			uncounted = append(uncounted, p.Def.ID)
		} else if f, caption, err := timelineChart(run.Dir, p); err != nil {
			rep.Problems = append(rep.Problems, "over time "+p.Def.ID+": "+err.Error())
		} else if err := add("timeline", "timeline-"+p.Def.ID, f.rows[0][0].Title.Text, f, caption); err != nil {
			return nil, err
		}
		for _, r := range p.Line.Runs {
			if r.Phase != sweep.PhaseFault {
				continue
			}
			f, caption, err := faultTimelineChart(run.Dir, p, r)
			if err != nil {
				rep.Problems = append(rep.Problems, "over time "+p.Def.ID+" "+r.Name+": "+err.Error())
				continue
			}
			if err := add("timeline", "timeline-"+p.Def.ID+"-"+r.Name, f.rows[0][0].Title.Text, f, caption); err != nil {
				return nil, err
			}
		}
	}

	if len(uncounted) > 0 {
		rep.Skipped = append(rep.Skipped, "over time for "+strings.Join(uncounted, ", ")+
			": no counted run (a search that found no rate meeting the SLO), so no histogram log to draw")
	}

	// Durability audit, when the sweep recorded one.
	if f, caption := lossChart(run.Points); f != nil {
		if err := add("loss", "durability-loss", f.rows[0][0].Title.Text, *f, caption); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// lowestP99 is the level's valid point with the lowest p99 response
// time; nil when it has none.
func lowestP99(points []*Point, level string) *Point {
	var pick *Point
	low := 0.0
	for _, p := range points {
		v, ok := p.Fig("response_p99_ms")
		if !ok || !p.Valid() || p.Set.Durability() != level {
			continue
		}
		if pick == nil || v < low {
			pick, low = p, v
		}
	}
	return pick
}

func numbered(base string, i, n int) string {
	if n <= 1 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, i+1)
}

// facts lists what the run was: the manifest in brief.
func facts(run *Run) [][2]string {
	m := run.Manifest
	p := m.Profile
	version := m.Kbench
	if m.Commit != "" {
		c := m.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		version += " (commit " + c
		if m.Dirty {
			version += ", modified"
		}
		version += ")"
	}
	host := fmt.Sprintf("%s/%s, %d CPUs", m.OS, m.Arch, m.CPUs)
	if m.CPUModel != "" {
		host += " (" + m.CPUModel + ")"
	}
	host += ", " + m.Go
	status := m.Status
	if m.Sessions > 1 {
		status += fmt.Sprintf(" after %d sessions", m.Sessions)
	}
	out := [][2]string{
		{"profile", p.Name + " (" + p.Source + ")"},
	}
	if p.Description != "" {
		out = append(out, [2]string{"description", p.Description})
	}
	if len(p.Overrides) > 0 {
		out = append(out, [2]string{"overrides", strings.Join(p.Overrides, " ")})
	}
	out = append(out,
		[2]string{"status", status},
		[2]string{"points", pointCounts(run)},
		[2]string{"target", m.Target},
	)
	if m.Cluster != nil && m.Cluster.BrokerVersionGuess != "" {
		out = append(out, [2]string{"broker", m.Cluster.BrokerVersionGuess + " (guessed from its API versions)"})
	}
	out = append(out,
		[2]string{"SLO", p.SLO.Describe()},
		[2]string{"repeat", fmt.Sprintf("%d run(s) per point; figures are medians over them", p.Repeat)},
		[2]string{"started", m.Created.UTC().Format(time.RFC3339)},
		[2]string{"elapsed", time.Duration(m.Elapsed).Round(time.Second).String()},
		[2]string{"kbench", version},
		[2]string{"host", host},
	)
	return out
}

func pointCounts(run *Run) string {
	var done, failed, missing int
	for _, p := range run.Points {
		switch {
		case p.Done():
			done++
		case p.Failed():
			failed++
		default:
			missing++
		}
	}
	s := fmt.Sprintf("%d in the profile: %d done, %d failed", len(run.Points), done, failed)
	if missing > 0 {
		s += fmt.Sprintf(", %d not run", missing)
	}
	return s
}

// partial says what an incomplete run lacks.
func partial(run *Run) []string {
	var out []string
	var missing []string
	for _, p := range run.Points {
		if p.Line == nil {
			missing = append(missing, p.Name())
		}
	}
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%d of %d points have no result yet (the sweep is %s): %s. Continue it with `kbench sweep --resume %s`, then report again.",
			len(missing), len(run.Points), run.Manifest.Status, strings.Join(missing, "; "), run.Dir))
	} else if run.Manifest.Status != sweep.StatusDone {
		out = append(out, "the manifest says the sweep is "+run.Manifest.Status+", but every point has a result")
	}
	for _, p := range run.Points {
		if p.Failed() {
			out = append(out, fmt.Sprintf("%s failed: %s (run it again with `kbench sweep --resume %s --retry-failed`)", p.Name(), p.Line.Error, run.Dir))
		}
	}
	if run.Torn {
		out = append(out, "results.jsonl ends in a half-written line (the sweep stopped mid-write); that point counts as not run")
	}
	if run.Strays > 0 {
		out = append(out, fmt.Sprintf("%d result line(s) name points that are not in the recorded profile; they are left out", run.Strays))
	}
	return out
}

// WriteReport builds the report of the run in runDir into runDir/report/:
// charts (PNG and SVG), report.md and report.html.
func WriteReport(runDir string) (*Report, error) { return WriteReportComparing(runDir, "") }

// WriteReportComparing is WriteReport that, when runB is not empty, also
// compares runB against the run (WriteCompareReport, at the 5 % level)
// into the report's directory and links the comparison from the report's
// header.
func WriteReportComparing(runDir, runB string) (*Report, error) {
	run, err := LoadRun(runDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(runDir, ReportDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	// Charts of an earlier report that this one would not redraw must not
	// linger and be mistaken for current ones.
	for _, pat := range []string{"*.png", "*.svg", CompareMarkdown} {
		old, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return nil, fmt.Errorf("remove old chart: %w", err)
			}
		}
	}
	rep, err := BuildReport(run, dir)
	if err != nil {
		return nil, err
	}
	if run.Tune != nil {
		if err := WriteTune(runDir, run.Tune); err != nil {
			return nil, err
		}
		rep.Facts = append(rep.Facts, [2]string{"Tune", "the recommendation, its gains and the search path are in " + TuneMarkdown})
	}
	if runB != "" {
		if rep.Compared, err = WriteCompareReport(runDir, runB, dir, 0.05); err != nil {
			return nil, fmt.Errorf("compare with %s: %w", runB, err)
		}
		rep.ComparedWith = runB
	}
	md := rep.Markdown()
	if err := os.WriteFile(filepath.Join(dir, ReportMarkdown), []byte(md), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	html, err := rep.HTML()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportHTML), html, 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	return rep, nil
}

// rateOf writes a point's rate with its kind, for tables.
func rateOf(p *Point) string {
	switch p.Set.RateKind {
	case profiles.RateFixed:
		return formatCount(p.Set.Rate) + "/s"
	case profiles.RateMaxSustainable:
		if v, ok := p.Fig("max_sustainable_rate"); ok && v > 0 {
			return "max " + formatFig(v) + "/s"
		}
		return "max-sustainable"
	}
	return string(p.Set.RateKind)
}
