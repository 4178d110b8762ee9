package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/selfbench"
	"github.com/kbench/kbench/internal/units"
	"github.com/kbench/kbench/reports"
)

type selfbenchOptions struct {
	quick           bool
	rounds          int
	warmup          time.Duration
	duration        time.Duration
	latencyDuration time.Duration
	backlog         string
	targets         []string
	outDir          string
	keep            bool
	allocations     bool
	set             func(name string) bool // whether a flag was given
	stdout, stderr  io.Writer
}

// newSelftestAlias keeps `kbench selftest`, the command's former name, and
// its subcommands working without listing it: scripts written for it still
// run.
func newSelftestAlias(stdout, stderr io.Writer) *cobra.Command {
	cmd := newSelfbenchCmd(stdout, stderr)
	cmd.Use, cmd.Hidden = "selftest", true
	cmd.Short = "Former name of kbench selfbench"
	return cmd
}

func newSelfbenchCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &selfbenchOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "selfbench",
		Short: "Benchmark kbench itself: its broker against a null-broker ceiling and kfake",
		Long: `Run the same load-generator workloads, one target after the other in several rounds,
against: a null broker that acknowledges produce without storing and serves fetches from
prebuilt batches (the ceiling: client and loopback alone), the same null broker appending
every produced batch to a file per partition (the store-only ceiling: what a broker that
stores, and does nothing else, can reach), kbench's broker at replication
factor 1, a 3-broker kbench cluster at RF=3 with acks=all, and franz-go's kfake (one broker,
RF=1, records kept in memory only). kbench RF=1 against kfake is the like-for-like comparison
(one broker each); RF=3 against kfake says what writing to disk and replicating over three
processes costs next to one broker that does neither.

Each target runs as its own process, so broker CPU (per GB moved) and peak RSS come from
/proc. Workloads: 100 B and 1 KiB records, 1 and 4 producers, 6 partitions, acks=1 and all,
no compression and zstd; then a consume catch-up over a backlog, and the RF=3 cluster's
latency at half its measured maximum rate, and the broker's heap allocations per produce
request (from its --metrics-listen endpoint). Prints the ratio table (medians over rounds,
ratios to both ceilings and to kfake) and which of the broker's performance targets are met
(RF=1 at least 0.85 of the ceiling and of the store-only ceiling, RF=3 acks=all at least 0.5
of the ceiling and at least kfake, catch-up at least twice the produce rate, p99 at most 2 ms at half
load, about no allocations per produce request). A ratio target is judged on the median of the
per-round ratios over its workloads and rounds with that median's 95 % interval (order
statistics, no shape assumed): met when the whole interval is at or above the target, not met
when it is all below, "within noise" when it straddles the target (more rounds decide); the
lowest workload is named too. A run the load generator judged invalid is marked INVALID in the
table with its reasons (unthrottled runs on a small machine often saturate the generator's
CPU: the ratios still compare targets under the same client), and a latency target measured on
an invalid run is reported as "invalid run", not as met.
Writes selfbench.json and a chart into --out.

Absolute numbers on a shared machine are noise; the ratios, measured side by side, are the
result. The full run takes 6 to 8 minutes on 2 cores; --quick under 2.`,
		Example: `  kbench selfbench --quick
  kbench selfbench --out runs/selfbench
  kbench selfbench --targets ceiling,kbench-rf1 --rounds 5 --backlog 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.set = func(name string) bool { return cmd.Flags().Changed(name) }
			return runSelfbench(cmd.Context(), o)
		},
	}
	bindSelfbenchFlags(cmd, o)
	cmd.AddCommand(newSelfbenchServeCmd(stdout), newSelfbenchGeneratorCmd(stdout, stderr))
	return cmd
}

func bindSelfbenchFlags(cmd *cobra.Command, o *selfbenchOptions) {
	d := selfbench.Defaults()
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "smoke run of under 2 minutes: 4 workloads, 2 rounds, short runs, 64MiB backlog (other flags still override)")
	f.IntVar(&o.rounds, "rounds", d.Rounds, "rounds: every workload runs once per round on every target; medians and spread are over rounds")
	f.DurationVar(&o.warmup, "warmup", d.Warmup, "unmeasured start of every produce run")
	f.DurationVar(&o.duration, "duration", d.Duration, "measured part of every produce run")
	f.DurationVar(&o.latencyDuration, "latency-duration", d.LatencyDuration, "length of the fixed-rate run at 50% of the RF=3 cluster's maximum (0 skips it)")
	f.StringVar(&o.backlog, "backlog", units.FormatBytes(d.Backlog), "consume catch-up backlog in record bytes, like 2GiB or 64MiB (0 skips the catch-up)")
	f.StringSliceVar(&o.targets, "targets", kindNames(d.Targets), "targets to compare")
	f.StringVar(&o.outDir, "out", "runs/selfbench", "directory for selfbench.json and the chart (selfbench-ratio.png/.svg)")
	f.BoolVar(&o.allocations, "allocations", d.Allocations, "count the broker's heap allocations per produce request on a separate kbench broker with --metrics-listen (when the broker has that flag)")
	f.BoolVar(&o.keep, "keep", false, "keep the brokers' data and logs in OUT/data instead of a temporary directory")
}

func kindNames(ks []selfbench.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func (o *selfbenchOptions) config() (selfbench.Config, error) {
	cfg := selfbench.Defaults()
	if o.quick {
		cfg = selfbench.Quick()
	}
	if !o.quick || o.set("rounds") {
		cfg.Rounds = o.rounds
	}
	if !o.quick || o.set("warmup") {
		cfg.Warmup = o.warmup
	}
	if !o.quick || o.set("duration") {
		cfg.Duration = o.duration
	}
	if !o.quick || o.set("latency-duration") {
		cfg.LatencyDuration = o.latencyDuration
	}
	if !o.quick || o.set("backlog") {
		n, err := units.ParseBytes(o.backlog)
		if err != nil {
			return cfg, fmt.Errorf("--backlog: %w", err)
		}
		cfg.Backlog = n
	}
	cfg.Allocations = o.allocations
	cfg.Targets = nil
	for _, s := range o.targets {
		k, err := selfbench.ParseKind(s)
		if err != nil {
			return cfg, fmt.Errorf("--targets: %w", err)
		}
		cfg.Targets = append(cfg.Targets, k)
	}
	cfg.ConsumeTargets = slices.DeleteFunc(cfg.ConsumeTargets, func(k selfbench.Kind) bool { return !slices.Contains(cfg.Targets, k) })
	exe, err := os.Executable()
	if err != nil {
		return cfg, fmt.Errorf("find the kbench binary: %w", err)
	}
	cfg.Binary = exe
	cfg.Version = Version
	cfg.Progress = o.stderr
	if o.keep {
		cfg.Dir = filepath.Join(o.outDir, "data")
	}
	return cfg, nil
}

func runSelfbench(ctx context.Context, o *selfbenchOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	rep, runErr := selfbench.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	jsonPath := filepath.Join(o.outDir, "selfbench.json")
	var errs []error
	if err := rep.WriteJSON(jsonPath); err != nil {
		errs = append(errs, err)
	}
	if err := selfbench.WriteTable(o.stdout, rep); err != nil {
		errs = append(errs, err)
	}
	files := []string{jsonPath}
	if bars := selfbenchBars(rep); len(bars) > 0 {
		chart, err := reports.SelfbenchChart(o.outDir, bars)
		errs = append(errs, err)
		files = append(files, chart...)
	}
	fmt.Fprintf(o.stdout, "\nmeasured in %.0fs; wrote %v\n", rep.ElapsedS, files)
	return errors.Join(append(errs, runErr)...)
}

// selfbenchBars turns the produce and consume summaries into chart bars,
// target by target so the chart keeps the table's order.
func selfbenchBars(rep *selfbench.Report) []reports.SelfbenchBar {
	var bars []reports.SelfbenchBar
	for _, k := range selfbench.AllKinds() {
		if k == selfbench.Ceiling {
			continue
		}
		for _, s := range append(slices.Clone(rep.Produce), rep.Consume...) {
			if s.Target != k || s.VsCeiling == nil || s.VsCeiling.N == 0 {
				continue
			}
			name := s.Workload
			if s.Phase == selfbench.PhaseConsume {
				name = "consume " + name
			}
			bars = append(bars, reports.SelfbenchBar{Workload: name, Target: string(k), Ratio: s.VsCeiling.Median, Low: s.VsCeiling.Min, High: s.VsCeiling.Max})
		}
	}
	return bars
}

// newSelfbenchServeCmd is the harness's child mode: it runs the ceiling or
// kfake target in a process of its own.
func newSelfbenchServeCmd(stdout io.Writer) *cobra.Command {
	o := selfbench.ServeOptions{RecordSize: 1024, Partitions: 6}
	cmd := &cobra.Command{
		Use:    "serve ceiling|store-only|kfake",
		Short:  "Serve one selfbench target on a loopback port until SIGTERM (used by the harness)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := selfbench.ParseKind(args[0])
			if err != nil {
				return err
			}
			return selfbench.Serve(cmd.Context(), k, o, stdout)
		},
	}
	cmd.Flags().IntVar(&o.RecordSize, "record-size", o.RecordSize, "value bytes of the null broker's fetched records")
	cmd.Flags().Int32Var(&o.Partitions, "partitions", o.Partitions, "partitions of topics created without a count")
	cmd.Flags().StringVar(&o.StoreDir, "store-dir", "", "directory of the store-only ceiling's partition files")
	return cmd
}
