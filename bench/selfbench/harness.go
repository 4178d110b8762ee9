// Package selfbench is the broker performance harness (`kbench selfbench`,
// `make bench-broker`): the same load-generator workloads against a null
// broker (the ceiling), the null broker storing every batch in a file per
// partition (the store-only ceiling), kbench's broker at replication factor
// 1, a 3-broker kbench cluster at RF=3 with acks=all, and franz-go's kfake
// (one in-memory broker), one after the
// other in several rounds, each target in its own process so its CPU time
// and peak memory come from /proc. It reports medians and spread over the
// rounds and every figure's ratio to both ceilings and to kfake, a consume
// catch-up over a backlog, and the RF=3 cluster's latency at half its
// measured maximum rate.
package selfbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/stats"
)

// Phases of a run, as samples record them.
const (
	PhaseProduce = "produce" // unthrottled produce, the workload matrix
	PhaseBacklog = "backlog" // one producer writing the consume backlog
	PhaseConsume = "consume" // one consumer reading the backlog from the start
	PhaseLatency = "latency" // fixed rate at half the RF=3 cluster's maximum
)

// consumeBound and backlogBound only stop a run that hangs; a healthy run
// ends when the backlog is written or read.
const (
	consumeBound = 5 * time.Minute
	backlogBound = 10 * time.Minute
)

// Sample is one run of one workload against one target.
type Sample struct {
	Phase    string `json:"phase"`
	Round    int    `json:"round"`
	Target   Kind   `json:"target"`
	Workload string `json:"workload"`
	// RecordsPerSec and MBPerSec (10^6 bytes of record values) cover the
	// measured window.
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	// TargetRate is the fixed rate of a latency run (0: unthrottled).
	TargetRate float64 `json:"target_rate,omitempty"`
	// Service time, send to acknowledgement (produce phases only).
	P50Ms  float64 `json:"p50_ms,omitempty"`
	P99Ms  float64 `json:"p99_ms,omitempty"`
	P999Ms float64 `json:"p99_9_ms,omitempty"`
	// ResponseP99Ms is measured from the intended send time (latency runs).
	ResponseP99Ms float64 `json:"response_p99_ms,omitempty"`
	// Bytes is the record bytes acknowledged or consumed over the whole
	// run, warmup included; BrokerCPUSec the broker processes' CPU time
	// over the same span, so CPUSecPerGB = BrokerCPUSec / (Bytes / 10^9).
	Bytes        int64   `json:"bytes"`
	BrokerCPUSec float64 `json:"broker_cpu_s"`
	CPUSecPerGB  float64 `json:"broker_cpu_s_per_gb"`
	// PeakRSSMiB is the broker processes' summed VmHWM during the run.
	PeakRSSMiB float64 `json:"broker_peak_rss_mib"`
	// GeneratorCores is the load generator's own average CPU use.
	GeneratorCores float64 `json:"generator_cores"`
	Failed         int64   `json:"failed,omitempty"`
	// Invalid lists why bench judged the run invalid; a saturated load
	// generator is expected in unthrottled runs on a small machine.
	Invalid []string `json:"invalid,omitempty"`
	// AllocsPerRequest and AllocBytesPerRequest are the broker's heap
	// allocations per produce request over ProduceRequests requests
	// (allocation runs only).
	AllocsPerRequest     float64 `json:"allocs_per_produce_request,omitempty"`
	AllocBytesPerRequest float64 `json:"alloc_bytes_per_produce_request,omitempty"`
	ProduceRequests      int64   `json:"produce_requests,omitempty"`
	// Error is set when the run could not be made; its figures are zero.
	Error string `json:"error,omitempty"`
}

func (s Sample) ok() bool { return s.Error == "" }

type harness struct {
	cfg     Config
	dir     string
	started time.Time
	topics  atomic.Int64
	targets []*target
	dead    map[*target]string // targets whose process died, and how
	samples []Sample
	errs    []string
	// metricsFlag says whether `kbench broker` has --metrics-listen.
	metricsFlag bool
}

