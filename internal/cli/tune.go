package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/bench/tune"
	"github.com/kbench/kbench/profiles"
	"github.com/kbench/kbench/reports"
)

type tuneOptions struct {
	sweepOptions // profile, set, out, resume, bootstrap, commandConfig, progress, dryRun
	slo          string
	rate         string
	maximize     string
	budget       time.Duration
	space        []string
	acks         string
	idempotence  bool
	rf, minISR   int
	noise        float64
	maxRuns      int
	changed      func(string) bool
}

func newTuneCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &tuneOptions{sweepOptions: sweepOptions{stdout: stdout, stderr: stderr}}
	cmd := &cobra.Command{
		Use:   "tune --slo 'p99<=20ms' [--maximize rate | --rate R] [--budget 15m] [--max-runs N]",
		Short: "Find the producer settings that give the most throughput under a latency SLO, at a fixed durability floor",
		Long: `Search producer settings (linger.ms, batch.size, compression codec and level, requests in
flight) for the most throughput that still meets a latency SLO, without giving up durability:
acks, idempotence, replication factor and min.insync.replicas stay as set (--acks all
--idempotence --rf 3 --min-insync 2 by default, or the profile's).

Each candidate is measured like a sweep point: with --maximize rate (the default) by the
sweep's max-sustainable search (the highest rate meeting the SLO: latency bounds, error-free,
achieved ≥ 99 % of the target); with --rate R at that fixed rate, where the candidate with the
most SLO headroom (the bound over the measured percentile) wins.

How the search decides. It starts at the starting settings (the profile's, else Kafka's
defaults) and keeps the best candidate so far, by the median of its measurements. It looks
around that candidate: for linger.ms, batch.size and in-flight requests a step up and a step
down, first wide, then halved down to the next value; for the codec every other codec and
level. The first neighbour not yet measured is measured next; one that does better becomes
the best, and the search looks around it instead. Two candidates count as different only when
their medians are further apart than twice the measurement noise allows for their number of
measurements; the noise is estimated from the candidates measured more than once (--noise is
the prior). A measurement is repeated only where a decision is that close: the best is
measured at least twice, and any of the three best candidates or the best's nearest
neighbours within noise of it is measured again, up to 4 times each (tune.max_repeats). The
search stops when nothing around the best is unmeasured and no close call is left (nothing
left can be significantly better). With budget left, the recommendation, the starting
settings and Kafka's defaults are then measured alternately up to 3 times each
(tune.confirm), so the gains get confidence intervals from the same rank test as kbench ab
(Mann–Whitney with the Moses interval).

Budgets. --max-runs N ends the run after N measurements, confirmations included. --budget
bounds the time spent measuring: no measurement starts that would overrun it if it took as
long as the longest so far, and one still under way when the budget runs out is cut there and
not counted.

Failures. A candidate that fails for its own settings (a combination the load generator or
the broker refuses) counts as meeting nothing and the search goes on. A failure no candidate's
settings change stops the tune after that first measurement, saying what to fix (start a new
tune once fixed): the topic the cluster refuses (replication factor above its brokers, an
unknown topic config; unless the space varies the topic), credentials or permissions it
refuses, or a --bootstrap cluster it cannot reach.

Why this search: the space is a small grid of mostly ordered settings whose effect is close
to single-peaked along each one (more batching helps until latency or the network stops it),
so a pattern search reaches the best region in a few dozen measurements of a 735-candidate
grid, every choice it makes can be explained in a line, and it spends repeats only on the
decisions that matter. A model-based search (Bayesian optimisation) would decide more from its
fit of a dozen noisy points than from the data. The price: it is a local search — when two
separate regions are both good, it finds the one it reaches from the start. The search is a
pure function of its measurements, so --resume replays them and carries on exactly.

The space is the profile's tune.space, else its axes (the built-in tune profile: linger.ms
0-100, batch.size 16KiB-1MiB, compression none/lz4/snappy/zstd:1/zstd:3, max.in.flight
1/2/5); --space SETTING=V1,V2 replaces one of its settings or adds one (one value fixes the
setting); the starting settings and Kafka's defaults are added to it where missing. The
profile's tune section (kbench profiles schema) also sets budget, max_runs, noise,
max_repeats and confirm; a flag given overrides its field, and the run's manifest records
the settings used. Results go to runs/<time>-tune/ (or --out) like a sweep's:
results.jsonl has one point per measurement (m001, m002, ...), tune.json the search's path,
report/tune.md the recommendation, the gains and every step; kbench plan --from reads it.`,
		Example: `  kbench tune --slo 'p99<=20ms'
  kbench tune --slo 'p99<=20ms' --budget 10m --space linger.ms=0,5,25 --space compression=none,lz4,zstd
  kbench tune --slo 'p99<=5ms,p99.9<=20ms' --rate 50000 --bootstrap kafka-1:9092
  kbench tune --profile clickstream --slo 'p99<=20ms'      # the profile's tune.space, else its axes, is the space
  kbench tune --slo 'p99<=20ms' --max-runs 40 --budget 0   # at most 40 measurements, however long they take
  kbench tune --resume runs/20260101-120000-tune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.version = cmd.Root().Version
			o.changed = cmd.Flags().Changed
			return runTune(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", tune.DefaultProfile, "profile to start from: its target, topic, workload and settings; its axes are the search space")
	f.StringVar(&o.slo, "slo", "", "latency SLO: PERCENTILE<=LIMIT[,...] with p50, p99, p99.9, optionally after a histogram (response, service, e2e): 'p99<=20ms' (default: the profile's)")
	f.StringVar(&o.maximize, "maximize", "rate", "what to maximise: rate (the max sustainable rate under the SLO)")
	f.StringVar(&o.rate, "rate", "", "instead: run every candidate at this fixed rate (records/s: 50000, 50k) and pick the most SLO headroom")
	f.DurationVar(&o.budget, "budget", 0, "time budget; the search stops before a measurement that would exceed it; 0 = none (default: the profile's tune.budget, else 15m)")
	f.IntVar(&o.maxRuns, "max-runs", 0, "stop after this many measurements, the final confirmations included (default: the profile's tune.max_runs, else no bound)")
	f.StringArrayVar(&o.space, "space", nil, "search SETTING over these values, SETTING=V1,V2,... (linger.ms, batch.size, compression with codec:level, max.in.flight), replacing that axis of the profile's tune.space (else axes); repeatable")
	f.StringVar(&o.acks, "acks", "all", "durability floor: acks (Kafka: acks)")
	f.BoolVar(&o.idempotence, "idempotence", true, "durability floor: enable.idempotence")
	f.IntVar(&o.rf, "rf", 3, "durability floor: replication factor (the embedded cluster gets as many brokers)")
	f.IntVar(&o.minISR, "min-insync", 2, "durability floor: min.insync.replicas")
	f.Float64Var(&o.noise, "noise", 0, "prior relative noise of one measurement, until repeats measure it (default: the profile's tune.noise, else 0.1)")
	f.StringVar(&o.out, "out", "", "run directory; default runs/<yyyymmdd-hhmmss>-tune")
	f.StringVar(&o.resume, "resume", "", "continue the tune in this run directory")
	f.StringVar(&o.bootstrap, "bootstrap", "", "tune against this cluster (host:port,...) instead of the embedded one (Kafka: bootstrap.servers)")
	f.StringVar(&o.commandConfig, "command-config", "", "client.properties file with connection and security properties for every client")
	f.StringArrayVar(&o.set, "set", nil, "override a profile field, PATH=VALUE with VALUE in YAML (workload.duration=5s); repeatable")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, else lines), bar, lines or none")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the space, the start, the grid's size and the search settings (budget, measurements, noise); run nothing")
	o.agents.register(f)
	return cmd
}

// overrides are the profile overrides the flags make: the SLO, the rate,
// the durability floor (when given, or always with the built-in profile),
// then --set, --bootstrap and --command-config.
func (o *tuneOptions) overrides() ([]string, error) {
	var set []string
	if o.changed("slo") {
		s, err := tune.ParseSLO(o.slo)
		if err != nil {
			return nil, err
		}
		set = append(set, s...)
	}
	switch {
	case o.rate != "" && o.changed("maximize"):
		return nil, errors.New("give --maximize rate or --rate R, not both")
	case o.rate != "":
		v, err := parsePlanCount(o.rate)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("--rate %q: want records/s above 0, like 50000 or 50k", o.rate)
		}
		set = append(set, "rate="+strconv.FormatFloat(v, 'f', -1, 64), "search=null")
	case o.maximize != "rate":
		return nil, fmt.Errorf("--maximize %q: valid: rate (or give --rate R to pick the most SLO headroom at a fixed rate)", o.maximize)
	default:
		set = append(set, "rate=max-sustainable")
	}
	floor := o.profile == tune.DefaultProfile
	if floor || o.changed("acks") {
		set = append(set, "producer.acks="+yamlString(o.acks))
	}
	if floor || o.changed("idempotence") {
		set = append(set, "producer.enable.idempotence="+strconv.FormatBool(o.idempotence))
	}
	if floor || o.changed("rf") {
		set = append(set, "topic.replication.factor="+strconv.Itoa(o.rf), "target.brokers="+strconv.Itoa(o.rf))
	}
	if floor || o.changed("min-insync") {
		set = append(set, "topic.configs.min.insync.replicas="+strconv.Itoa(o.minISR))
	}
	rest, err := o.sweepOptions.overrides()
	if err != nil {
		return nil, err
	}
	return append(set, rest...), nil
}

func runTune(ctx context.Context, o *tuneOptions) error {
	switch o.progress {
	case "auto", "bar", "lines", "none":
	default:
		return fmt.Errorf("--progress %q: valid values are auto, bar, lines, none", o.progress)
	}
	if err := o.checkSettings(); err != nil {
		return err
	}
	to := tune.Options{Dir: o.resume, Resume: o.resume != "", Budget: o.budget}
	var latency, bootstrap string
	maxRate := true
	if o.resume != "" {
		for _, name := range []string{"slo", "rate", "maximize", "space", "acks", "idempotence", "rf", "min-insync", "noise", "max-runs", "out", "bootstrap", "command-config", "set", "profile", "dry-run"} {
			if o.changed(name) {
				return fmt.Errorf("--resume continues the recorded search: --%s does not apply (--budget does)", name)
			}
		}
		f, err := tune.ReadFile(o.resume)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if !o.changed("budget") {
			to.Budget = time.Duration(f.Budget)
		}
		latency, maxRate = f.Grid.SLO.Latency, f.Grid.Base.Rate.Kind == profiles.RateMaxSustainable
		bootstrap = f.Grid.Target.Bootstrap
		client, err := clientProps(f.Grid.Target)
		if err != nil {
			return err
		}
		to.Sweep.Client = client
	} else {
		set, err := o.overrides()
		if err != nil {
			return err
		}
		space, err := tune.ParseSpace(o.space)
		if err != nil {
			return err
		}
		pr, err := tune.Prepare(o.profile, set, space)
		if err != nil {
			return flagError(err)
		}
		if pr.Grid.SLO.P50Ms == 0 && pr.Grid.SLO.P99Ms == 0 && pr.Grid.SLO.P999Ms == 0 {
			return errors.New("no latency bound to tune for: give --slo 'p99<=20ms' (or a profile with slo.p99_ms)")
		}
		ts := o.settings(pr)
		to.Budget, to.Confirm = time.Duration(ts.Budget), ts.Confirm
		to.Config = tune.Config{Noise: ts.Noise, MaxRepeats: ts.MaxRepeats, MaxEvals: ts.MaxRuns}
		if o.dryRun {
			return writeTunePlan(o.stdout, pr)
		}
		to.Prepared = pr
		to.Dir = o.out
		if to.Dir == "" {
			to.Dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-tune")
		}
		latency, maxRate = pr.Grid.SLO.Latency, pr.Grid.Base.Rate.Kind == profiles.RateMaxSustainable
		bootstrap = pr.Grid.Target.Bootstrap
		client, err := clientProps(pr.Grid.Target)
		if err != nil {
			return err
		}
		to.Sweep.Client = client
	}
	to.Sweep.Version = o.version
	// With --agents every measurement's load runs on the agents, as a
	// sweep's does.
	run, leave, err := o.agents.runner(ctx, bootstrap, to.Sweep.Client, o.stderr)
	if err != nil {
		return err
	}
	defer leave()
	if o.agents.set() {
		to.Sweep.Run = sweepOnAgents(run, o.stderr)
	}
	to.Sweep.Progress = o.printer(latency)
	w := o.stderr
	to.Step = func(r tune.Record, st *tune.State) {
		best := st.Best()
		got := fmtTuneValue(r.Value, maxRate)
		if r.Failed != "" {
			got = "failed"
		}
		fmt.Fprintf(w, "tune %s %-7s %s → %s (%s); best so far %s at %s, n=%d\n", r.Point, r.Kind, r.Label, got,
			r.Reason, st.Space.Label(best.Cand), fmtTuneValue(best.Median, maxRate), best.N())
	}
	f, err := tune.Run(ctx, to)
	if f == nil {
		return err
	}
	if f.Status == "done" {
		if werr := reports.WriteTune(to.Dir, f); werr != nil && err == nil {
			err = werr
		}
		writeTuneSummary(o.stdout, to.Dir, f)
	}
	if err != nil {
		return err
	}
	if f.Status != "done" {
		return fmt.Errorf("interrupted after %d measurements; continue with: kbench tune --resume %s", len(f.Steps), to.Dir)
	}
	return nil
}

// defaultTuneBudget is the time budget when neither --budget nor the
// profile's tune.budget gives one.
const defaultTuneBudget = 15 * time.Minute

// checkSettings rejects search settings out of range.
func (o *tuneOptions) checkSettings() error {
	switch {
	case o.budget < 0:
		return fmt.Errorf("--budget %s: want a duration of at least 0 (0 = no time budget)", o.budget)
	case o.maxRuns < 0:
		return fmt.Errorf("--max-runs %d: want a number of measurements of at least 1 (0 = no bound)", o.maxRuns)
	case o.changed("noise") && (o.noise <= 0 || o.noise > 1):
		return fmt.Errorf("--noise %g: want the relative noise of one measurement in (0, 1], like 0.1", o.noise)
	}
	return nil
}

// settings are the tune's search settings, recorded in the grid's tune
// section (and so in the run's manifest): a flag given wins over the
// profile's tune section, which wins over the defaults; the space is the
// one searched.
func (o *tuneOptions) settings(pr *tune.Prepared) *profiles.Tune {
	var t profiles.Tune
	if pr.Grid.Tune != nil {
		t = *pr.Grid.Tune
	}
	if o.changed("budget") {
		t.Budget = profiles.Duration(o.budget)
	} else if t.Budget == 0 {
		t.Budget = profiles.Duration(defaultTuneBudget)
	}
	if o.changed("max-runs") {
		t.MaxRuns = o.maxRuns
	}
	if o.changed("noise") {
		t.Noise = o.noise
	}
	t.Noise = cmp.Or(t.Noise, tune.DefaultNoise)
	t.MaxRepeats = cmp.Or(t.MaxRepeats, tune.DefaultMaxRepeats)
	t.Confirm = cmp.Or(t.Confirm, tune.DefaultConfirm)
	t.Space = nil
	for _, d := range pr.Space.Dims {
		t.Space = append(t.Space, profiles.SpaceAxis{Name: d.Name, Values: slices.Clone(d.Written)})
	}
	pr.Grid.Tune = &t
	return &t
}

// flagError names the flag an override came from when the profile
// rejects it.
func flagError(err error) error {
	msg := err.Error()
	for prefix, flag := range map[string]string{"--set slo.": "--slo", "--set rate=": "--rate", "--set producer.acks=": "--acks",
		"--set topic.replication.factor=": "--rf", "--set target.brokers=": "--rf", "--set topic.configs.min.insync.replicas=": "--min-insync"} {
		if strings.HasPrefix(msg, prefix) {
			if _, rest, ok := strings.Cut(msg, ": "); ok {
				return fmt.Errorf("%s: %s", flag, rest)
			}
		}
	}
	return err
}

func fmtTuneValue(v float64, maxRate bool) string {
	switch {
	case v <= 0:
		return "nothing met the SLO"
	case maxRate:
		return strconv.FormatFloat(v, 'f', 0, 64) + " records/s"
	}
	return "SLO headroom ×" + strconv.FormatFloat(v, 'f', 2, 64)
}

// writeTunePlan prints what a tune would search (--dry-run).
func writeTunePlan(w io.Writer, pr *tune.Prepared) error {
	t := pr.Grid.Tune
	var b strings.Builder
	p := pr.Grid
	fmt.Fprintf(&b, "tune from profile %s (%s)\n", p.Name, p.Source)
	fmt.Fprintf(&b, "slo:       %s\n", p.SLO.Describe())
	fmt.Fprintf(&b, "rate:      %s\n", p.Base.Rate)
	fmt.Fprintf(&b, "floor:     acks=%s enable.idempotence=%s, replication factor %d, min.insync.replicas %s\n",
		p.Base.Producer["acks"], p.Base.Producer["enable.idempotence"], p.Base.Topic.ReplicationFactor, p.Base.Topic.Configs["min.insync.replicas"])
	for _, d := range pr.Space.Dims {
		kind := "unordered"
		if d.Ordered {
			kind = "ordered"
		}
		fmt.Fprintf(&b, "space:     %s %v (%s)\n", d.Name, d.Values, kind)
	}
	fmt.Fprintf(&b, "start:     %s\n", pr.Space.Label(pr.Start))
	fmt.Fprintf(&b, "defaults:  %s (Kafka's)\n", pr.Space.Label(pr.Defaults))
	per, total, _ := sweep.Estimate(p)
	budget, runs := "none", "no bound"
	if t.Budget > 0 {
		budget = time.Duration(t.Budget).String()
	}
	if t.MaxRuns > 0 {
		runs = strconv.Itoa(t.MaxRuns)
	}
	fmt.Fprintf(&b, "grid:      %d candidates; a full sweep of them takes about %s (%s each)\n",
		pr.Space.Size(), total.Round(time.Minute), per[0].Round(time.Second))
	fmt.Fprintf(&b, "search:    time budget %s, measurements %s, noise prior %g %%, up to %d measurements a candidate, %d confirmations\n",
		budget, runs, 100*t.Noise, t.MaxRepeats, t.Confirm)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTuneSummary prints the recommendation and its gains.
func writeTuneSummary(w io.Writer, dir string, f *tune.File) {
	r := f.Result
	fmt.Fprintf(w, "\ntune: %d measurements of %d candidates (%d load runs) in %s; the space has %d candidates\n",
		len(f.Steps), r.Candidates, r.Runs, time.Duration(f.Elapsed).Round(time.Second), r.GridCandidates)
	if f.Stop != "" {
		fmt.Fprintf(w, "search: %s\n", f.Stop)
	}
	if f.Ended != "" {
		fmt.Fprintf(w, "ended: %s\n", f.Ended)
	}
	for _, line := range reports.TuneSummary(f) {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "search path and every candidate: %s\n", filepath.Join(dir, reports.ReportDir, reports.TuneMarkdown))
}
