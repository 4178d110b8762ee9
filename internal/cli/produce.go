package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/audit"
	"github.com/kbench/kbench/bench/durability"
	fault "github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/faults/inject"
	"github.com/kbench/kbench/target"
)

// loadOptions backs produce, consume and e2e: one options struct, filled by
// flags, turned into a bench.RunConfig by config().
type loadOptions struct {
	mode          bench.Mode
	cfg           bench.RunConfig
	bootstrap     string
	commandConfig string
	dataDir       string
	brokers       int
	producerProps []string
	consumerProps []string
	topicConfigs  []string
	acks          string
	lingerMs      int
	batchSize     int
	compression   string
	level         int
	idempotence   bool
	group         string
	groupProtocol string
	jsonPath      string
	hlogPath      string
	omb           ombRecorder
	metricsListen string
	backlog       string
	quiet         bool
	faults        []string
	audit         bool
	outDir        string
	agents        agentFlags
	flags         *pflag.FlagSet
	version       string
	stdout        io.Writer
	stderr        io.Writer
}

func newProduceCmd(stdout, stderr io.Writer) *cobra.Command {
	return newLoadCmd(bench.ModeProduce, stdout, stderr)
}

// loadDocs holds what differs between the three load commands.
func loadDocs(mode bench.Mode) (short, long, example string) {
	const target = `Without --bootstrap (or bootstrap.servers in --command-config) the embedded kbench cluster is
started in a temporary directory and shut down afterwards: --brokers (default 3) broker
processes with real replication, or one broker in this process with --brokers 1. With
--bootstrap nothing is started.`
	const measure = `Service time runs from the actual send (the Produce call) to the acknowledgement; response
time from the intended send time of the open-loop --rate schedule to the acknowledgement, so a
stall shows in it even when few records were outstanding (coordinated omission).`
	const durable = `--fault schedules faults after the warmup (kill, stop, pause, resume or restart a broker,
kill a partition's current leader, delay or cap a broker's replication, drop produce responses:
these need the embedded cluster; exec runs a command against any target). When the load ends
every fault is healed and the cluster settles. --audit then reads the topic back and reports
what was acknowledged but lost, what was duplicated, and each partition's longest wait without
an acknowledgement; files go to --out.`
	const verdict = `A run is INVALID when the achieved rate is below 99 % of --rate, the generator's CPU was
saturated, any record failed, or it was interrupted; the summary says why. Ctrl-C ends the run
early and still prints and writes the summary.`
	switch mode {
	case bench.ModeConsume:
		return "Measure consumer throughput and lag",
			"Consume the topic from the start (or --num-records of it) and report records/s, MiB/s and\nthe consumer lag at the end. --prefill writes records first.\n\n" + target + "\n\n" + verdict +
				"\n\nConsumer properties (--consumer-props, --command-config):\n" + propertyHelp(bench.RoleConsumer),
			`  kbench consume --prefill 1000000 --record-size 1KiB
  kbench consume --bootstrap kafka:9092 --topic clicks --num-records 5000000 --consumer-props fetch.min.bytes=65536`
	case bench.ModeE2E:
		return "Produce and consume together and measure end-to-end latency",
			"Run producers and consumers together. Each record carries its intended send time; consumers\nin this process report end-to-end latency (intended send to consumed) beside service and\nresponse time.\n\n" + measure + "\n\n" + target + "\n\n" + durable + "\n\n" + backlogHelp + "\n\n" + verdict +
				"\n\nProducer properties (--producer-props, --command-config):\n" + propertyHelp(bench.RoleProducer) +
				"\nConsumer properties (--consumer-props, --command-config):\n" + propertyHelp(bench.RoleConsumer),
			`  kbench e2e --rate 20000 --duration 30s --record-size 1KiB
  kbench e2e --rate 50000 --partitions 12 --producers 2 --consumers 3 --compression zstd --linger-ms 10
  kbench e2e --rate 50000 --backlog 1GiB --drain-ratio 1.0 --duration 10m`
	}
	return "Measure producer throughput and latency on an open-loop schedule",
		"Produce records at --rate records/s (0 = as fast as possible) for --warmup plus --duration\nand report throughput, errors by Kafka error code, compression ratio, generator CPU and\nservice/response-time percentiles, with a line per --interval like kafka-producer-perf-test.\n\n" + measure + "\n\n" + target + "\n\n" + durable + "\n\n" + verdict +
			"\n\nProducer properties (--producer-props, --command-config; Apache Kafka's defaults apply):\n" + propertyHelp(bench.RoleProducer),
		`  kbench produce --rate 20000 --duration 10s
  kbench produce --bootstrap kafka:9092 --command-config client.properties --topic bench --acks all --compression zstd
  kbench produce --payload json --record-size 1KiB --keys zipf:10000:1.2 --producer-props linger.ms=20 --producer-props batch.size=131072
  kbench produce --rate 5000 --duration 20s --replication-factor 3 --topic-config min.insync.replicas=2 --fault 5s:kill-leader:0 --audit`
}

