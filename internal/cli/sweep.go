package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

type sweepOptions struct {
	profile       string
	omb           string
	ombDriver     string
	ombJSON       string
	metricsListen string
	dryRun        bool
	out           string
	resume        string
	retryFailed   bool
	bootstrap     string
	commandConfig string
	set           []string
	progress      string
	agents        agentFlags
	version       string
	stdout        io.Writer
	stderr        io.Writer
}

func newSweepCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &sweepOptions{stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run a sizing sweep: load runs over a grid of settings, with max-sustainable rate search",
		Long: `Run every point of a profile: the cartesian product of its axes (linger.ms, batch.size,
compression, acks, partitions, replication.factor, min.insync.replicas, record size,
producers, rate, ...) minus its exclude rules. Each point runs at a fixed rate, unthrottled,
or at its max sustainable rate: a search (bracket, then bisection) for the highest rate that
meets the profile's SLO (latency bounds, error-free, achieved ≥ 99 % of the target, bounded
consumer lag). repeat: N runs each point N times and keeps the median and the spread.

Profiles are built in (kbench profiles list) or YAML files; --set PATH=VALUE overrides any
field (VALUE is YAML): --set workload.duration=10s --set 'axes.linger.ms=[0,5]'.

Results go to runs/<time>-<profile>/ (or --out): manifest.json, results.jsonl (one line per
point: settings, every figure, SLO verdict and validity flags), an HdrHistogram log per run
and the embedded brokers' logs. Points with one broker run on an in-process broker, others
on an embedded cluster of broker processes; --bootstrap runs everything on a real cluster.
Ctrl-C keeps every finished point: --resume RUN_DIR runs the rest. A point that fails is
recorded with its error and the sweep goes on.

--omb WORKLOAD.yaml runs an OpenMessaging Benchmark workload file instead of a profile, with
the Kafka driver file's replicationFactor, topicConfig and producer/consumer properties
(--omb-driver); producerRate 0 becomes the max-sustainable search. Fields kbench cannot
honour are errors that say why; kbench profiles convert --omb shows the profile it runs.

The sweep deletes and recreates its topic (kbench-<profile>, or topic.name) whenever the
topic settings change: on a real cluster, give it a topic of its own.`,
		Example: `  kbench sweep --profile quick
  kbench sweep --profile clickstream --dry-run
  kbench sweep --profile ./mine.yaml --bootstrap kafka-1:9092 --command-config client.properties
  kbench sweep --profile linger-batch --set workload.duration=5s --set repeat=3
  kbench sweep --omb workloads/1-topic-16-partitions-1kb.yaml --omb-driver driver-kafka/kafka-sync-all.yaml
  kbench sweep --resume runs/20260101-120000-clickstream`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.version = cmd.Root().Version
			return runSweep(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "", "built-in profile name or YAML file (kbench profiles list)")
	f.StringVar(&o.omb, "omb", "", "OpenMessaging Benchmark workload file to run instead of a profile")
	f.StringVar(&o.ombDriver, "omb-driver", "", "with --omb, an OpenMessaging Benchmark Kafka driver file (topic, producer and consumer properties)")
	f.StringVar(&o.ombJSON, "omb-json", "", "also write a one-point sweep's result in OpenMessaging Benchmark's result JSON (the point's representative run)")
	f.StringVar(&o.metricsListen, "metrics-listen", "", metricsListenHelp+"; series are labelled with the point id")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the expanded points and the estimated duration, run nothing")
	f.StringVar(&o.out, "out", "", "run directory; default runs/<yyyymmdd-hhmmss>-<profile>")
	f.StringVar(&o.resume, "resume", "", "continue the run in this directory, skipping finished points")
	f.BoolVar(&o.retryFailed, "retry-failed", false, "with --resume, run failed points again")
	f.StringVar(&o.bootstrap, "bootstrap", "", "run on this cluster (host:port,...) instead of the profile's target (Kafka: bootstrap.servers)")
	f.StringVar(&o.commandConfig, "command-config", "", "client.properties file with connection and security properties for every client")
	f.StringArrayVar(&o.set, "set", nil, "override a profile field, PATH=VALUE with VALUE in YAML; repeatable")
	f.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, else lines), bar, lines or none")
	o.agents.register(f)
	return cmd
}

