package reports

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kbench/kbench/bench/tune"
	"github.com/kbench/kbench/profiles"
)

// TuneMarkdown is a tune's report section, next to the run's report.
const TuneMarkdown = "tune.md"

// tuneValueName says what a tune's values are.
func tuneValueName(f *tune.File) string {
	if f.Grid.Base.Rate.Kind == profiles.RateMaxSustainable {
		return "max sustainable rate"
	}
	return fmt.Sprintf("SLO headroom at %s records/s", num(f.Grid.Base.Rate.PerSec))
}

func tuneValue(f *tune.File, v float64) string {
	if f.Grid.Base.Rate.Kind == profiles.RateMaxSustainable {
		return num(float64(int64(v+0.5))) + " records/s"
	}
	return "×" + formatFig(v)
}

// intervalText writes a median with its interval and what the interval is.
func intervalText(iv tune.Interval, f func(float64) string) string {
	switch {
	case iv.N == 0:
		return "not measured"
	case iv.N == 1:
		return f(iv.Median) + " (1 measurement: no interval)"
	}
	return fmt.Sprintf("%s (%s to %s: a %s %% interval for the median, %d measurements)", f(iv.Median), f(iv.Lo), f(iv.Hi),
		num(100*iv.Level), iv.N)
}

func gainText(g *tune.Gain, base *tune.Candidate) string {
	if g.Same {
		return fmt.Sprintf("vs %s: they are the recommendation", g.Against)
	}
	s := fmt.Sprintf("vs %s (%s): %s", g.Against, base.Label, signedPct(100*g.Delta))
	if g.Open() {
		return s + fmt.Sprintf(" (%d and %d measurements: too few for an interval)", g.NA, g.NB)
	}
	verdict := "significant"
	if !g.Significant {
		verdict = "not significant (~)"
	}
	return s + fmt.Sprintf(", %s %% interval %s to %s, p = %s: %s at %s (%d and %d measurements)", num(100*g.Level),
		signedPct(100*g.Lo), signedPct(100*g.Hi), formatFig(g.P), verdict, num(1-g.Level), g.NA, g.NB)
}

// TuneSummary is a finished tune's recommendation, figures and gains in
// lines of plain text.
func TuneSummary(f *tune.File) []string {
	r := f.Result
	if r == nil {
		return []string{"no recommendation: the tune has not finished"}
	}
	rec := r.Recommended
	if rec.Value.Median <= 0 {
		return []string{"no candidate met the SLO: nothing to recommend (loosen the SLO, or lower the rate)"}
	}
	out := []string{"recommended: " + settingsText(rec.Settings)}
	ms := func(v float64) string { return formatFig(v) + " ms" }
	recs := func(v float64) string { return num(float64(int64(v+0.5))) + " records/s" }
	if f.Grid.Base.Rate.Kind == profiles.RateMaxSustainable {
		out = append(out, "  max sustainable rate: "+intervalText(rec.Value, func(v float64) string { return tuneValue(f, v) }))
		out = append(out, "  throughput there: "+intervalText(rec.Rate, recs)+"; "+intervalText(rec.MiBps, func(v float64) string { return formatFig(v) + " MiB/s" }))
	} else {
		out = append(out, "  "+tuneValueName(f)+": "+intervalText(rec.Value, func(v float64) string { return tuneValue(f, v) }))
		out = append(out, "  throughput: "+intervalText(rec.Rate, recs))
	}
	out = append(out, fmt.Sprintf("  %s p99 there: %s", f.Grid.SLO.Latency, intervalText(rec.P99, ms)))
	for _, g := range gains(r) {
		out = append(out, "  "+gainText(g.g, g.base))
	}
	return out
}

type baseGain struct {
	g    *tune.Gain
	base *tune.Candidate
}

// gains are the gains a tune measured: against Kafka's defaults and
// against the start, once when they are the same settings.
func gains(r *tune.Result) []baseGain {
	var out []baseGain
	if r.VsDefaults != nil {
		g := *r.VsDefaults
		if r.Start != nil && slices.Equal(r.Start.Cand, r.Defaults.Cand) {
			g.Against += " = the starting settings"
		}
		out = append(out, baseGain{&g, r.Defaults})
	}
	if r.VsStart != nil && (r.Defaults == nil || !slices.Equal(r.Start.Cand, r.Defaults.Cand)) {
		out = append(out, baseGain{r.VsStart, r.Start})
	}
	return out
}

// settingsText writes producer properties sorted, k=v separated by spaces.
func settingsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