// workloadFlags registers the flags that say what records look like, with
// w's fields as defaults: every command that makes records (produce, e2e,
// consume --prefill, codecs) takes the same flags with the same meaning.
// poolDefault says what sizes the default payload pool.
func workloadFlags(f *pflag.FlagSet, w *bench.Workload, poolDefault string) {
	f.StringVar(&w.RecordSize, "record-size", w.RecordSize, "record value size: N (bytes, or with a unit: 512, 1KiB, 1MB), uniform:MIN:MAX or normal:MEAN:STDDEV (kafka-producer-perf-test --record-size)")
	f.StringVar(&w.Keys, "keys", w.Keys, "record keys: none, round-robin (a new key per record), round-robin:N, uniform:N, or zipf:N:S (S > 1, hot keys)")
	f.StringVar(&w.Payload, "payload", w.Payload, "record values: random, json (clickstream events: session_id, user, url, timestamps), file:PATH (lines sampled), or blob:PATH (the whole file is every value)")
	f.Float64Var(&w.Compressibility, "compressibility", w.Compressibility, "share (0..1) of each random value that is repeated text: about 1/(1-share):1 with a good codec")
	f.Uint64Var(&w.Seed, "seed", w.Seed, "seed of payloads and keys; 0 = random (the result records it)")
	f.StringVar(&w.PayloadPool, "payload-pool", w.PayloadPool, "random values are sampled from a pool of this many pre-generated bytes, like 64MiB (default: "+poolDefault+", at least 1MiB, so a codec finds no more to repeat than in fresh values); 0 generates every value afresh, at more CPU per record")
}

func newLoadCmd(mode bench.Mode, stdout, stderr io.Writer) *cobra.Command {
	cmd, _ := newLoadCommand(mode, stdout, stderr)
	return cmd
}

