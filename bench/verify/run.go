package verify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults/inject"
)

// ResultFile is the checker's result inside the run directory.
const ResultFile = "result.json"

// Workloads lists the --workload values: the three checked workloads and
// the named scenarios built on them.
func Workloads() []string {
	return []string{"produce", "queue", "txn", "isr-timeline", "duplicates", "rebalance", "eos"}
}

// Commit modes of the queue workload's consumers.
var commitModes = []string{"sync", "async", "auto"}

// Config is one verify run.
type Config struct {
	Workload string
	// Run supplies the target, the client properties (Client, Producer,
	// Consumer), the topic (name, partitions, replication factor,
	// configs), Producers, Consumers, Rate (records/s over all producers)
	// and Duration.
	Run bench.RunConfig
	// Commit is how queue consumers commit: sync, async or auto.
	Commit string
	// Nemesis, Seed and Interval make the fault schedule; Commands map
	// actions to commands for an external cluster.
	Nemesis  []Action
	Commands map[string]string
	Seed     int64
	Interval time.Duration
	// Stall is the txn workload's stalled-LSO threshold.
	Stall time.Duration
	// Drain bounds how long consumers may go without progress while they
	// catch up after the faults are healed; default 30s.
	Drain time.Duration
	// Pause is how long a scenario lets the load run between its steps
	// (so each state shows in the timeline); default 3s.
	Pause time.Duration
	// Dir is the run directory (created).
	Dir string
	// Out receives progress and scenario timelines; default discards.
	Out io.Writer
}

// Validate checks what can be checked before anything connects.
func (c *Config) Validate() error {
	var errs []error
	if !slices.Contains(Workloads(), c.Workload) {
		errs = append(errs, fmt.Errorf("workload %q: want one of %s", c.Workload, strings.Join(Workloads(), ", ")))
	}
	if !slices.Contains(commitModes, c.Commit) {
		errs = append(errs, fmt.Errorf("commit %q: want sync, async or auto", c.Commit))
	}
	if c.Run.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %s: want more than 0", c.Run.Duration))
	}
	if c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("interval %s: want at least 1s (a fault lasts half of it)", c.Interval))
	}
	if c.Run.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate %v: want more than 0 records/s (every record is recorded)", c.Run.Rate))
	}
	if c.Run.Producers < 1 || c.Run.Consumers < 1 {
		errs = append(errs, fmt.Errorf("producers %d, consumers %d: want at least 1", c.Run.Producers, c.Run.Consumers))
	}
	if c.Stall <= 0 {
		errs = append(errs, fmt.Errorf("stall %s: want more than 0", c.Stall))
	}
	return errors.Join(errs...)
}

// env is what a running workload shares.
type env struct {
	cfg   *Config
	rec   *Recorder
	cl    *kgo.Client // admin and metadata
	adm   *kadm.Client
	out   io.Writer
	topic string
	parts int32
	group string
	runID string
	// workload is the checked workload (produce, queue or txn).
	workload string
	// producer and consumer client options (properties applied).
	popts, copts []kgo.Opt
	// ropts are consumer options without a group (read-backs, downstream).
	ropts      []kgo.Opt
	idempotent bool
	// abortTxn makes the first transactional worker abort its abortTxn-th
	// transaction on purpose (the eos scenario); 0: never.
	abortTxn int
	// cuttable gives each group member a dialer a scenario can cut.
	cuttable bool
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.out, "[%6.2fs] %s\n", e.rec.Now(), fmt.Sprintf(format, args...))
}

