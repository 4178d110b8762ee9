package reports

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kbench/kbench/internal/stats"
)

// CompareFigure is one figure a comparison can show: a run figure's name
// (as the sweep writes them, see bench/sweep's doc), the short name users
// type in --metric and --fail-if, and how to print it.
type CompareFigure struct {
	Name  string // run figure, e.g. response_p99_ms
	Key   string // short name, e.g. response-p99
	Label string // table label
	Lower bool   // lower is better
}

// CompareFigures are the figures a comparison shows, in table order; a
// figure no run has is left out of the table.
var CompareFigures = []CompareFigure{
	{"produce_records_per_sec", "throughput", "throughput (records/s)", false},
	{"max_sustainable_rate", "max-rate", "max sustainable (records/s)", false},
	{"consume_records_per_sec", "consume-throughput", "consumed (records/s)", false},
	{"service_p50_ms", "service-p50", "service p50 (ms)", true},
	{"service_p99_ms", "service-p99", "service p99 (ms)", true},
	{"service_p99_9_ms", "service-p99.9", "service p99.9 (ms)", true},
	{"response_p50_ms", "response-p50", "response p50 (ms)", true},
	{"response_p99_ms", "response-p99", "response p99 (ms)", true},
	{"response_p99_9_ms", "response-p99.9", "response p99.9 (ms)", true},
	{"e2e_p50_ms", "e2e-p50", "end-to-end p50 (ms)", true},
	{"e2e_p99_ms", "e2e-p99", "end-to-end p99 (ms)", true},
	{"e2e_p99_9_ms", "e2e-p99.9", "end-to-end p99.9 (ms)", true},
	{"cpu_s_per_gb", "cpu", "client CPU (s/GB)", true},
}

// shortNames are what p50, p99 and p99.9 alone mean: response time, the
// latency that includes waiting behind a stall.
var shortNames = map[string]string{"p50": "response-p50", "p99": "response-p99", "p99.9": "response-p99.9"}

// LookupFigure finds a comparison figure by its short name (throughput,
// p99, service-p99, cpu, ...) or its run figure name (response_p99_ms).
func LookupFigure(name string) (CompareFigure, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if k, ok := shortNames[key]; ok {
		key = k
	}
	for _, f := range CompareFigures {
		if f.Key == key || f.Name == key {
			return f, nil
		}
	}
	keys := []string{"p50", "p99", "p99.9"}
	for _, f := range CompareFigures {
		keys = append(keys, f.Key)
	}
	return CompareFigure{}, fmt.Errorf("unknown figure %q: want one of %s (or a run figure name such as response_p99_ms)", name, strings.Join(keys, ", "))
}

// CompareRow is one figure of B against A.
type CompareRow struct {
	Figure CompareFigure
	stats.Comparison
}

// Comparison is B against A for one point: one row per figure both sides
// measured.
type Comparison struct {
	Point  string // what was compared ("" for a single pair of runs)
	NA, NB int    // runs per side (the most any row has)
	Alpha  float64
	Rows   []CompareRow
}

// Compare compares per-run figures (one map per run, names as
// sweep.RunFigures writes them) of B against A at level alpha, for figs
// (all CompareFigures when empty). Each latency figure is a percentile of
// one run's full histogram, so runs are compared as runs, never merged.
func Compare(point string, a, b []map[string]float64, figs []CompareFigure, alpha float64) Comparison {
	if len(figs) == 0 {
		figs = CompareFigures
	}
	c := Comparison{Point: point, Alpha: alpha}
	for _, f := range figs {
		xa, xb := column(a, f.Name), column(b, f.Name)
		if len(xa) == 0 || len(xb) == 0 {
			continue
		}
		c.Rows = append(c.Rows, CompareRow{Figure: f, Comparison: stats.Compare(xa, xb, alpha)})
		c.NA, c.NB = max(c.NA, len(xa)), max(c.NB, len(xb))
	}
	return c
}

func column(runs []map[string]float64, name string) []float64 {
	var out []float64
	for _, r := range runs {
		if v, ok := r[name]; ok {
			out = append(out, v)
		}
	}
	return out
}

// CompareHelp says in plain words how a comparison decides; commands put
// it in their help.
const CompareHelp = `How the table decides. Every run is one measurement: its throughput, its CPU per GB and
its latency percentiles, each read from that run's full latency histogram (runs are not
merged, so one bad run cannot hide inside a merged percentile). For each figure:
  A, B     the median over that side's runs, ± half their range as a share of the median.
  delta    how much higher B's median is than A's: +10% means B is 10 % higher.
  CI       the confidence interval of that change (95 % at the default --alpha 0.05): the
           range of B/A - 1 over pairs of one A run and one B run that the rank test
           cannot rule out (Hodges-Lehmann with Moses's interval). It excludes 0 when p is
           below --alpha. With 3 or fewer runs a side it is unbounded.
  p        the Mann–Whitney U rank test, two-sided: how likely a difference at least this
           large is if A and B were the same setting. Exact for up to 50 runs in all (ties
           included), a normal approximation with the ties correction beyond.
  ~        p is not below --alpha: the difference is not significant, whatever delta says.
Why a rank test: runs on a shared machine are few and skewed (another job slows a run a
lot, never speeds it up as much), so a test that assumes a bell curve, or a bootstrap of
4 to 6 values, overstates its certainty; a rank test assumes no shape and is exact for
small counts, and the same runs always give the same answer. With 4 runs a side the
smallest possible p is 0.029, with 3 it is 0.1: fewer than 4 runs a side can never be
significant at 0.05. How small a change is found depends on the noise (the standard
deviation of the runs' logarithm, about the share by which runs differ): 6 + 6 runs find a
change 9 times in 10 from about 10 % at 4 % noise, 25 % at 10 % noise and 57 % at 20 % noise
(a machine shared with other work); a 10 % change at 10 % noise needs about 25 runs a side.
kbench ab prints these figures for its own runs after the table. Each figure is tested on
its own: at 0.05 about one figure in 20 of an A/A table is flagged by chance, so decide on
the figures you named beforehand.`

