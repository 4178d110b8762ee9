package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/stats"
	"github.com/kbench/kbench/reports"
)

type abOptions struct {
	load   *loadOptions
	a, b   []string
	rounds int
	alpha  float64
	e2e    bool
	gates  []string
	outDir string
	stdout io.Writer
}

// abSkipped are load flags that make no sense for an A/B comparison: its
// runs write their own files, and faults or an audit would measure
// something else.
var abSkipped = map[string]bool{"json": true, "hlog": true, "fault": true, "audit": true, "out": true, "quiet": true}

// consumerOnly are the load flags only --e2e uses.
var consumerOnly = []string{"consumer-props", "group", "consumers", "drain-timeout"}

func newABCmd(stdout, stderr io.Writer) *cobra.Command {
	loadCmd, lo := newLoadCommand(bench.ModeE2E, stdout, stderr)
	o := &abOptions{load: lo, stdout: stdout}
	cmd := &cobra.Command{
		Use:   "ab --a KEY=VALUE --b KEY=VALUE",
		Short: "Is setting B better than A? Interleaved runs of both, with significance",
		Long: `Run the same load with producer setting(s) A and with B, alternately, --rounds times each,
and print for every figure A, B, the difference with its confidence interval and a p-value.

Runs are interleaved in a balanced order, A B B A A B B A ..., so a slow drift of the
machine (other work starting, heat) falls on both sides equally rather than on whichever
ran last. All runs share one cluster and one set of topic settings; on the embedded cluster
the topic is deleted and recreated before every run (--recreate=false keeps it; with
--bootstrap it is kept unless --recreate is given), and every run has its own --warmup
before it is measured. --a and --b are producer properties KEY=VALUE, repeatable;
they override the same property given by the load flags (--linger-ms, --producer-props,
...). The load flags are those of kbench produce (with --e2e: kbench e2e, which adds
consumers and end-to-end latency). --out DIR writes every run's result as DIR/A-1.json,
DIR/B-1.json, ..., which kbench compare reads again ('DIR/A-*.json' 'DIR/B-*.json').

--fail-if works as in kbench compare: exit status 1 when a change is significant and
beyond the limit.

` + reports.CompareHelp,
		Example: `  kbench ab --a linger.ms=0 --b linger.ms=20 --rate 20000 --rounds 4
  kbench ab --a compression.type=lz4 --b compression.type=zstd --rate 50000 --duration 20s
  kbench ab --a batch.size=16384 --b batch.size=131072 --e2e --rate 30000 --fail-if 'p99>+10%'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lo.version = cmd.Root().Version
			return runAB(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.a, "a", nil, "setting A: a producer property KEY=VALUE, repeatable (e.g. linger.ms=5)")
	f.StringArrayVar(&o.b, "b", nil, "setting B: a producer property KEY=VALUE, repeatable (e.g. linger.ms=10)")
	f.IntVar(&o.rounds, "rounds", 6, "runs of each setting; 4 or more can show a significant difference at 0.05, 6 or more are better")
	f.Float64Var(&o.alpha, "alpha", 0.05, "significance level: a difference counts when p is below it; intervals are at 1 - alpha")
	f.BoolVar(&o.e2e, "e2e", false, "run produce and consume together (kbench e2e) and compare end-to-end latency too")
	f.StringArrayVar(&o.gates, "fail-if", nil, "regression gate FIGURE<-N% or FIGURE>+N% (see kbench compare), repeatable")
	f.StringVar(&o.outDir, "out", "", "write every run's result JSON here (A-1.json, B-1.json, ...)")
	loadCmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if !abSkipped[fl.Name] {
			f.AddFlag(fl) // the same flag: loadOptions sees what ab parsed
		}
	})
	// Shorter runs than a single benchmark: many are needed.
	setDefault(f, "duration", "10s")
	setDefault(f, "warmup", "3s")
	setDefault(f, "recreate", "true")
	lo.quiet = true
	return cmd
}

// setDefault changes a flag's default value (and what help shows).
func setDefault(f *pflag.FlagSet, name, v string) {
	fl := f.Lookup(name)
	_ = fl.Value.Set(v) // the values above parse
	fl.DefValue = v
}

// abOrder is the order of the runs: A B, then B A, and so on, so each side
// runs first as often as second and a linear drift cancels in the medians.
func abOrder(rounds int) []byte {
	out := make([]byte, 0, 2*rounds)
	for i := range rounds {
		if i%2 == 0 {
			out = append(out, 'A', 'B')
		} else {
			out = append(out, 'B', 'A')
		}
	}
	return out
}

func runAB(ctx context.Context, o *abOptions) (err error) {
	lo := o.load
	lo.mode = bench.ModeProduce
	if o.e2e {
		lo.mode = bench.ModeE2E
	} else {
		for _, name := range consumerOnly {
			if lo.flags.Changed(name) {
				return fmt.Errorf("--%s is for consumers: add --e2e", name)
			}
		}
	}
	if o.rounds < 1 {
		return fmt.Errorf("--rounds %d: want at least 1 (4 or more to see a significant difference)", o.rounds)
	}
	if !(o.alpha > 0 && o.alpha < 1) {
		return fmt.Errorf("--alpha %v: want a level between 0 and 1, such as 0.05", o.alpha)
	}
	if len(o.a) == 0 || len(o.b) == 0 {
		return errors.New("give the two settings to compare: --a KEY=VALUE and --b KEY=VALUE")
	}
	sideA, err := parseKV("--a", o.a)
	if err != nil {
		return err
	}
	sideB, err := parseKV("--b", o.b)
	if err != nil {
		return err
	}
	var gates []reports.Gate
	for _, s := range o.gates {
		g, err := reports.ParseGate(s)
		if err != nil {
			return err
		}
		gates = append(gates, g)
	}
	base, err := lo.config()
	if err != nil {
		return err
	}
	// Both settings must be valid before the first run starts.
	cfgs := map[byte]bench.RunConfig{}
	for side, props := range map[byte]map[string]string{'A': sideA, 'B': sideB} {
		c := base
		c.Producer = map[string]string{}
		maps.Copy(c.Producer, base.Producer)
		maps.Copy(c.Producer, props)
		if _, err := c.EffectiveProducer(); err != nil {
			return fmt.Errorf("--%c: %w", side+'a'-'A', err)
		}
		cfgs[side] = c
	}
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	tg, err := lo.target(ctx, &base)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := tg.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop target: %w", cerr)
		}
	}()
	// On a cluster kbench did not start, a topic is deleted only when asked.
	if _, external := tg.(*bench.External); external && !lo.flags.Changed("recreate") {
		base.Topic.Recreate = false
	}
	for side, c := range cfgs {
		c.Client, c.Target = base.Client, tg // target() took bootstrap.servers out of the client properties
		c.Topic.Recreate = base.Topic.Recreate
		if err := c.Validate(); err != nil {
			return fmt.Errorf("--%c: %w", side+'a'-'A', err)
		}
		cfgs[side] = c
	}

	w := o.stdout
	order := abOrder(o.rounds)
	fmt.Fprintf(w, "A: %s\nB: %s\n", strings.Join(o.a, " "), strings.Join(o.b, " "))
	fmt.Fprintf(w, "%d runs against %s, in the order %s; each %s warmup + %s measured, %s\n\n",
		len(order), tg.Describe(), string(order), base.Warmup, base.Duration, topicNote(base))
	figs := map[byte][]map[string]float64{}
	runs := map[byte]int{}
	var invalid []string
	for i, side := range order {
		if ctx.Err() != nil {
			fmt.Fprintf(w, "interrupted after %d of %d runs: comparing those\n", i, len(order))
			break
		}
		runs[side]++
		cfg := cfgs[side]
		start := time.Now()
		res, runErr := bench.Run(ctx, cfg, nil)
		if res == nil {
			return fmt.Errorf("run %d (%c): %w", i+1, side, runErr)
		}
		name := fmt.Sprintf("%c-%d", side, runs[side])
		fig := sweep.RunFigures(res)
		if !res.Interrupted {
			figs[side] = append(figs[side], fig)
		}
		fmt.Fprintf(w, "run %2d/%d %-4s %s (%.0fs)\n", i+1, len(order), name, runLine(fig, lo.mode), time.Since(start).Seconds())
		for _, why := range res.Invalid {
			invalid = append(invalid, name+": "+why)
			fmt.Fprintf(w, "          INVALID: %s\n", why)
		}
		if runErr != nil && ctx.Err() == nil {
			invalid = append(invalid, name+": "+runErr.Error())
			fmt.Fprintf(w, "          ERROR: %v\n", runErr)
		}
		if o.outDir != "" {
			if err := res.WriteJSON(filepath.Join(o.outDir, name+".json")); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
		}
	}
	if len(figs['A']) == 0 || len(figs['B']) == 0 {
		return errors.New("no finished run on one side: nothing to compare")
	}
	c := reports.Compare("", figs['A'], figs['B'], nil, o.alpha)
	fmt.Fprintln(w)
	if err := reports.WriteComparison(w, c); err != nil {
		return err
	}
	writeABNoise(w, figs['A'], figs['B'], o.alpha)
	if len(invalid) > 0 {
		fmt.Fprintf(w, "%d run(s) were INVALID (listed above) and are included in the figures: read those figures with care\n", len(invalid))
	}
	var vs []reports.GateVerdict
	for _, g := range gates {
		vs = append(vs, g.Check(c))
	}
	return writeGates(w, vs)
}

func topicNote(c bench.RunConfig) string {
	if c.Topic.Recreate {
		return fmt.Sprintf("topic %s recreated before every run", c.Topic.Name)
	}
	return fmt.Sprintf("topic %s kept between runs", c.Topic.Name)
}

// runLine is a run's headline figures for the progress lines.
func runLine(f map[string]float64, mode bench.Mode) string {
	keys := []string{"produce_records_per_sec", "service_p99_ms", "response_p99_ms"}
	if mode == bench.ModeE2E {
		keys = append(keys, "e2e_p99_ms")
	}
	var parts []string
	for _, k := range keys {
		v, ok := f[k]
		if !ok {
			continue
		}
		switch {
		case strings.HasSuffix(k, "_per_sec"):
			parts = append(parts, fmt.Sprintf("%.0f records/s", v))
		default:
			parts = append(parts, fmt.Sprintf("%s %.2f ms", strings.TrimSuffix(strings.ReplaceAll(k, "_", " "), " ms"), v))
		}
	}
	return strings.Join(parts, ", ")
}

// writeABNoise says, for throughput and client CPU, how much the runs
// varied, the smallest change these runs find 9 times in 10, and how many
// runs a side a 10 % change would need at this noise.
func writeABNoise(w io.Writer, a, b []map[string]float64, alpha float64) {
	col := func(runs []map[string]float64, key string) []float64 {
		var out []float64
		for _, r := range runs {
			if v, ok := r[key]; ok {
				out = append(out, v)
			}
		}
		return out
	}
	for _, f := range []struct{ key, name string }{{"produce_records_per_sec", "throughput"}, {"cpu_s_per_gb", "client CPU"}} {
		xa, xb := col(a, f.key), col(b, f.key)
		noise := stats.LogNoise(xa, xb)
		if math.IsNaN(noise) {
			continue
		}
		d := stats.DetectableChange(noise, len(xa), len(xb), alpha, 0.9)
		found := "can never be significant"
		if !math.IsInf(d, 1) {
			found = fmt.Sprintf("find a change of %.0f %% or more 9 times in 10", 100*d)
		}
		fmt.Fprintf(w, "noise: %s runs vary by about %.0f %% (standard deviation of the log); these %d+%d runs %s; a 10 %% change needs about %d runs a side\n",
			f.name, 100*noise, len(xa), len(xb), found, stats.RunsFor(0.10, noise, alpha, 0.9))
	}
}