// Run runs the workload under the nemesis, heals, drains, records the
// history in cfg.Dir and checks it.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Drain = cmp.Or(cfg.Drain, 30*time.Second)
	cfg.Pause = cmp.Or(cfg.Pause, 3*time.Second)
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	workload := cfg.Workload
	sc := scenarios()[cfg.Workload]
	if sc != nil {
		if len(cfg.Nemesis) > 0 {
			return nil, fmt.Errorf("%w: the %s scenario applies its own faults; leave out --nemesis", ErrNemesis, sc.name)
		}
		workload = sc.workload
		sc.setup(&cfg)
	}
	e, err := newEnv(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer e.cl.Close()
	e.workload = workload
	if err := e.createTopics(ctx, workload); err != nil {
		return nil, err
	}

	sched, ex, err := e.nemesis(ctx, sc)
	if err != nil {
		return nil, err
	}
	meta := Meta{Workload: workload, Topic: e.topic, Partitions: e.parts, Group: e.group, Idempotent: e.idempotent,
		Seed: cfg.Seed, Nemesis: nemesisString(cfg.Nemesis), Target: cfg.Run.Target.Describe()}
	if sc != nil {
		meta.Scenario = sc.name
	}
	if workload == "txn" {
		meta.Output, meta.StallS = e.topic+"-out", cfg.Stall.Seconds()
	}
	path := filepath.Join(cfg.Dir, HistoryFile)
	if e.rec, err = NewRecorder(path, meta); err != nil {
		return nil, err
	}
	runErr := e.run(ctx, workload, sc, sched, ex)
	if err := e.rec.Close(); err != nil {
		return nil, errors.Join(runErr, err)
	}
	ops, err := ReadHistory(path)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	res := Check(ops)
	b, err := json.MarshalIndent(res, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(cfg.Dir, ResultFile), append(b, '\n'), 0o644)
	}
	return &res, errors.Join(runErr, err)
}

func nemesisString(as []Action) string {
	if len(as) == 0 {
		return "none"
	}
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}

func newEnv(ctx context.Context, cfg *Config) (*env, error) {
	rc := cfg.Run
	e := &env{cfg: cfg, out: cfg.Out, runID: strconv.FormatInt(time.Now().UnixMilli()%1e9, 36)}
	e.topic = cmp.Or(rc.Topic.Name, "verify-"+cfg.Workload+"-"+e.runID)
	e.group = e.topic + "-group"
	// Defaults that keep a checked run short and strict; the user's
	// properties win.
	producer := map[string]string{"delivery.timeout.ms": "30000", "request.timeout.ms": "10000"}
	maps.Copy(producer, rc.Producer)
	consumer := map[string]string{
		"auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "500",
		"auto.commit.interval.ms": "1000", "max.poll.interval.ms": "20000",
	}
	maps.Copy(consumer, rc.Consumer)
	rc.Producer, rc.Consumer = producer, consumer
	rc.Consumer["group.id"] = e.group
	// Transactional workers commit offsets in their transactions.
	rc.Consumer["enable.auto.commit"] = strconv.FormatBool(cfg.Commit == "auto" && cfg.Workload != "txn" && cfg.Workload != "eos")
	eff, err := rc.EffectiveProducer()
	if err != nil {
		return nil, err
	}
	e.idempotent = eff["enable.idempotence"] == "true"
	if e.popts, err = rc.ClientOptions(bench.RoleProducer); err != nil {
		return nil, err
	}
	if e.copts, err = rc.ClientOptions(bench.RoleConsumer); err != nil {
		return nil, err
	}
	reader := rc
	reader.Consumer = maps.Clone(rc.Consumer)
	delete(reader.Consumer, "group.id")
	if e.ropts, err = reader.ClientOptions(bench.RoleConsumer); err != nil {
		return nil, err
	}
	conn, err := rc.ConnOptions()
	if err != nil {
		return nil, err
	}
	if e.cl, err = kgo.NewClient(conn...); err != nil {
		return nil, err
	}
	e.adm = kadm.NewClient(e.cl)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := e.adm.BrokerMetadata(cctx); err != nil {
		e.cl.Close()
		return nil, fmt.Errorf("cannot reach the cluster at %v: %w", rc.Target.Bootstrap(), err)
	}
	cfg.Run = rc
	return e, nil
}

