package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/verify"
)

type verifyOptions struct {
	// load holds the target flags (--bootstrap, --command-config,
	// --brokers, --data-dir), shared with the load commands.
	load       loadOptions
	workload   string
	nemesis    string
	nemesisCmd []string
	seed       int64
	interval   time.Duration
	duration   time.Duration
	rate       float64
	producers  int
	consumers  int
	commit     string
	stall      time.Duration
	drain      time.Duration
	topic      string
	partitions int32
	rf         int16
	topicCfgs  []string
	pprops     []string
	cprops     []string
	outDir     string
	json       bool
	stdout     io.Writer
}

const verifyLong = `Run a workload against a Kafka cluster while a seeded nemesis injects faults, record every
operation with its outcome to history.jsonl, then check the history for safety anomalies.

Workloads (--workload):
  produce    producers only; after healing, the topic is read back: lost (acknowledged, not
             readable), duplicated (read twice although producers are idempotent; otherwise
             counted as a rate), unavailability
  queue      producers plus a consumer group committing --commit sync|async|auto: lost
             (acknowledged, never delivered to the group), commit-regression (a committed offset
             below an earlier successful commit, seen by a later commit or by an observer reading
             the group's offsets), skip (a consumer starting beyond records nobody consumed),
             order (out of offset order within one assignment); duplicate deliveries are a rate
  txn        consume-transform-produce in transactions (franz-go's GroupTransactSession) with a
             read_committed consumer downstream: aborted-read, missing-committed, eos-duplicate,
             torn-txn (part of a committed transaction visible), stalled-lso (committed records
             invisible for longer than --stall), lost inputs
  isr-timeline, duplicates, rebalance, eos
             named scenarios that print their timeline (see the README)

Nemesis (--nemesis kill,pause,restart,delay,bandwidth,drop-produce,leader,coordinator): every
--interval, starting one interval into the load, one action drawn from the list with --seed,
undone half an interval later; leader kills the current leader of a partition, coordinator the
group coordinator (txn: the transaction coordinator). The same seed gives the same schedule.
When --duration is over, every fault is healed and the run waits for the cluster to recover
before consumers drain and the final read.

Without --bootstrap the embedded cluster (--brokers, default 3) is started and its fault hooks
are used. Against an external cluster each action runs a command of yours with {broker}
replaced by the broker id ({delay}, {bandwidth}, {fraction} for those actions; 0 to undo):
kill and restart (also for leader and coordinator), pause and resume, delay, bandwidth,
drop-produce. An action without its command is an error.

The run directory (--out) holds history.jsonl, result.json and the heal record; 'kbench verify
check HISTORY' checks any history again. Exit status 1 when anomalies are found.`

const verifyExample = `  kbench verify --workload queue --nemesis coordinator --seed 1 --duration 60s
  kbench verify --workload txn --nemesis kill,leader --duration 2m
  kbench verify --bootstrap kafka:9092 --workload queue --nemesis kill \
      --nemesis-cmd kill='ssh kafka-{broker} sudo systemctl kill -s KILL kafka' \
      --nemesis-cmd restart='ssh kafka-{broker} sudo systemctl start kafka'
  kbench verify check runs/20260101-120000-verify-queue/history.jsonl`

func newVerifyCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &verifyOptions{stdout: stdout}
	o.load.stdout, o.load.stderr = stdout, stderr
	cmd := &cobra.Command{
		Use:     "verify",
		Short:   "Check a cluster's safety under faults: lost, skipped, regressed or torn records",
		Long:    verifyLong,
		Example: verifyExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd, o)
		},
	}
	f := cmd.Flags()
	o.load.flags = f
	f.StringVar(&o.load.bootstrap, "bootstrap", "", "external cluster host:port,... (Kafka: bootstrap.servers); default: start the embedded cluster")
	f.StringVar(&o.load.commandConfig, "command-config", "", "client.properties file with connection, security and client properties")
	f.StringVar(&o.load.dataDir, "data-dir", "", "embedded cluster data directory; default: a temporary directory removed afterwards")
	f.IntVar(&o.load.brokers, "brokers", 3, "size of the embedded cluster when there is no --bootstrap (faults need at least 2)")
	f.StringVar(&o.workload, "workload", "queue", "what to run: "+strings.Join(verify.Workloads(), ", "))
	f.StringVar(&o.nemesis, "nemesis", "none", "comma-separated faults to draw from: kill, pause, restart, delay, bandwidth, drop-produce, leader, coordinator; none for no faults")
	f.StringArrayVar(&o.nemesisCmd, "nemesis-cmd", nil, "external cluster: ACTION='COMMAND' with {broker} (and {delay}, {bandwidth}, {fraction}), repeatable; ACTION is one of "+strings.Join(verify.CommandKeys(), ", "))
	f.Int64Var(&o.seed, "seed", 1, "seed of the fault schedule: the same seed replays the same faults")
	f.DurationVar(&o.interval, "interval", 10*time.Second, "time between faults; each fault lasts half of it")
	f.DurationVar(&o.duration, "duration", 60*time.Second, "how long the load and the nemesis run (healing and draining come after)")
	f.Float64Var(&o.rate, "rate", 200, "records/s over all producers (every operation is recorded, so keep it moderate)")
	f.IntVar(&o.producers, "producers", 2, "producer clients writing the topic (each record and its outcome is recorded)")
	f.IntVar(&o.consumers, "consumers", 3, "consumer group members (queue) or transactional workers (txn)")
	f.StringVar(&o.commit, "commit", "sync", "queue: how consumers commit: sync (after each poll, waiting), async (after each poll, not waiting) or auto (enable.auto.commit)")
	f.DurationVar(&o.stall, "stall", 10*time.Second, "txn: committed records invisible to read_committed consumers for longer than this are a stalled LSO")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "after healing, how long consumers may go without progress while catching up before the run gives up")
	f.StringVar(&o.topic, "topic", "", "topic to create (must not exist); default verify-<workload>-<id>")
	f.Int32Var(&o.partitions, "partitions", 6, "partition count (kafka-topics --partitions)")
	f.Int16Var(&o.rf, "replication-factor", 0, "replication factor; 0 = min(3, brokers)")
	f.StringArrayVar(&o.topicCfgs, "topic-config", nil, "topic config key=value, repeatable (kafka-topics --config); min.insync.replicas defaults to 2 with replication factor 3 or more")
	f.StringArrayVar(&o.pprops, "producer-props", nil, "producer properties key=value, repeatable (as kbench produce)")
	f.StringArrayVar(&o.cprops, "consumer-props", nil, "consumer properties key=value, repeatable (group.id and enable.auto.commit are set by verify)")
	f.StringVar(&o.outDir, "out", "", "run directory for history.jsonl and result.json; default runs/<yyyymmdd-hhmmss>-verify-<workload>")
	f.BoolVar(&o.json, "json", false, "print the result as JSON instead of the summary")

	check := &cobra.Command{
		Use:   "check HISTORY",
		Short: "Check a recorded history.jsonl again and print the verdict",
		Long:  "Run the checker on a history written by kbench verify (the checker is a pure function of the\nhistory, so a history can be shared and re-checked). Exit status 1 when anomalies are found.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, err := verify.ReadHistory(args[0])
			if err != nil {
				return err
			}
			res := verify.Check(ops)
			return printVerify(o, &res, ops, args[0])
		},
	}
	check.Flags().BoolVar(&o.json, "json", false, "print the result as JSON instead of the summary")
	cmd.AddCommand(check)
	return cmd
}

