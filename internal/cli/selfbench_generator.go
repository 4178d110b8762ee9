package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/selfbench"
	"github.com/kbench/kbench/internal/units"
)

// newSelfbenchGeneratorCmd runs the generator ceiling: kbench's load paths
// against a bare franz-go loop on the null broker.
func newSelfbenchGeneratorCmd(stdout, stderr io.Writer) *cobra.Command {
	cfg := selfbench.GenDefaults()
	var sizes []string
	var outDir string
	cmd := &cobra.Command{
		Use:   "generator",
		Short: "Generator ceiling: kbench's produce, consume and e2e against a bare franz-go loop",
		Long: `Measure what kbench's load generator costs on top of the franz-go client it drives. A bare
franz-go loop (values sliced in order from one pre-generated buffer, one promise; a bare
PollFetches loop for consuming) and
kbench's own produce, consume and e2e paths run side by side against the null broker, which
acknowledges without storing and serves fetches from prebuilt batches, so only the client
side and loopback cost anything. The null broker runs in a process of its own; both loops
run in this one, so this process's CPU is the generator's.

Every round runs each workload on both sides, the order swapped each round (A B, B A, ...).
Workloads: the record sizes x producers x acks x compression matrix unthrottled; a fixed
rate at --fixed-size; a consume of a filled topic from its start per size; e2e at
--e2e-rate; the consume comparison runs --consume-pairs pairs per round, as a consume's
rate swings more from run to run. Prints records/s and generator CPU seconds per GB
(medians over pairs), the kbench/bare ratios per pair (median and range) and the verdicts:
unthrottled produce at >= 0.9 x the bare loop, fixed-rate CPU <= 1.15 x, consume >= 0.9 x,
e2e CPU <= 1.2 x a bare producer plus a bare consumer. Both sides count records/s alike:
acknowledgements (records read, for consuming) after warmup, per second up to the last one;
a consume's clock starts once its client exists. Writes generator.json into --out.

On a shared machine absolute figures are noise; the side-by-side ratios are the result,
and one workload's ratio can move by 0.1-0.2 between runs minutes apart: judge a close
verdict by repeated runs. The defaults (5 rounds) take about 10 minutes on 2 cores.`,
		Example: `  kbench selfbench generator
  kbench selfbench generator --sizes 1KiB --producers 1 --acks 1 --compression none --rounds 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Sizes = nil
			for _, s := range sizes {
				n, err := units.ParseBytes(s)
				if err != nil {
					return fmt.Errorf("--sizes: %w", err)
				}
				cfg.Sizes = append(cfg.Sizes, int(n))
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the kbench binary: %w", err)
			}
			cfg.Binary, cfg.Version, cfg.Log = exe, Version, stderr
			cfg.Dir = filepath.Join(outDir, "logs")
			rep, err := selfbench.GenRun(cmd.Context(), cfg)
			if rep == nil {
				return err
			}
			path, werr := rep.WriteJSON(outDir)
			if terr := selfbench.WriteGenTable(stdout, rep); terr != nil {
				werr = errors.Join(werr, terr)
			}
			if werr == nil {
				fmt.Fprintf(stdout, "\nwrote %s\n", path)
			}
			return errors.Join(err, werr)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&sizes, "sizes", []string{"100", "1KiB"}, "record value sizes of the unthrottled and consume workloads")
	f.IntSliceVar(&cfg.Producers, "producers", cfg.Producers, "producer counts of the unthrottled workloads")
	f.StringSliceVar(&cfg.Acks, "acks", cfg.Acks, "acks of the unthrottled workloads: 1, all")
	f.StringSliceVar(&cfg.Compressions, "compression", cfg.Compressions, "compression.type of the unthrottled workloads")
	f.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds; medians and ranges are over rounds")
	f.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured start of every produce and e2e run")
	f.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured part of every produce and e2e run")
	f.Float64Var(&cfg.FixedRate, "fixed-rate", cfg.FixedRate, "records/s of the fixed-rate produce comparison (0 skips it)")
	f.IntVar(&cfg.FixedSize, "fixed-size", cfg.FixedSize, "value bytes of the fixed-rate and e2e comparisons")
	f.Float64Var(&cfg.E2ERate, "e2e-rate", cfg.E2ERate, "records/s of the e2e comparison (0 skips it)")
	f.Int64Var(&cfg.ConsumeRecords, "consume-records", cfg.ConsumeRecords, "records each consume comparison reads from the filled topic (0 skips it)")
	f.IntVar(&cfg.ConsumePairs, "consume-pairs", cfg.ConsumePairs, "side-by-side consume pairs per round, the order swapped each pair")
	f.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the harness here, samples labelled run=\"bare|kbench: WORKLOAD\" (for pprof -tagfocus)")
	f.StringVar(&outDir, "out", "runs/selfbench-generator", "directory for generator.json and the null brokers' logs")
	return cmd
}