// TuneMarkdownDoc is a tune's report section: what was searched, the
// recommendation with its intervals and gains, the search path step by
// step, and every candidate measured.
func TuneMarkdownDoc(dir string, f *tune.File) string {
	var b strings.Builder
	p := f.Grid
	fmt.Fprintf(&b, "# kbench tune: %s\n\n", filepath.Base(filepath.Clean(dir)))
	fmt.Fprintf(&b, "- **SLO**: %s\n", p.SLO.Describe())
	fmt.Fprintf(&b, "- **Compared**: %s\n", tuneValueName(f))
	fmt.Fprintf(&b, "- **Durability floor**: acks=%s, enable.idempotence=%s, replication factor %d, min.insync.replicas %s\n",
		cmp.Or(p.Base.Producer["acks"], "all"), cmp.Or(p.Base.Producer["enable.idempotence"], "true"), p.Base.Topic.ReplicationFactor,
		cmp.Or(p.Base.Topic.Configs["min.insync.replicas"], "1"))
	for _, d := range f.Space.Dims {
		vals := d.Written
		if len(vals) == 0 {
			vals = d.Values
		}
		fmt.Fprintf(&b, "- **Space** %s: %s\n", d.Name, strings.Join(vals, ", "))
	}
	budget := "no time budget"
	if f.Budget > 0 {
		budget = "budget " + shortDur(f.Budget)
	}
	if f.Config.MaxEvals > 0 {
		budget += fmt.Sprintf(", at most %d measurements", f.Config.MaxEvals)
	}
	fmt.Fprintf(&b, "- **Status**: %s after %d sessions, %s measuring (%s)\n", f.Status, f.Sessions, shortDur(f.Elapsed), budget)
	if f.Stop != "" {
		fmt.Fprintf(&b, "- **Search ended**: %s\n", f.Stop)
	}
	if f.Ended != "" {
		fmt.Fprintf(&b, "- **Run ended**: %s\n", f.Ended)
	}
	if r := f.Result; r != nil {
		fmt.Fprintf(&b, "- **Spent**: %d measurements of %d candidates, %d load runs; the space has %d candidates\n",
			r.Measurements, r.Candidates, r.Runs, r.GridCandidates)
		b.WriteString("\n## Recommendation\n\n")
		for _, l := range TuneSummary(f) {
			if rest, ok := strings.CutPrefix(l, "recommended: "); ok {
				l = "**Recommended**: " + rest + "\n"
			}
			fmt.Fprintf(&b, "%s\n", strings.TrimSpace(strings.Replace(l, "  ", "- ", 1)))
		}
	}
	b.WriteString("\n## Search path\n\nEach measurement in order: the candidate, why the search chose it, what it gave, and the best candidate after it.\n\n")
	b.WriteString("| # | point | step | candidate | " + tuneValueName(f) + " | runs | why | best after |\n|---|---|---|---|---|---|---|---|\n")
	for i, s := range f.Steps {
		st := tune.Assess(f.Space, f.Config, measurementsOf(f.Steps[:i+1]))
		best := st.Best()
		v := tuneValue(f, s.Value)
		if s.Failed != "" {
			v = "failed: " + s.Failed
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %s | %s (%s, n=%d) |\n", i+1, s.Point, s.Kind, s.Label, v, s.Runs,
			strings.ReplaceAll(s.Reason, "|", "/"), f.Space.Label(best.Cand), tuneValue(f, best.Median), best.N())
	}
	st := tune.Assess(f.Space, f.Config, measurementsOf(f.Steps))
	fmt.Fprintf(&b, "\n## Candidates\n\nBest first, by median; noise of one measurement estimated at ±%s %%.\n\n", formatFig(100*st.Noise))
	b.WriteString("| candidate | measurements | median | range | points |\n|---|---|---|---|---|\n")
	for _, c := range st.Order {
		var pts []string
		for _, s := range f.Steps {
			if slices.Equal(s.Cand, c.Cand) {
				pts = append(pts, s.Point)
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s to %s | %s |\n", f.Space.Label(c.Cand), c.N(), tuneValue(f, c.Median),
			tuneValue(f, slices.Min(c.Values)), tuneValue(f, slices.Max(c.Values)), strings.Join(pts, " "))
	}
	return b.String()
}

func measurementsOf(rs []tune.Record) []tune.Measurement {
	out := make([]tune.Measurement, len(rs))
	for i, r := range rs {
		out[i] = tune.Measurement{Cand: r.Cand, Value: r.Value}
	}
	return out
}

func shortDur(d profiles.Duration) string {
	s := strconv.FormatFloat(float64(d)/1e9, 'f', 0, 64)
	return s + " s"
}

// WriteTune writes a tune's report section into the run's report
// directory.
func WriteTune(runDir string, f *tune.File) error {
	dir := filepath.Join(runDir, ReportDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, TuneMarkdown), []byte(TuneMarkdownDoc(runDir, f)), 0o644); err != nil {
		return fmt.Errorf("write tune report: %w", err)
	}
	return nil
}

// tuneRecommendations puts a finished tune's recommended settings in place
// of those the run's best point would give.
func tuneRecommendations(recs []Recommendation, f *tune.File) []Recommendation {
	r := f.Result
	if r == nil || r.Recommended.Value.Median <= 0 {
		return recs
	}
	why := fmt.Sprintf("kbench tune's recommendation: the most %s meeting the SLO (%s) at the durability floor, "+
		"among %d candidates measured of %d (%d measurements)", tuneValueName(f), f.Grid.SLO.Describe(), r.Candidates, r.GridCandidates, r.Measurements)
	var costs []string
	for _, g := range gains(r) {
		if !g.g.Same {
			costs = append(costs, tuneValueName(f)+" "+gainText(g.g, g.base))
		}
	}
	keys := make([]string, 0, len(r.Recommended.Settings))
	for k := range r.Recommended.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rec := Recommendation{Setting: k, Value: r.Recommended.Settings[k], Why: why, Costs: costs}
		if k == "batch.size" {
			if n, err := strconv.Atoi(rec.Value); err == nil {
				rec.Value = sizeLabel(n)
			}
		}
		i := slices.IndexFunc(recs, func(x Recommendation) bool { return x.Setting == k })
		if i >= 0 {
			recs[i] = rec
		} else {
			recs = append(recs, rec)
		}
	}
	return recs
}