// verifyConfig turns the flags into a verify config without a target.
func (o *verifyOptions) config() (verify.Config, error) {
	c := verify.Config{Workload: o.workload, Commit: o.commit, Seed: o.seed, Interval: o.interval, Stall: o.stall, Drain: o.drain}
	var errs []error
	var err error
	if c.Nemesis, err = verify.ParseNemesis(o.nemesis); err != nil {
		errs = append(errs, fmt.Errorf("--nemesis: %w", err))
	}
	if c.Commands, err = verify.ParseCommands(o.nemesisCmd); err != nil {
		errs = append(errs, err)
	}
	rc := bench.RunConfig{Topic: bench.TopicConfig{Name: o.topic, Partitions: o.partitions, ReplicationFactor: o.rf},
		Producers: o.producers, Consumers: o.consumers, Rate: o.rate, Duration: o.duration, Client: map[string]string{}}
	if o.load.commandConfig != "" {
		if rc.Client, err = readPropertiesFile(o.load.commandConfig); err != nil {
			errs = append(errs, err)
		}
	}
	if rc.Producer, err = parseKV("--producer-props", o.pprops); err != nil {
		errs = append(errs, err)
	}
	if rc.Consumer, err = parseKV("--consumer-props", o.cprops); err != nil {
		errs = append(errs, err)
	}
	if rc.Topic.Configs, err = parseKV("--topic-config", o.topicCfgs); err != nil {
		errs = append(errs, err)
	}
	c.Run = rc
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func runVerify(cmd *cobra.Command, o *verifyOptions) (err error) {
	ctx := cmd.Context()
	c, err := o.config()
	if err != nil {
		return err
	}
	external := o.load.bootstrap != "" || c.Run.Client["bootstrap.servers"] != ""
	actions := c.Nemesis
	if sa := verify.ScenarioActions(c.Workload); sa != nil {
		if len(c.Nemesis) > 0 {
			return fmt.Errorf("--nemesis: %w: the %s scenario applies its own faults; leave out --nemesis", verify.ErrNemesis, c.Workload)
		}
		actions = sa
	}
	switch {
	case external && len(actions) > 0:
		if err := verify.CheckCommands(actions, c.Commands); err != nil {
			return fmt.Errorf("--nemesis-cmd: %w", err)
		}
	case !external && len(c.Commands) > 0:
		return fmt.Errorf("--nemesis-cmd: %w: commands are for an external cluster (--bootstrap); the embedded cluster's faults need none", verify.ErrNemesis)
	case !external && len(actions) > 0 && o.load.brokers < 2:
		return fmt.Errorf("--nemesis: %w: faults need the embedded cluster with --brokers 2 or more", verify.ErrNemesis)
	}
	c.Dir = o.outDir
	if c.Dir == "" {
		c.Dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-verify-"+o.workload)
	}
	if !o.json {
		c.Out = o.stdout
	}
	tg, err := o.load.target(ctx, &c.Run)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := tg.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop target: %w", cerr)
		}
	}()
	c.Run.Target = tg
	res, err := verify.Run(ctx, c)
	if res == nil {
		return err
	}
	history := filepath.Join(c.Dir, verify.HistoryFile)
	ops, rerr := verify.ReadHistory(history)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	perr := printVerify(o, res, ops, history)
	if err != nil {
		return err
	}
	return perr
}

// errAnomalies makes the exit status 1 after the summary said why.
var errAnomalies = fmt.Errorf("%w: anomalies found", errSilent)

func printVerify(o *verifyOptions, res *verify.Result, ops []verify.Op, history string) error {
	if o.json {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		verify.WriteTimeline(o.stdout, ops)
		verify.WriteSummary(o.stdout, res, history)
	}
	if !res.Valid {
		return errAnomalies
	}
	return nil
}