// newLoadCommand also returns the options the flags fill, for tests.
func newLoadCommand(mode bench.Mode, stdout, stderr io.Writer) (*cobra.Command, *loadOptions) {
	o := &loadOptions{mode: mode, stdout: stdout, stderr: stderr}
	short, long, example := loadDocs(mode)
	cmd := &cobra.Command{
		Use:     string(mode),
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.version = cmd.Root().Version
			return runLoad(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	o.flags = f
	c := &o.cfg
	produces, consumes := mode != bench.ModeConsume, mode != bench.ModeProduce

	f.StringVar(&o.bootstrap, "bootstrap", "", "external cluster host:port,... (Kafka: bootstrap.servers); default: start the embedded broker")
	f.StringVar(&o.commandConfig, "command-config", "", "client.properties file with connection, security and client properties (as kafka-producer-perf-test --command-config)")
	f.StringVar(&o.dataDir, "data-dir", "", "embedded broker data directory (Kafka: log.dirs); default: a temporary directory removed afterwards")
	f.IntVar(&o.brokers, "brokers", 3, "size of the embedded cluster when there is no --bootstrap: 1 runs one broker in this process, N > 1 runs N broker processes with real replication")

	f.StringVar(&c.Topic.Name, "topic", "kbench", "topic to use, created if missing")
	f.Int32Var(&c.Topic.Partitions, "partitions", 0, fmt.Sprintf("partition count (kafka-topics --partitions); an existing topic must match; 0 = any, create with %d", bench.DefaultPartitions))
	f.Int16Var(&c.Topic.ReplicationFactor, "replication-factor", 0, "replication factor (kafka-topics --replication-factor); 0 = the broker default")
	f.StringArrayVar(&o.topicConfigs, "topic-config", nil, "topic config key=value, repeatable (kafka-topics --config), e.g. min.insync.replicas=2")
	f.BoolVar(&c.Topic.Recreate, "recreate", false, "delete and recreate the topic first")

	if produces || mode == bench.ModeConsume {
		what := "producer properties key=value, repeatable (kafka-producer-perf-test --producer-props); see the list above"
		if mode == bench.ModeConsume {
			what = "producer properties key=value for --prefill, repeatable"
		}
		f.StringArrayVar(&o.producerProps, "producer-props", nil, what)
	}
	if produces {
		f.StringVar(&o.acks, "acks", "all", "acknowledgements: 0, 1 or all (Kafka: acks)")
		f.IntVar(&o.lingerMs, "linger-ms", 5, "how long a batch waits for more records (Kafka: linger.ms)")
		f.IntVar(&o.batchSize, "batch-size", 16384, "max bytes of a partition's record batch (Kafka: batch.size)")
		f.StringVar(&o.compression, "compression", "none", "none, gzip, snappy, lz4 or zstd (Kafka: compression.type)")
		f.IntVar(&o.level, "compression-level", 0, "codec level (Kafka: compression.gzip.level, compression.lz4.level or compression.zstd.level); 0 = the codec default")
		f.BoolVar(&o.idempotence, "idempotence", true, "idempotent producer; needs acks=all (Kafka: enable.idempotence)")
		f.IntVar(&c.Producers, "producers", 1, "producer clients sharing --rate")
		f.Float64Var(&c.Rate, "rate", 0, "total records/s over all producers on an open-loop schedule; 0 = as fast as possible (kafka-producer-perf-test --throughput)")
	}
	if consumes {
		f.StringArrayVar(&o.consumerProps, "consumer-props", nil, "consumer properties key=value, repeatable; see the list above")
		f.StringVar(&o.group, "group", "", "consume through this consumer group (Kafka: group.id); default: assign partitions directly")
		f.StringVar(&o.groupProtocol, "group-protocol", bench.GroupProtocols[0], groupProtocolHelp)
		f.IntVar(&c.Consumers, "consumers", 1, "consumer clients; without a group each gets every n-th partition")
	}
	if mode == bench.ModeConsume {
		f.Int64Var(&c.Prefill, "prefill", 0, "produce this many records (as fast as possible, not measured) before consuming")
	}
	c.Workload = bench.Workload{RecordSize: "1024", Keys: "none", Payload: "random"}
	workloadFlags(f, &c.Workload, "64 x batch.size")

	f.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time after the warmup")
	f.DurationVar(&c.Warmup, "warmup", 5*time.Second, "time before the measurement starts; nothing sent in it is measured")
	f.Int64Var(&c.NumRecords, "num-records", 0, "stop after this many records, warmup included; 0 = no limit (kafka-producer-perf-test --num-records)")
	f.DurationVar(&c.Interval, "interval", 5*time.Second, "time between progress lines (kafka-producer-perf-test --reporting-interval)")
	if consumes {
		f.DurationVar(&c.DrainTimeout, "drain-timeout", 10*time.Second, "how long consumers may catch up after producing stops")
	}
	if mode == bench.ModeE2E {
		backlogFlags(f, o)
	}
	f.StringVar(&o.jsonPath, "json", "", "write every figure, the settings and a manifest to this JSON file")
	f.StringVar(&o.hlogPath, "hlog", "", "write interval histograms (ns; tags service, response, e2e) to this HdrHistogram log file")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines, only the summary")
	o.agents.register(f)
	f.StringVar(&o.metricsListen, "metrics-listen", "", metricsListenHelp)
	if produces {
		f.StringVar(&o.omb.path, "omb-json", "", "also write the results in OpenMessaging Benchmark's result JSON (publishRate, consumeRate, backlog, publish and end-to-end latency per interval and aggregated, milliseconds)")
		f.StringArrayVar(&o.faults, "fault", nil, "timed fault AT:ACTION[:ARGS], AT after the warmup, repeatable: 10s:kill-leader:0, 5s:kill:2, 5s:stop:2, 5s:pause:2, 8s:resume:2, 12s:restart:2, 3s:delay:3:200ms, 3s:bandwidth:3:1MiB, 1s:drop-produce:0.1, 2s:kill-leaders-on:1 (the broker leading most partitions) need the embedded cluster; 5s:exec:CMD runs CMD with sh -c against any target. Everything is healed when the load ends")
		f.BoolVar(&o.audit, "audit", false, "durability audit: give every record a unique id, read the topic back after the run (and after healing faults) and report records acknowledged but lost, duplicated, and each partition's longest wait without an acknowledgement")
		f.StringVar(&o.outDir, "out", "", "directory for the audit report (audit.json), the lost ids (audit-lost.tsv), the fault record (faults.json) and exec output; default runs/<yyyymmdd-hhmmss>-"+string(mode))
	}
	return cmd, o
}

// config turns the flags into a run config (without its target).
func (o *loadOptions) config() (bench.RunConfig, error) {
	cfg := o.cfg
	cfg.Mode = o.mode
	cfg.Version = o.version
	var err error
	cfg.Client = map[string]string{}
	if o.commandConfig != "" {
		if cfg.Client, err = readPropertiesFile(o.commandConfig); err != nil {
			return cfg, err
		}
	}
	if cfg.Producer, err = parseKV("--producer-props", o.producerProps); err != nil {
		return cfg, err
	}
	if cfg.Consumer, err = parseKV("--consumer-props", o.consumerProps); err != nil {
		return cfg, err
	}
	if cfg.Topic.Configs, err = parseKV("--topic-config", o.topicConfigs); err != nil {
		return cfg, err
	}
	if len(cfg.Topic.Configs) == 0 {
		cfg.Topic.Configs = nil
	}
	if err := o.applyFlagProps(cfg.Producer, cfg.Consumer); err != nil {
		return cfg, err
	}
	if err := o.applyBacklog(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyFlagProps moves the property-shaped flags into the property maps.
// A flag left at its default does not override a property given otherwise;
// a flag given explicitly must agree with the same property in --*-props.
func (o *loadOptions) applyFlagProps(producer, consumer map[string]string) error {
	set := func(props map[string]string, flag, key, val string) error {
		if !o.flags.Changed(flag) {
			return nil
		}
		if old, ok := props[key]; ok && old != val {
			return fmt.Errorf("--%s %s conflicts with the property %s=%s", flag, val, key, old)
		}
		props[key] = val
		return nil
	}
	codec := o.compression
	if !o.flags.Changed("compression") {
		codec = cmp.Or(producer["compression.type"], o.compression)
	}
	errs := []error{
		set(producer, "acks", "acks", o.acks),
		set(producer, "linger-ms", "linger.ms", strconv.Itoa(o.lingerMs)),
		set(producer, "batch-size", "batch.size", strconv.Itoa(o.batchSize)),
		set(producer, "compression", "compression.type", o.compression),
		set(producer, "idempotence", "enable.idempotence", strconv.FormatBool(o.idempotence)),
		set(consumer, "group", "group.id", o.group),
	}
	if o.flags.Changed("group-protocol") {
		if err := checkGroupProtocol(o.groupProtocol); err != nil {
			return err
		}
		errs = append(errs, set(consumer, "group-protocol", "group.protocol", o.groupProtocol))
	}
	if o.flags.Changed("compression-level") {
		switch codec = strings.ToLower(codec); codec {
		case "gzip", "lz4", "zstd":
			errs = append(errs, set(producer, "compression-level", "compression."+codec+".level", strconv.Itoa(o.level)))
		default:
			errs = append(errs, fmt.Errorf("--compression-level needs --compression gzip, lz4 or zstd, not %s", codec))
		}
	}
	return errors.Join(errs...)
}

// target picks the external cluster or starts the embedded broker.
func (o *loadOptions) target(ctx context.Context, cfg *bench.RunConfig) (bench.Target, error) {
	bootstrap := o.bootstrap
	if fromFile, ok := cfg.Client["bootstrap.servers"]; ok {
		if bootstrap == "" {
			bootstrap = fromFile
		}
		delete(cfg.Client, "bootstrap.servers")
	}
	if bootstrap != "" {
		if o.dataDir != "" {
			return nil, errors.New("--data-dir is for the embedded broker; it makes no sense with --bootstrap")
		}
		if o.flags.Changed("brokers") {
			return nil, errors.New("--brokers sizes the embedded cluster; it makes no sense with --bootstrap")
		}
	} else if o.brokers < 1 {
		return nil, fmt.Errorf("--brokers %d: want at least 1", o.brokers)
	}
	opts := target.Options{Bootstrap: bootstrap}
	if bootstrap == "" {
		opts.Brokers, opts.Dir = o.brokers, o.dataDir
	}
	tg, err := target.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	return tg, nil
}

func runLoad(ctx context.Context, o *loadOptions) (err error) {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	sched, err := fault.ParseFlags(o.faults)
	if err != nil {
		return fmt.Errorf("--fault: %w", err)
	}
	run, leave, err := o.agents.runner(ctx, cmp.Or(o.bootstrap, cfg.Client["bootstrap.servers"]), cfg.Client, o.stderr)
	if err != nil {
		return err
	}
	defer leave()
	tg, err := o.target(ctx, &cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := tg.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop target: %w", cerr)
		}
	}()
	cfg.Target = tg
	// Before the audit reads the settings, so errors read as the run's.
	if err := cfg.Validate(); err != nil {
		return err
	}
	d, err := o.durability(&cfg, sched)
	if err != nil {
		return err
	}

	var sinks bench.Sinks
	if !o.quiet {
		sinks = append(sinks, bench.LineSink{W: o.stdout})
	}
	if o.hlogPath != "" {
		f, err := os.Create(o.hlogPath)
		if err != nil {
			return fmt.Errorf("--hlog: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("--hlog: %w", cerr)
			}
		}()
		sinks = append(sinks, bench.NewHlogSink(f))
	}
	if s := o.omb.sink(); s != nil {
		sinks = append(sinks, s)
	}
	metricsCtx, stopMetrics := context.WithCancel(ctx)
	defer stopMetrics()
	exp, err := startLiveMetrics(metricsCtx, o.metricsListen, string(o.mode)+"-"+time.Now().Format("20060102-150405"), o.stdout)
	if err != nil {
		return errors.Join(err, healAndPrint(ctx, d, io.Discard))
	}
	if s := liveSink(exp); s != nil {
		sinks = append(sinks, s)
	}
	res, runErr := run(ctx, cfg, sinks)
	if res == nil {
		return errors.Join(runErr, healAndPrint(ctx, d, o.stdout))
	}
	if err := bench.WriteSummary(o.stdout, res); err != nil {
		return errors.Join(err, healAndPrint(ctx, d, io.Discard))
	}
	if o.jsonPath != "" {
		if err := res.WriteJSON(o.jsonPath); err != nil {
			return errors.Join(fmt.Errorf("--json: %w", err), healAndPrint(ctx, d, io.Discard))
		}
	}
	if err := o.omb.write(res, ombMeta("kbench "+string(o.mode), cfg, res)); err != nil {
		return errors.Join(err, healAndPrint(ctx, d, io.Discard))
	}
	// The audit reads a healed, settled cluster.
	if err := healAndPrint(ctx, d, o.stdout); err != nil {
		return errors.Join(runErr, err)
	}
	return errors.Join(runErr, checkAndPrint(ctx, d, o.stdout))
}

// durability starts the run's durability session (faults and audit) when
// asked for; its files go to --out.
func (o *loadOptions) durability(cfg *bench.RunConfig, sched fault.Schedule) (*durability.Session, error) {
	opts := durability.Options{Faults: sched, Audit: o.audit}
	if len(sched) > 0 || o.audit {
		opts.Dir = o.outDir
		if opts.Dir == "" {
			opts.Dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-"+string(o.mode))
		}
	}
	s, err := durability.Start(cfg, opts)
	if fe := (*durability.FaultsError)(nil); errors.As(err, &fe) {
		return nil, fmt.Errorf("--fault: %w", fe.Err)
	}
	return s, err
}

// heal undoes the faults and waits for the cluster to settle, even after
// Ctrl-C (the runner bounds it), and prints what happened.
func healAndPrint(ctx context.Context, d *durability.Session, w io.Writer) error {
	rep, err := d.Heal(ctx)
	if rep == nil {
		return err
	}
	fmt.Fprintln(w, "faults (times after the warmup):")
	for _, ev := range rep.Events {
		switch {
		case ev.Skipped:
			fmt.Fprintf(w, "  %s: not run, the load had ended\n", ev.Action)
		default:
			line := fmt.Sprintf("  %s: at %.2fs, took %.2fs", ev.Action, float64(ev.Started), float64(ev.Took))
			if ev.Note != "" {
				line += "; " + ev.Note
			}
			if ev.Action.Kind == fault.Exec && ev.Output != "" {
				line += "; output in " + filepath.Join(d.Dir(), ev.Output)
			}
			if ev.Err != "" {
				line += "; ERROR " + ev.Err
			}
			fmt.Fprintln(w, line)
		}
	}
	h := rep.Heal
	switch {
	case h.Note != "":
		fmt.Fprintf(w, "  healed: %s\n", h.Note)
	case h.Healthy:
		did := "nothing to undo"
		if len(h.Actions) > 0 {
			did = strings.Join(h.Actions, ", ")
		}
		fmt.Fprintf(w, "  healed at %.2fs (%s); cluster healthy %.2fs later\n", float64(h.Started), did, float64(h.Settled))
	default:
		fmt.Fprintf(w, "  heal FAILED: %s\n", h.Err)
	}
	fmt.Fprintf(w, "  record: %s\n", filepath.Join(d.Dir(), inject.ReportFile))
	return err
}

// checkAndPrint runs the audit and prints its report.
func checkAndPrint(ctx context.Context, d *durability.Session, w io.Writer) error {
	if !d.Audits() {
		return nil
	}
	if ctx.Err() != nil {
		fmt.Fprintln(w, "durability audit skipped: the run was interrupted")
		return nil
	}
	rep, err := d.Check(ctx)
	if rep != nil {
		fmt.Fprint(w, rep.Summary())
		fmt.Fprintf(w, "  report: %s, lost ids: %s\n", filepath.Join(d.Dir(), audit.ReportFile), filepath.Join(d.Dir(), audit.LostFile))
	}
	return err
}