// WriteComparison prints the table: one line per figure.
func WriteComparison(w io.Writer, c Comparison) error {
	if len(c.Rows) == 0 {
		_, err := fmt.Fprintln(w, "no figure was measured on both sides (a point whose runs all failed has none)")
		return err
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	level := 100 * (1 - c.Alpha)
	fmt.Fprintf(tw, "figure\tA (n=%d)\tB (n=%d)\tdelta\t%s %% CI\tp\t\n", c.NA, c.NB, strconv.FormatFloat(level, 'f', -1, 64))
	for _, r := range c.Rows {
		delta := signedRel(r.Delta)
		if !r.Significant {
			delta = "~ (" + delta + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t[%s, %s]\t%s\t\n", r.Figure.Label, medianSpread(r.A), medianSpread(r.B),
			delta, signedRel(r.Lo), signedRel(r.Hi), formatP(r.Test.P))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p := stats.MinP(c.NA, c.NB); p >= c.Alpha {
		_, err := fmt.Fprintf(w, "with %d and %d runs the smallest possible p is %s, not below %s: no difference can be significant; run more (4 or more a side)\n",
			c.NA, c.NB, formatP(p), formatP(c.Alpha))
		return err
	}
	return nil
}

// medianSpread writes a median with ± half the range as a share of it.
func medianSpread(s stats.Summary) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return formatFig(s.Median)
	}
	return fmt.Sprintf("%s ±%s%%", formatFig(s.Median), strconv.FormatFloat(50*s.Spread(), 'f', 0, 64))
}

func signedRel(v float64) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case math.IsInf(v, 1):
		return "+inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return fmt.Sprintf("%+.1f%%", 100*v)
}

func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// Gate is a regression limit: fail when a figure changed significantly
// and beyond Limit (a share: -0.05 is 5 % lower).
type Gate struct {
	Text   string
	Figure CompareFigure
	Above  bool // fail when delta > Limit; else when delta < Limit
	Limit  float64
}

// ParseGate reads FIGURE<-N% or FIGURE>+N% (throughput<-5%, p99>+10%).
func ParseGate(s string) (Gate, error) {
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return Gate{}, fmt.Errorf("--fail-if %q: want FIGURE<-N%% or FIGURE>+N%%, e.g. 'throughput<-5%%' or 'p99>+10%%'", s)
	}
	f, err := LookupFigure(s[:i])
	if err != nil {
		return Gate{}, fmt.Errorf("--fail-if %q: %w", s, err)
	}
	num := strings.TrimSpace(s[i+1:])
	pct, ok := strings.CutSuffix(num, "%")
	v, perr := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if !ok || perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Gate{}, fmt.Errorf("--fail-if %q: the limit %q is not a percentage such as -5%% or +10%%", s, num)
	}
	return Gate{Text: s, Figure: f, Above: s[i] == '>', Limit: v / 100}, nil
}

// GateVerdict is one gate on one comparison.
type GateVerdict struct {
	Gate    Gate
	Point   string
	Failed  bool
	Checked bool // false when the comparison lacks the figure
	Why     string
}

// Check judges the gate: it fails only when the difference is significant
// and its estimate is beyond the limit.
func (g Gate) Check(c Comparison) GateVerdict {
	v := GateVerdict{Gate: g, Point: c.Point}
	i := slices.IndexFunc(c.Rows, func(r CompareRow) bool { return r.Figure.Name == g.Figure.Name })
	if i < 0 {
		v.Why = "not measured on both sides"
		return v
	}
	r := c.Rows[i]
	v.Checked = true
	beyond := r.Delta < g.Limit
	if g.Above {
		beyond = r.Delta > g.Limit
	}
	got := fmt.Sprintf("delta %s [%s, %s], p %s", signedRel(r.Delta), signedRel(r.Lo), signedRel(r.Hi), formatP(r.Test.P))
	switch {
	case r.Significant && beyond:
		v.Failed = true
		v.Why = got + ": significant and beyond the limit"
	case beyond:
		v.Why = got + ": beyond the limit but not significant (could be noise)"
	case r.Significant:
		v.Why = got + ": significant but within the limit"
	default:
		v.Why = got + ": within the limit"
	}
	return v
}

// WriteGates prints one line per verdict and reports whether any failed.
func WriteGates(w io.Writer, vs []GateVerdict) (failed bool, err error) {
	for _, v := range vs {
		word := "pass"
		switch {
		case v.Failed:
			word, failed = "FAIL", true
		case !v.Checked:
			word = "n/a "
		}
		at := ""
		if v.Point != "" {
			at = " at " + v.Point
		}
		if _, err := fmt.Fprintf(w, "%s %s%s: %s\n", word, v.Gate.Text, at, v.Why); err != nil {
			return failed, err
		}
	}
	return failed, nil
}