func runSweep(ctx context.Context, o *sweepOptions) error {
	if o.ombDriver != "" && o.omb == "" {
		return errors.New("--omb-driver goes with --omb WORKLOAD.yaml")
	}
	if n := countSet(o.profile, o.omb, o.resume); n != 1 {
		return errors.New("give --profile NAME|PATH or --omb WORKLOAD.yaml to start a sweep, or --resume RUN_DIR to continue one")
	}
	if o.resume != "" && (len(o.set) > 0 || o.bootstrap != "" || o.commandConfig != "" || o.dryRun || o.out != "") {
		return errors.New("--resume runs the profile recorded in the run directory (its client.properties path included): --set, --bootstrap, --command-config, --dry-run and --out do not apply")
	}
	if o.retryFailed && o.resume == "" {
		return errors.New("--retry-failed goes with --resume")
	}
	switch o.progress {
	case "auto", "bar", "lines", "none":
	default:
		return fmt.Errorf("--progress %q: valid values are auto, bar, lines, none", o.progress)
	}
	opts := sweep.Options{Version: o.version, Dir: o.resume, Resume: o.resume != "", RetryFailed: o.retryFailed}
	var p *profiles.Profile
	var conv *profiles.OMBConversion
	if o.resume != "" {
		m, err := sweep.ReadManifest(o.resume)
		if err != nil {
			return err
		}
		p = m.Profile
	} else {
		set, err := o.overrides()
		if err != nil {
			return err
		}
		if o.omb != "" {
			if p, conv, err = profiles.LoadOMB(o.omb, o.ombDriver, set); err != nil {
				return err
			}
			for _, n := range conv.Notes {
				fmt.Fprintf(o.stderr, "omb: %s\n", n)
			}
		} else if p, err = profiles.Load(o.profile, set); err != nil {
			return err
		}
		if o.dryRun {
			return sweep.WriteDryRun(o.stdout, p)
		}
		opts.Profile = p
		opts.Dir = o.out
		if opts.Dir == "" {
			opts.Dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-"+p.Name)
		}
	}
	client, err := clientProps(p.Target)
	if err != nil {
		return err
	}
	opts.Client = client
	run, leave, err := o.agents.runner(ctx, p.Target.Bootstrap, client, o.stderr)
	if err != nil {
		return err
	}
	defer leave()
	if o.agents.set() {
		opts.Run = sweepOnAgents(run, o.stderr)
	}
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	exp, err := startLiveMetrics(metricsCtx, o.metricsListen, p.Name, o.stderr)
	if err != nil {
		return err
	}
	opts.Progress = sweepProgress(exp, o.printer(p.SLO.Latency))
	sum, err := sweep.Run(ctx, opts)
	if sum != nil {
		if werr := writeSweepTable(o.stdout, sum, p.SLO.Latency); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if o.ombJSON != "" {
		workload, driver := p.Name, "Kafka"
		if conv != nil {
			workload, driver = conv.Workload, conv.Driver
		}
		if err := writeSweepOMB(o.ombJSON, workload, driver, sum); err != nil {
			return err
		}
	}
	finished := len(sum.Lines)
	switch {
	case sum.Interrupted || finished < sum.Points:
		return fmt.Errorf("interrupted with %d of %d points finished; continue with: kbench sweep --resume %s", finished, sum.Points, sum.Dir)
	case countFailed(sum.Lines) > 0:
		return fmt.Errorf("%d of %d points failed (their errors are above and in %s)", countFailed(sum.Lines), sum.Points, filepath.Join(sum.Dir, sweep.ResultsFile))
	}
	return nil
}

// overrides turns --bootstrap and --command-config into profile overrides,
// so the manifest records them and a resume finds them again. A
// bootstrap.servers in the properties file counts as --bootstrap.
func (o *sweepOptions) overrides() ([]string, error) {
	set := append([]string(nil), o.set...)
	bootstrap := o.bootstrap
	if o.commandConfig != "" {
		props, err := readPropertiesFile(o.commandConfig)
		if err != nil {
			return nil, err
		}
		if bootstrap == "" {
			bootstrap = props["bootstrap.servers"]
		}
		abs, err := filepath.Abs(o.commandConfig)
		if err != nil {
			return nil, err
		}
		set = append(set, "target.client_properties="+yamlString(abs))
	}
	if bootstrap != "" {
		set = append(set, "target.bootstrap="+yamlString(bootstrap))
	}
	return set, nil
}

// yamlString quotes s as a YAML string, so any path or address is taken as
// text.
func yamlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// clientProps merges the target's client.properties file and its inline
// properties; bootstrap.servers there is the target's, not a client property.
func clientProps(t profiles.Target) (map[string]string, error) {
	out := map[string]string{}
	if t.ClientProperties != "" {
		props, err := readPropertiesFile(t.ClientProperties)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, props)
	}
	maps.Copy(out, t.Client)
	delete(out, "bootstrap.servers")
	return out, nil
}

func (o *sweepOptions) printer(latency string) sweep.Progress {
	tty := isTerminal(o.stderr)
	switch o.progress {
	case "none":
		return nil
	case "bar":
		tty = true
	case "lines":
		tty = false
	}
	return sweep.NewPrinter(o.stderr, tty, latency)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func countFailed(lines []sweep.Line) int {
	n := 0
	for _, l := range lines {
		if l.Status == sweep.PointFailed {
			n++
		}
	}
	return n
}

// writeSweepTable prints one row per finished point.
func writeSweepTable(w io.Writer, s *sweep.Summary, latency string) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "\npoint\tsettings\trate\trecords/s\t%s p99 ms\te2e p99 ms\tslo\tvalid\n", latency)
	for _, l := range s.Lines {
		if l.Status == sweep.PointFailed {
			fmt.Fprintf(tw, "%s\t%s\tFAILED\t\t\t\t\t\n", l.Point.ID, l.Point.Label)
			continue
		}
		rate := l.Point.Rate.String()
		if st, ok := l.Figures["max_sustainable_rate"]; ok {
			rate = fmt.Sprintf("max %.0f", st.Median)
		}
		slo, valid := "met", "yes"
		if !l.SLO.Pass {
			slo = "missed"
		}
		if !l.Valid {
			valid = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Point.ID, l.Point.Label, rate,
			figure(l, "produce_records_per_sec", "%.0f"), figure(l, latency+"_p99_ms", "%.2f"), figure(l, "e2e_p99_ms", "%.2f"), slo, valid)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nresults: %s\n", filepath.Join(s.Dir, sweep.ResultsFile))
	return err
}

func figure(l sweep.Line, name, format string) string {
	st, ok := l.Figures[name]
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, st.Median)
}

// countSet counts the non-empty strings.
func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}
