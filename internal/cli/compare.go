package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/reports"
)

type compareOptions struct {
	a, b    string
	metrics []string
	gates   []string
	alpha   float64
	stdout  io.Writer
}

func newCompareCmd(stdout, _ io.Writer) *cobra.Command {
	o := &compareOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two sweep runs or result files, with significance and regression gates",
		Long: `Compare NEW against BASE figure by figure: throughput, service, response and end-to-end
latency percentiles, and the load generator's CPU per GB.

BASE and NEW are each a sweep run directory (runs/<time>-<profile>) or result files written
by kbench produce/e2e --json (comma-separated files are repeated runs of one setting). Points
of two sweeps are matched by their settings (acks, linger.ms, batch.size, codec, RF, rate,
...); points only one side has are listed. A point's runs are its repetitions (a profile's
repeat: N; for a max-sustainable point, the rate each repetition's search found): with one
run a side nothing can be significant, so sweep with repeat: 4 or more.

Two sweeps run one after the other also differ by whatever else the machine did meanwhile
(other jobs, heat): on a shared machine that alone can be significant. To decide between two
settings, prefer kbench ab, which interleaves their runs; use compare for runs made apart
(a release against the last one, CI against a baseline) on a machine kept quiet.

--fail-if FIGURE<-N% or FIGURE>+N% is a regression gate: kbench exits with status 1 only
when the change is significant (p below --alpha) AND its delta is beyond the limit, and
says which gate failed where; a change beyond the limit that could be noise passes and is
named as such. Errors (unreadable input) also exit 1, with a message on stderr.
Figures (--metric, --fail-if): throughput, max-rate, consume-throughput, p50, p99, p99.9
(response time), service-p50 ... service-p99.9, response-p50 ..., e2e-p50 ..., cpu.

` + reports.CompareHelp,
		Example: `  kbench compare runs/20261201-090000-quick runs/20261202-090000-quick
  kbench compare --metric throughput --metric p99 base.json new.json
  kbench compare --fail-if 'throughput<-5%' --fail-if 'p99>+10%' runs/base-quick runs/new-quick
  kbench compare a1.json,a2.json,a3.json,a4.json b1.json,b2.json,b3.json,b4.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.a, o.b = args[0], args[1]
			return runCompare(o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.metrics, "metric", nil, "show only this figure, repeatable (default: every figure both sides measured)")
	f.StringArrayVar(&o.gates, "fail-if", nil, "regression gate FIGURE<-N% or FIGURE>+N%, repeatable: exit 1 when the change is significant and beyond N")
	f.Float64Var(&o.alpha, "alpha", 0.05, "significance level: a difference counts when p is below it; intervals are at 1 - alpha")
	return cmd
}

func runCompare(o *compareOptions) error {
	if !(o.alpha > 0 && o.alpha < 1) {
		return fmt.Errorf("--alpha %v: want a level between 0 and 1, such as 0.05", o.alpha)
	}
	var figs []reports.CompareFigure
	for _, m := range o.metrics {
		f, err := reports.LookupFigure(m)
		if err != nil {
			return fmt.Errorf("--metric: %w", err)
		}
		figs = append(figs, f)
	}
	var gates []reports.Gate
	for _, s := range o.gates {
		g, err := reports.ParseGate(s)
		if err != nil {
			return err
		}
		gates = append(gates, g)
	}
	a, err := reports.LoadSide(o.a)
	if err != nil {
		return err
	}
	b, err := reports.LoadSide(o.b)
	if err != nil {
		return err
	}
	pairs, onlyA, onlyB := reports.Match(a, b)
	if len(pairs) == 0 {
		return fmt.Errorf("no point of %s has the settings of a point of %s: nothing to compare", o.b, o.a)
	}
	w := o.stdout
	fmt.Fprintf(w, "A: %s\nB: %s\n", o.a, o.b)
	var verdicts []reports.GateVerdict
	for _, pr := range pairs {
		c := reports.Compare(pr[0].Name, pr[0].Runs, pr[1].Runs, figs, o.alpha)
		fmt.Fprintln(w)
		if c.Point != "" {
			fmt.Fprintf(w, "point %s\n", c.Point)
		}
		if err := reports.WriteComparison(w, c); err != nil {
			return err
		}
		for _, side := range []struct {
			name string
			p    *reports.SidePoint
		}{{"A", pr[0]}, {"B", pr[1]}} {
			for _, why := range side.p.Invalid {
				fmt.Fprintf(w, "%s INVALID %s\n", side.name, why)
			}
		}
		for _, g := range gates {
			verdicts = append(verdicts, g.Check(c))
		}
	}
	for _, l := range []struct {
		side string
		ps   []*reports.SidePoint
	}{{o.a, onlyA}, {o.b, onlyB}} {
		if len(l.ps) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nonly in %s (no point with the same settings on the other side):\n", l.side)
		for _, p := range l.ps {
			fmt.Fprintf(w, "  %s\n", p.Name)
		}
	}
	return writeGates(w, verdicts)
}

// writeGates prints the regression gates' verdicts, if any, after a blank
// line; errGateFailed when one failed.
func writeGates(w io.Writer, verdicts []reports.GateVerdict) error {
	if len(verdicts) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	failed, err := reports.WriteGates(w, verdicts)
	if err != nil {
		return err
	}
	if failed {
		return errGateFailed
	}
	return nil
}

// errGateFailed ends a run whose regression gate failed: exit status 1,
// the verdict already printed.
var errGateFailed = fmt.Errorf("%w: a regression gate failed", errSilent)
