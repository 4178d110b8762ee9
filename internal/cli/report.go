package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/reports"
)

type reportOptions struct {
	runDir  string
	compare string
	quiet   bool
	stdout  io.Writer
}

func newReportCmd(stdout, _ io.Writer) *cobra.Command {
	o := &reportOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Write a sweep's charts and Markdown/HTML report into RUN_DIR/report/",
		Long: `Read a run directory written by kbench sweep (manifest.json, results.jsonl, hlog/) and write
into RUN_DIR/report/: charts as PNG and SVG, report.md and a self-contained report.html (charts
embedded, nothing fetched from the network).

Charts, each drawn only when the run has data for it:
  durability-frontier        max sustainable rate vs acknowledged records lost, one point per durability level
  durability-p99-cost        p50 and p99 response time of each durability level at one common rate
  throughput-latency         achieved MiB/s vs p99 response time, one curve per acks × RF × min.insync
  spectrum-<point>           latency percentile spectrum (service vs response) of each level's best point
  codecs                     grouped bars of compression ratio, throughput and CPU per MiB by codec and batch size
  heatmap-throughput, -p99   linger.ms × batch.size grids
  partition-scaling          throughput vs partitions with the per-partition ceiling
  timeline-<point>           throughput and p99 per interval, from each point's histogram log
  durability-loss            lost and duplicated records, when the sweep ran the durability audit

With repeat ≥ 2 the charts show each point's spread over its runs: error bars (lowest to highest
run) on the partition-scaling, codec, durability frontier and latency-cost charts, and "median
±x%" (half the range) in each heatmap cell.

The results table lists every point with its settings and figures; invalid points are marked,
the best point of each durability level is highlighted. An interrupted sweep gets a report of
what finished and a list of what is missing.

--compare RUN_B also writes report/compare.md: for every point both runs have (matched by
settings), the table of kbench compare (B against this run, A: medians, the change with its
confidence interval, the rank test's p, ~ when not significant) and the two runs' response-time
percentile spectra overlaid (compare-spectrum-<point>.png/.svg); report.md and report.html link
to it in their header. See kbench compare --help for the statistics.`,
		Example: `  kbench report runs/20260101-120000-quick
  kbench report --quiet runs/20260101-120000-durability && xdg-open runs/20260101-120000-durability/report/report.html
  kbench report runs/20260102-120000-quick --compare runs/20260101-120000-quick`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runDir = args[0]
			return runReport(o)
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only the HTML report's path")
	cmd.Flags().StringVar(&o.compare, "compare", "", "another sweep run directory (B) to compare this run (A) with: writes report/compare.md and overlaid spectra")
	return cmd
}

func runReport(o *reportOptions) error {
	rep, err := reports.WriteReportComparing(o.runDir, o.compare)
	if err != nil {
		return err
	}
	htmlPath := filepath.Join(rep.Dir, reports.ReportHTML)
	cmp := rep.Compared
	if o.quiet {
		_, err := fmt.Fprintln(o.stdout, htmlPath)
		return err
	}
	fmt.Fprintf(o.stdout, "report of %s: %d charts\n", o.runDir, len(rep.Charts))
	for _, c := range rep.Charts {
		fmt.Fprintf(o.stdout, "  %-36s %s\n", filepath.Base(c.PNG), oneLineTitle(c.Title))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(o.stdout, "  skipped: %s\n", s)
	}
	for _, s := range rep.Problems {
		fmt.Fprintf(o.stdout, "  problem: %s\n", s)
	}
	for _, s := range rep.Partial {
		fmt.Fprintf(o.stdout, "  incomplete: %s\n", s)
	}
	fmt.Fprintf(o.stdout, "markdown: %s\nhtml:     %s\n", filepath.Join(rep.Dir, reports.ReportMarkdown), htmlPath)
	if cmp != nil {
		fmt.Fprintf(o.stdout, "compared with %s: %d points, %d spectrum charts in %s\n", o.compare, cmp.Points, len(cmp.Charts), cmp.Path)
	}
	return nil
}

func oneLineTitle(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i] + " — " + oneLineTitle(s[i+1:])
		}
	}
	return s
}