// createTopics creates the run's topic (and the pipeline's output topic)
// and waits for their leaders.
func (e *env) createTopics(ctx context.Context, workload string) error {
	tc := e.cfg.Run.Topic
	e.parts = cmp.Or(tc.Partitions, 6)
	m, err := e.adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	rf := tc.ReplicationFactor
	if rf == 0 {
		// Metadata may not list every broker of a cluster that just
		// started; an embedded cluster knows its size.
		brokers := len(m.Brokers)
		if c := inject.ClusterOf(e.cfg.Run.Target); c != nil {
			brokers = max(brokers, len(c.Brokers()))
		}
		rf = int16(min(3, brokers))
	}
	configs := map[string]*string{}
	for k, v := range tc.Configs {
		configs[k] = &v
	}
	if _, ok := configs["min.insync.replicas"]; !ok && rf >= 3 {
		two := "2"
		configs["min.insync.replicas"] = &two
	}
	if v, ok := configs["min.insync.replicas"]; ok && e.cfg.Run.Producer["acks"] != "1" && e.cfg.Run.Producer["acks"] != "0" {
		if n, err := strconv.Atoi(*v); err == nil && n > int(rf) {
			return fmt.Errorf("min.insync.replicas %d is more than the replication factor %d: every acks=all produce would fail; lower it or raise the replication factor", n, rf)
		}
	}
	topics := []string{e.topic}
	if workload == "txn" {
		topics = append(topics, e.topic+"-out")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, t := range topics {
		r, err := e.adm.CreateTopic(cctx, e.parts, rf, configs, t)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			return fmt.Errorf("create topic %s (%d partitions, replication factor %d): %w", t, e.parts, rf, err)
		}
	}
	return e.waitLeaders(cctx, topics...)
}

// waitLeaders polls metadata until every partition of topics has a leader.
func (e *env) waitLeaders(ctx context.Context, topics ...string) error {
	for {
		m, err := e.adm.Metadata(ctx, topics...)
		if err == nil {
			ok := len(m.Topics) == len(topics)
			for _, t := range m.Topics {
				ok = ok && t.Err == nil && len(t.Partitions) > 0
				for _, p := range t.Partitions {
					ok = ok && p.Err == nil && p.Leader >= 0
				}
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for leaders of %v: %w", topics, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nemesis builds the schedule and the executor for the target.
func (e *env) nemesis(ctx context.Context, sc *scenario) ([]Step, executor, error) {
	m, err := e.adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, nil, err
	}
	ids := m.Brokers.NodeIDs()
	slices.Sort(ids)
	sched := Schedule(e.cfg.Seed, e.cfg.Nemesis, ids, e.parts, e.cfg.Interval, e.cfg.Run.Duration)
	if c := inject.ClusterOf(e.cfg.Run.Target); c != nil {
		if len(e.cfg.Commands) > 0 {
			return nil, nil, fmt.Errorf("%w: --nemesis-cmd is for external clusters; the embedded cluster's faults need no commands", ErrNemesis)
		}
		return sched, &embeddedExec{c: c, dir: e.cfg.Dir, timeout: 60 * time.Second}, nil
	}
	actions := e.cfg.Nemesis
	if sc != nil {
		actions = sc.actions
	}
	if len(actions) > 0 {
		if len(ids) < 2 {
			return nil, nil, fmt.Errorf("%w: the cluster has %d broker: faults need at least 2", ErrNemesis, len(ids))
		}
		if err := CheckCommands(actions, e.cfg.Commands); err != nil {
			return nil, nil, err
		}
	}
	return sched, &commandExec{cmds: e.cfg.Commands, dir: e.cfg.Dir, pending: map[int32]Step{}, recovered: e.recovered}, nil
}

// recovered waits until every partition of the run's topic has a leader
// again, bounded by a minute.
func (e *env) recovered(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return e.waitLeaders(ctx, e.topic)
}

// resolve finds the broker a step acts on.
func (e *env) resolve(ctx context.Context, s Step) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch s.Action {
	case Leader:
		m, err := e.adm.Metadata(ctx, e.topic)
		if err != nil {
			return 0, err
		}
		p, ok := m.Topics[e.topic].Partitions[s.Partition]
		if !ok || p.Leader < 0 {
			return 0, fmt.Errorf("partition %d of %s has no leader", s.Partition, e.topic)
		}
		return p.Leader, nil
	case Coordinator:
		// The pipeline's transactions matter more than its group.
		key, find := e.group, e.adm.FindGroupCoordinators
		if e.workload == "txn" {
			key, find = txnID(e.topic, 0), e.adm.FindTxnCoordinators
		}
		r, ok := find(ctx, key)[key]
		if !ok {
			return 0, errors.New("no coordinator answer")
		}
		if r.Err != nil {
			return 0, fmt.Errorf("find the coordinator of %s: %w", key, r.Err)
		}
		return r.NodeID, nil
	}
	return s.Broker, nil
}

// runNemesis applies the schedule until stop is closed, one step at a time.
func (e *env) runNemesis(ctx context.Context, start time.Time, sched []Step, ex executor, stop <-chan struct{}) {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(time.Until(start.Add(d)))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	for _, s := range sched {
		if !wait(s.At) {
			return
		}
		b, err := e.resolve(ctx, s)
		if err != nil {
			e.rec.Record(Op{Type: TFaultStart, Proc: "nemesis", Fault: s.Name(), Err: err.Error()})
			e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: s.Name()})
			e.logf("fault %s: not applied: %v", s.Name(), err)
			continue
		}
		note, err := ex.apply(ctx, s, b)
		op := Op{Type: TFaultStart, Proc: "nemesis", Fault: s.Name(), Brokers: []int32{b}, Note: note}
		if err != nil {
			op.Err = err.Error()
		}
		e.rec.Record(op)
		e.logf("fault %s: broker %d %s", s.Name(), b, op.Err)
		healed := wait(s.Heal)
		if s.Action == Restart {
			e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: s.Name(), Brokers: []int32{b}})
			if !healed {
				return
			}
			continue
		}
		if !healed {
			return // healAll undoes it
		}
		op = Op{Type: TFaultStop, Proc: "nemesis", Fault: s.Name(), Brokers: []int32{b}}
		if err := ex.undo(ctx, s, b); err != nil {
			op.Err = err.Error()
		}
		e.rec.Record(op)
		e.logf("healed %s %s", s.Name(), op.Err)
	}
}