// Run runs the harness. The report is returned even when some runs failed
// (their samples carry the error, and the error lists them); a nil report
// means nothing could be measured.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("selfbench: %w", err)
	}
	h := &harness{cfg: cfg, started: time.Now(), dead: map[*target]string{}}
	if h.dir = cfg.Dir; h.dir == "" {
		dir, err := os.MkdirTemp("", "kbench-selfbench-")
		if err != nil {
			return nil, fmt.Errorf("selfbench: %w", err)
		}
		h.dir = dir
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return nil, fmt.Errorf("selfbench: %w", err)
	}
	defer h.stopTargets()
	for _, k := range cfg.Targets {
		h.logf("starting %s", k)
		t, err := startTarget(ctx, &h.cfg, h.dir, k, cfg.BacklogRecordSize)
		if err != nil {
			return nil, fmt.Errorf("selfbench: %w", err)
		}
		h.targets = append(h.targets, t)
	}
	h.logf("%d targets up; %d produce runs, %d consume runs planned", len(h.targets), h.plannedProduce(), h.plannedConsume())

	h.produceRounds(ctx)
	if cfg.Backlog > 0 && ctx.Err() == nil {
		h.catchUp(ctx)
	}
	if cfg.LatencyDuration > 0 && ctx.Err() == nil {
		h.latency(ctx)
	}
	h.metricsFlag = brokerHasFlag(ctx, cfg.Binary, cfg.Env, metricsFlag)
	if cfg.Allocations && cfg.has(KbenchRF1) && h.metricsFlag && ctx.Err() == nil {
		h.allocations(ctx)
	}
	rep := h.report()
	if ctx.Err() != nil {
		rep.Errors = append(rep.Errors, "interrupted: "+ctx.Err().Error())
	}
	if len(rep.Errors) > 0 {
		return rep, fmt.Errorf("selfbench: %d runs failed, first: %s", len(rep.Errors), rep.Errors[0])
	}
	return rep, nil
}

func (h *harness) stopTargets() {
	for _, t := range h.targets {
		if err := t.shutdown(); err != nil {
			h.logf("stop %s: %v", t.kind, err)
		}
	}
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, "[%6.1fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
	}
}

func (h *harness) plannedProduce() int {
	n := 0
	for _, w := range h.cfg.Workloads {
		for _, t := range h.targets {
			if w.runsOn(t.kind) {
				n++
			}
		}
	}
	return n * h.cfg.Rounds
}

func (h *harness) consumeTargets() []*target {
	var out []*target
	for _, t := range h.targets {
		if slices.Contains(h.cfg.ConsumeTargets, t.kind) {
			out = append(out, t)
		}
	}
	return out
}

func (h *harness) plannedConsume() int {
	if h.cfg.Backlog == 0 {
		return 0
	}
	return len(h.consumeTargets()) * h.cfg.Rounds
}