// load is a running workload.
type load interface {
	// stopProducing stops the producers and waits for their outstanding
	// records.
	stopProducing()
	// drain lets consumers catch up with everything written, then stops
	// them and records what the checker needs at the end.
	drain(ctx context.Context) error
}

func (e *env) run(ctx context.Context, workload string, sc *scenario, sched []Step, ex executor) error {
	var (
		l   load
		err error
	)
	e.rec.Record(Op{Type: TPhase, Note: PhaseLoadStart})
	start := time.Now()
	switch {
	case sc != nil && sc.start != nil:
		l, err = sc.start(ctx, e)
	case workload == "produce":
		l, err = e.startProduce(ctx)
	case workload == "queue":
		l, err = e.startQueue(ctx)
	case workload == "txn":
		l, err = e.startTxn(ctx)
	}
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	over := make(chan struct{}) // the scenario finished early
	var wg sync.WaitGroup
	wg.Add(1)
	if sc != nil {
		e.logf("scenario %s on %s (%d partitions)", sc.name, e.topic, e.parts)
		go func() {
			defer wg.Done()
			if sc.drive == nil {
				<-stop
				return
			}
			defer close(over)
			sc.drive(ctx, e, l, ex, stop)
		}()
	} else {
		e.logf("%s workload on %s (%d partitions), nemesis %s, seed %d, %d fault(s) planned", e.cfg.Workload, e.topic, e.parts, nemesisString(e.cfg.Nemesis), e.cfg.Seed, len(sched))
		go func() {
			defer wg.Done()
			e.runNemesis(ctx, start, sched, ex, stop)
		}()
	}
	select {
	case <-time.After(e.cfg.Run.Duration):
	case <-over:
	case <-ctx.Done():
	}
	close(stop)
	wg.Wait()
	e.rec.Record(Op{Type: TPhase, Note: PhaseLoadEnd})
	e.logf("load ended: healing every fault")
	// Producers stop sending now; records held up by a fault complete
	// while the cluster heals.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		l.stopProducing()
	}()
	hctx := context.WithoutCancel(ctx)
	e.rec.Record(Op{Type: TFaultStart, Proc: "nemesis", Fault: "final heal"})
	note, herr := ex.healAll(hctx)
	e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: "final heal", Note: note, Err: errString(herr)})
	e.rec.Record(Op{Type: TPhase, Note: PhaseHealed})
	e.logf("healed: %s %s", note, errString(herr))
	<-stopped
	derr := l.drain(hctx)
	e.rec.Record(Op{Type: TPhase, Note: PhaseEnd, Err: errString(derr)})
	e.logf("done")
	if herr != nil {
		return fmt.Errorf("heal: %w", herr)
	}
	return derr
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
func bitsFloat(b uint64) float64 { return math.Float64frombits(b) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