// order is the target order of a round: reversed every other round, so no
// target always runs first (on a warm or a cold machine) after another.
func order[T any](ts []T, round int) []T {
	out := slices.Clone(ts)
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

func (h *harness) produceRounds(ctx context.Context) {
	for r := range h.cfg.Rounds {
		for _, w := range h.cfg.Workloads {
			for _, t := range order(h.targets, r) {
				if !w.runsOn(t.kind) || ctx.Err() != nil {
					continue
				}
				h.add(ctx, t, h.produce(ctx, t, produceRun{phase: PhaseProduce, w: w, round: r, warmup: h.cfg.Warmup, dur: h.cfg.Duration}))
			}
		}
	}
}

// add keeps a sample, notes its error, and stops using a target whose
// process died.
func (h *harness) add(ctx context.Context, t *target, s Sample) {
	if !s.ok() && ctx.Err() == nil {
		h.errs = append(h.errs, fmt.Sprintf("%s %s round %d on %s: %s", s.Phase, s.Workload, s.Round+1, s.Target, s.Error))
		if t != nil {
			if err := t.alive(); err != nil {
				h.dead[t] = err.Error()
			}
		}
	}
	h.samples = append(h.samples, s)
	// Backlog and latency runs happen once: they have no round.
	round := "     "
	if s.Phase == PhaseProduce || s.Phase == PhaseConsume {
		round = fmt.Sprintf("r%d/%d", s.Round+1, h.cfg.Rounds)
	}
	if s.ok() {
		line := fmt.Sprintf("%-8s %s %-22s %-10s %12.0f rec/s %8.1f MB/s", s.Phase, round, s.Workload, s.Target, s.RecordsPerSec, s.MBPerSec)
		if s.P99Ms > 0 {
			line += fmt.Sprintf("  p99 %6.2f ms", s.P99Ms)
		}
		h.logf("%s  broker cpu %6.2f s/GB", line, s.CPUSecPerGB)
	} else {
		h.logf("%-8s %s %-22s %-10s FAILED: %s", s.Phase, round, s.Workload, s.Target, s.Error)
	}
}

func (h *harness) topicName() string {
	return "selfbench-" + strconv.FormatInt(h.topics.Add(1), 10)
}

func (h *harness) producerProps(w Workload) map[string]string {
	return map[string]string{
		"acks":               w.Acks,
		"compression.type":   w.Compression,
		"enable.idempotence": strconv.FormatBool(w.Acks == "all"),
		"buffer.memory":      strconv.FormatInt(h.cfg.BufferMemory, 10),
	}
}

// measure runs rc against t and fills the resource figures around it;
// bytes counts the record bytes the run moved.
func (h *harness) measure(ctx context.Context, t *target, rc bench.RunConfig, bytes *atomic.Int64, s *Sample) *bench.Result {
	if reason, dead := h.dead[t]; dead {
		s.Error = "target is down: " + reason
		return nil
	}
	if err := t.resetPeak(); err != nil {
		s.Error = err.Error()
		return nil
	}
	before, err := t.usage()
	if err != nil {
		s.Error = err.Error()
		return nil
	}
	rc.Target = t
	rc.Version = h.cfg.Version
	rc.Interval = time.Hour // one final snapshot is all the harness reads
	res, err := bench.Run(ctx, rc, nil)
	after, uerr := t.usage()
	peak, perr := t.peak()
	if err = errors.Join(err, uerr, perr); err != nil {
		s.Error = err.Error()
		return nil
	}
	s.Bytes = bytes.Load()
	s.BrokerCPUSec = (after.cpu - before.cpu).Seconds()
	if s.Bytes > 0 {
		s.CPUSecPerGB = s.BrokerCPUSec / (float64(s.Bytes) / 1e9)
	}
	s.PeakRSSMiB = float64(peak) / (1 << 20)
	s.GeneratorCores = res.CPU.Cores
	s.Invalid = res.Invalid
	for _, e := range res.Errors {
		s.Failed += e.Count
	}
	return res
}

// produceRun is one produce run.
type produceRun struct {
	phase string
	w     Workload
	round int
	// rate is the records/s target; 0 is unthrottled.
	rate        float64
	warmup, dur time.Duration
	records     int64  // stop after this many (0: run for dur)
	topic       string // set: write into this existing topic and keep it
}

// produce makes one produce run, on a fresh topic removed afterwards unless
// the run names its own.
func (h *harness) produce(ctx context.Context, t *target, p produceRun) Sample {
	s := Sample{Phase: p.phase, Round: p.round, Target: t.kind, Workload: p.w.Name(), TargetRate: p.rate}
	topic := p.topic
	if topic == "" {
		topic = h.topicName()
		if err := t.createTopic(ctx, topic, h.cfg.Partitions); err != nil {
			s.Error = err.Error()
			return s
		}
		defer func() {
			if err := t.deleteTopic(context.WithoutCancel(ctx), topic); err != nil && s.ok() {
				s.Error = err.Error()
			}
		}()
	}
	var bytes atomic.Int64
	rc := bench.RunConfig{
		Mode:       bench.ModeProduce,
		Topic:      bench.TopicConfig{Name: topic, Partitions: h.cfg.Partitions, ReplicationFactor: t.rf},
		Workload:   bench.Workload{RecordSize: strconv.Itoa(p.w.RecordSize), Payload: "random", Compressibility: h.cfg.Compressibility},
		Producer:   h.producerProps(p.w),
		Producers:  p.w.Producers,
		Rate:       p.rate,
		Warmup:     p.warmup,
		Duration:   p.dur,
		NumRecords: p.records,
		Hooks: &bench.Hooks{OnAck: func(_ int, _ uint64, r *kgo.Record, err error) {
			if err == nil {
				bytes.Add(int64(len(r.Key) + len(r.Value)))
			}
		}},
	}
	res := h.measure(ctx, t, rc, &bytes, &s)
	if res == nil {
		return s
	}
	s.RecordsPerSec = res.Produce.RecordsPerSec
	s.MBPerSec = res.Produce.MiBPerSec * (1 << 20) / 1e6
	if l := res.Latency.Service; l != nil {
		s.P50Ms, s.P99Ms, s.P999Ms = l.P50, l.P99, l.P999
	}
	if l := res.Latency.Response; l != nil {
		s.ResponseP99Ms = l.P99
	}
	switch {
	case p.records > 0 && res.Produce.Acked != p.records:
		s.Error = fmt.Sprintf("%d of %d records acknowledged", res.Produce.Acked, p.records)
	case res.Produce.Acked == 0:
		s.Error = "nothing was acknowledged"
	}
	return s
}

// catchUp writes a backlog on every consume target, then reads it from the
// start once per round.
func (h *harness) catchUp(ctx context.Context) {
	ts := h.consumeTargets()
	if len(ts) == 0 {
		return
	}
	records := h.cfg.Backlog / int64(h.cfg.BacklogRecordSize)
	wl := Workload{RecordSize: h.cfg.BacklogRecordSize, Producers: 1, Acks: "1", Compression: "none"}
	// topics holds the backlogs written in full; every one created is
	// deleted at the end.
	topics := map[Kind]string{}
	for _, t := range ts {
		if ctx.Err() != nil {
			break
		}
		topic := h.topicName()
		if err := t.createTopic(ctx, topic, h.cfg.Partitions); err != nil {
			h.add(ctx, t, Sample{Phase: PhaseBacklog, Target: t.kind, Workload: wl.Name(), Error: err.Error()})
			continue
		}
		defer func() {
			if err := t.deleteTopic(context.WithoutCancel(ctx), topic); err != nil {
				h.errs = append(h.errs, err.Error())
			}
		}()
		s := h.produce(ctx, t, produceRun{phase: PhaseBacklog, w: wl, records: records, dur: backlogBound, topic: topic})
		h.add(ctx, t, s)
		if s.ok() {
			topics[t.kind] = topic
		}
	}
	name := fmt.Sprintf("catch-up %s of %s", sizeLabel(h.cfg.Backlog), sizeLabel(int64(h.cfg.BacklogRecordSize)))
	for r := range h.cfg.Rounds {
		for _, t := range order(ts, r) {
			topic, ok := topics[t.kind]
			if !ok || ctx.Err() != nil {
				continue
			}
			h.add(ctx, t, h.consume(ctx, t, name, topic, records, r))
		}
	}
}

// consume reads the whole backlog topic from the start with one consumer.
func (h *harness) consume(ctx context.Context, t *target, name, topic string, records int64, round int) Sample {
	s := Sample{Phase: PhaseConsume, Round: round, Target: t.kind, Workload: name}
	var bytes atomic.Int64
	rc := bench.RunConfig{
		Mode:      bench.ModeConsume,
		Topic:     bench.TopicConfig{Name: topic},
		Consumers: 1,
		Duration:  consumeBound,
		Hooks: &bench.Hooks{OnConsume: func(r *kgo.Record) {
			bytes.Add(int64(len(r.Key) + len(r.Value)))
		}},
	}
	res := h.measure(ctx, t, rc, &bytes, &s)
	if res == nil {
		return s
	}
	s.RecordsPerSec = res.Consume.RecordsPerSec
	s.MBPerSec = res.Consume.MiBPerSec * (1 << 20) / 1e6
	if res.Consume.Consumed != records {
		s.Error = fmt.Sprintf("catch-up read %d of %d records", res.Consume.Consumed, records)
	}
	return s
}

// latency runs the latency workload at half the RF=3 cluster's median
// maximum on that cluster, and at the same rate on the ceilings and kfake.
func (h *harness) latency(ctx context.Context) {
	w := h.cfg.LatencyWorkload
	var rf3 *target
	for _, t := range h.targets {
		if t.kind == KbenchRF3 {
			rf3 = t
		}
	}
	if rf3 == nil {
		return
	}
	var maxRates []float64
	for _, s := range h.samples {
		if s.Phase == PhaseProduce && s.Target == KbenchRF3 && s.Workload == w.Name() && s.ok() {
			maxRates = append(maxRates, s.RecordsPerSec)
		}
	}
	if len(maxRates) == 0 {
		// Not in the matrix: measure the maximum first.
		for r := range h.cfg.Rounds {
			s := h.produce(ctx, rf3, produceRun{phase: PhaseProduce, w: w, round: r, warmup: h.cfg.Warmup, dur: h.cfg.Duration})
			h.add(ctx, rf3, s)
			if s.ok() {
				maxRates = append(maxRates, s.RecordsPerSec)
			}
		}
	}
	if len(maxRates) == 0 {
		return
	}
	rate := stats.Median(maxRates) / 2
	for _, t := range h.targets {
		if t.kind == KbenchRF1 || ctx.Err() != nil {
			continue
		}
		h.add(ctx, t, h.produce(ctx, t, produceRun{phase: PhaseLatency, w: w, rate: rate, warmup: h.cfg.Warmup, dur: h.cfg.LatencyDuration}))
	}
}

// metricsFlag is the `kbench broker` flag that serves Prometheus metrics,
// the Go runtime's allocation counters among them.
const metricsFlag = "--metrics-listen"

// brokerHasFlag says whether `kbench broker --help` lists flag.
func brokerHasFlag(ctx context.Context, binary string, env []string, flag string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "broker", "--help")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), flag+" ")
}

func machine() Machine {
	host, _ := os.Hostname()
	return Machine{CPUs: runtime.NumCPU(), GoMaxProcs: runtime.GOMAXPROCS(0), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Hostname: host}
}
