package selfbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	kt "github.com/kbench/kbench/target"
)

// The generator harness measures what kbench's load generator costs on top
// of the franz-go client it drives: a bare franz-go loop and kbench's own
// produce, consume and e2e paths run side by side against the null broker
// (which answers without storing, so only the client side and loopback
// cost anything), one after the other in every round, the order swapped
// each round. The null broker runs in a process of its own; the loops run in
// this one, so this process's CPU is the generator's.

// Generator harness phases.
const (
	GenProduce = "produce"       // unthrottled
	GenFixed   = "produce-fixed" // at GenConfig.FixedRate
	GenConsume = "consume"       // a filled topic, from the start
	GenE2E     = "e2e"           // at GenConfig.E2ERate
)

// The two sides of every comparison.
const (
	SideBare   = "bare"
	SideKbench = "kbench"
)

// GenConfig configures the generator harness.
type GenConfig struct {
	Binary string `json:"-"` // the kbench binary, run as `selfbench serve ceiling`
	Dir    string `json:"-"` // process logs

	Sizes        []int    `json:"sizes"`
	Producers    []int    `json:"producers"`
	Acks         []string `json:"acks"`
	Compressions []string `json:"compressions"`
	Partitions   int32    `json:"partitions"`
	Rounds       int      `json:"rounds"`

	Warmup   time.Duration `json:"-"`
	Duration time.Duration `json:"-"`

	// FixedRate is the records/s of the fixed-rate produce comparison, at
	// FixedSize bytes; 0 skips it.
	FixedRate float64 `json:"fixed_rate"`
	FixedSize int     `json:"fixed_size"`
	// ConsumeRecords is how many records the consume comparison reads per
	// record size; 0 skips it.
	ConsumeRecords int64 `json:"consume_records"`
	// ConsumePairs is how many side-by-side pairs the consume comparison
	// runs per round, each order swapped from the one before: a consume
	// run's rate swings more from run to run than a produce run's, so
	// its median is taken over more pairs.
	ConsumePairs int `json:"consume_pairs"`
	// E2ERate is the records/s of the e2e comparison, at FixedSize bytes;
	// 0 skips it.
	E2ERate float64 `json:"e2e_rate"`
	// CPUProfile, if set, receives a CPU profile of the whole harness, its
	// samples labelled run="SIDE: WORKLOAD" (for pprof's -tagfocus).
	CPUProfile string `json:"-"`

	Version string    `json:"-"`
	Log     io.Writer `json:"-"`
}

// GenDefaults is the full matrix in about ten minutes. Five rounds, not
// three: on a shared 2-core machine one workload's ratio moved by 0.1-0.2
// between full runs minutes apart, more than a median of three absorbs.
func GenDefaults() GenConfig {
	return GenConfig{
		Sizes: []int{100, 1024}, Producers: []int{1, 4}, Acks: []string{"1", "all"}, Compressions: []string{"none", "zstd"},
		Partitions: 6, Rounds: 5, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second,
		FixedRate: 100000, FixedSize: 1024, ConsumeRecords: 1000000, ConsumePairs: 3, E2ERate: 50000,
	}
}

func (c *GenConfig) validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("no kbench binary to serve the null broker"))
	}
	if len(c.Sizes) == 0 || len(c.Producers) == 0 || len(c.Acks) == 0 || len(c.Compressions) == 0 {
		errs = append(errs, errors.New("sizes, producers, acks and compressions: give at least one each"))
	}
	for _, s := range c.Sizes {
		if s < 1 {
			errs = append(errs, fmt.Errorf("record size %d: want at least 1 byte", s))
		}
	}
	for _, p := range c.Producers {
		if p < 1 {
			errs = append(errs, fmt.Errorf("producers %d: want at least 1", p))
		}
	}
	for _, a := range c.Acks {
		if a != "1" && a != "all" {
			errs = append(errs, fmt.Errorf("acks %q: want 1 or all", a))
		}
	}
	for _, z := range c.Compressions {
		switch z {
		case "none", "gzip", "snappy", "lz4", "zstd":
		default:
			errs = append(errs, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", z))
		}
	}
	if c.Rounds < 1 {
		errs = append(errs, fmt.Errorf("rounds %d: want at least 1", c.Rounds))
	}
	if c.Duration <= 0 || c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("duration %v, warmup %v: want a duration above 0 and a warmup of at least 0", c.Duration, c.Warmup))
	}
	if c.FixedRate < 0 || c.E2ERate < 0 || c.ConsumeRecords < 0 {
		errs = append(errs, errors.New("fixed rate, e2e rate and consume records must not be negative"))
	}
	if c.ConsumeRecords > 0 && c.ConsumePairs < 1 {
		errs = append(errs, fmt.Errorf("consume pairs %d: want at least 1", c.ConsumePairs))
	}
	if (c.FixedRate > 0 || c.E2ERate > 0) && c.FixedSize < 1 {
		errs = append(errs, fmt.Errorf("fixed size %d: want at least 1 byte", c.FixedSize))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions %d: want at least 1", c.Partitions))
	}
	return errors.Join(errs...)
}

// GenWorkload is one row of the comparison.
type GenWorkload struct {
	Phase       string  `json:"phase"`
	RecordSize  int     `json:"record_size"`
	Producers   int     `json:"producers"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Rate        float64 `json:"rate"` // records/s; 0 unthrottled
}

// Name is the row label.
func (w GenWorkload) Name() string {
	n := fmt.Sprintf("%s %s p%d acks=%s %s", w.Phase, sizeLabel(int64(w.RecordSize)), w.Producers, w.Acks, w.Compression)
	if w.Phase == GenConsume {
		n = fmt.Sprintf("%s %s", w.Phase, sizeLabel(int64(w.RecordSize)))
	}
	if w.Rate > 0 {
		n += fmt.Sprintf(" @%.0fk/s", w.Rate/1000)
	}
	return n
}

// GenSample is one run of one side.
type GenSample struct {
	Workload      string  `json:"workload"`
	Side          string  `json:"side"`
	Round         int     `json:"round"`
	RecordsPerSec float64 `json:"records_per_sec"`
	Cores         float64 `json:"cores"`
	// CPUSecPerGB is generator CPU seconds per 1e9 record bytes moved.
	CPUSecPerGB float64 `json:"cpu_s_per_gb"`
	// GeneratorShare is the share of kbench's CPU its own code took, when
	// the run reported it.
	GeneratorShare float64 `json:"generator_share,omitempty"`
	Error          string  `json:"error,omitempty"`
}

// GenSummary compares the sides of one workload over rounds.
type GenSummary struct {
	GenWorkload
	Name      string `json:"name"`
	Bare      Stat   `json:"bare_records_per_sec"`
	Kbench    Stat   `json:"kbench_records_per_sec"`
	BareCPU   Stat   `json:"bare_cpu_s_per_gb"`
	KbenchCPU Stat   `json:"kbench_cpu_s_per_gb"`
	// RateRatio and CPURatio are kbench / bare per round (rate: higher is
	// better; CPU: lower is better).
	RateRatio Stat `json:"rate_ratio"`
	CPURatio  Stat `json:"cpu_ratio"`
}

// GenReport is the harness's result.
type GenReport struct {
	Machine   Machine      `json:"machine"`
	Config    GenConfig    `json:"config"`
	WarmupS   float64      `json:"warmup_s"`
	DurationS float64      `json:"duration_s"`
	Started   time.Time    `json:"started"`
	Elapsed   float64      `json:"elapsed_s"`
	Samples   []GenSample  `json:"samples"`
	Summaries []GenSummary `json:"summaries"`
}

type genHarness struct {
	cfg     GenConfig
	samples []GenSample
	works   []GenWorkload
}

func (h *genHarness) logf(format string, args ...any) {
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, format+"\n", args...)
	}
}

// GenRun runs the generator harness.
func GenRun(ctx context.Context, cfg GenConfig) (*GenReport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &genHarness{cfg: cfg}
	start := time.Now()
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	sizes := cfg.Sizes
	if (cfg.FixedRate > 0 || cfg.E2ERate > 0) && !containsInt(sizes, cfg.FixedSize) {
		sizes = append(sizes, cfg.FixedSize)
	}
	for _, size := range sizes {
		if err := h.onBroker(ctx, size); err != nil {
			return nil, err
		}
	}
	rep := &GenReport{
		Machine: machine(), Config: cfg, WarmupS: cfg.Warmup.Seconds(), DurationS: cfg.Duration.Seconds(),
		Started: start, Elapsed: time.Since(start).Seconds(), Samples: h.samples,
	}
	rep.Summaries = GenSummarize(h.works, h.samples)
	return rep, ctx.Err()
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// genTarget is a null broker child process as a run target.
type genTarget struct{ addr string }

func (t genTarget) Bootstrap() []string { return []string{t.addr} }
func (t genTarget) Describe() string    { return "null broker at " + t.addr }
func (t genTarget) Close() error        { return nil }

// onBroker runs every workload of one record size against a null broker
// serving fetches of that size.
func (h *genHarness) onBroker(ctx context.Context, size int) error {
	if err := os.MkdirAll(h.cfg.Dir, 0o755); err != nil {
		return err
	}
	p, err := kt.Start(ctx, kt.Options{Dir: filepath.Join(h.cfg.Dir, fmt.Sprintf("nullbroker-%d", size)), Binary: h.cfg.Binary,
		Command: []string{"selfbench", "serve", string(Ceiling), "--record-size", strconv.Itoa(size), "--partitions", strconv.Itoa(int(h.cfg.Partitions))}})
	if err != nil {
		return fmt.Errorf("null broker: %w", err)
	}
	defer p.Close()
	t := genTarget{addr: p.Bootstrap()[0]}
	adm, err := kgo.NewClient(kgo.SeedBrokers(t.addr))
	if err != nil {
		return err
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	for _, topic := range []string{"gen-produce", "gen-fill", "gen-e2e"} {
		if _, err := ka.CreateTopic(ctx, h.cfg.Partitions, 1, nil, topic); err != nil {
			return fmt.Errorf("create %s: %w", topic, err)
		}
	}

	var works []GenWorkload
	if containsInt(h.cfg.Sizes, size) {
		for _, n := range h.cfg.Producers {
			for _, a := range h.cfg.Acks {
				for _, z := range h.cfg.Compressions {
					works = append(works, GenWorkload{Phase: GenProduce, RecordSize: size, Producers: n, Acks: a, Compression: z})
				}
			}
		}
	}
	if size == h.cfg.FixedSize && h.cfg.FixedRate > 0 {
		works = append(works, GenWorkload{Phase: GenFixed, RecordSize: size, Producers: 1, Acks: "1", Compression: "none", Rate: h.cfg.FixedRate})
	}
	if size == h.cfg.FixedSize && h.cfg.E2ERate > 0 {
		works = append(works, GenWorkload{Phase: GenE2E, RecordSize: size, Producers: 1, Acks: "1", Compression: "none", Rate: h.cfg.E2ERate})
	}
	if containsInt(h.cfg.Sizes, size) && h.cfg.ConsumeRecords > 0 {
		w := GenWorkload{Phase: GenConsume, RecordSize: size, Producers: 1, Acks: "1", Compression: "none"}
		if err := h.fill(ctx, t, w); err != nil {
			return err
		}
		works = append(works, w)
	}
	h.works = append(h.works, works...)
	for round := range h.cfg.Rounds {
		for _, w := range works {
			if err := h.pairs(ctx, p, t, w, round); err != nil {
				return err
			}
		}
	}
	return nil
}

// pairs runs workload w's side-by-side pairs of one round: one, or
// ConsumePairs for a consume. Pair k of a workload (counted over rounds)
// runs the bare side first when k is even, so the order alternates.
func (h *genHarness) pairs(ctx context.Context, p *kt.Target, t genTarget, w GenWorkload, round int) error {
	n := 1
	if w.Phase == GenConsume {
		n = h.cfg.ConsumePairs
	}
	for i := range n {
		pair := round*n + i
		sides := []string{SideBare, SideKbench}
		if pair%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := p.Alive(); err != nil {
				return err
			}
			runtime.GC() // the previous run's garbage is not this run's cost
			var s GenSample
			pprof.Do(ctx, pprof.Labels("run", side+": "+w.Name()), func(ctx context.Context) {
				s = h.one(ctx, t, w, side)
			})
			s.Round = pair
			h.samples = append(h.samples, s)
			if s.Error != "" {
				h.logf("round %d %-40s %-6s error: %s", round+1, w.Name(), side, s.Error)
				continue
			}
			h.logf("round %d %-40s %-6s %10.0f records/s %5.2f cores %6.2f cpu s/GB", round+1, w.Name(), side, s.RecordsPerSec, s.Cores, s.CPUSecPerGB)
		}
	}
	return nil
}

func (h *genHarness) runConfig(t genTarget, w GenWorkload) bench.RunConfig {
	rc := bench.RunConfig{
		Target: t, Version: h.cfg.Version,
		Topic:    bench.TopicConfig{Name: "gen-produce", Partitions: h.cfg.Partitions},
		Workload: bench.Workload{RecordSize: strconv.Itoa(w.RecordSize), Payload: "random", Compressibility: 0.5},
		Producer: map[string]string{
			"acks":               w.Acks,
			"compression.type":   w.Compression,
			"enable.idempotence": strconv.FormatBool(w.Acks == "all"),
			"linger.ms":          "5",
		},
		Producers: w.Producers, Consumers: 1, Rate: w.Rate,
		Warmup: h.cfg.Warmup, Duration: h.cfg.Duration,
		Interval: time.Hour, // one final snapshot is all the harness reads
	}
	switch w.Phase {
	case GenProduce, GenFixed:
		rc.Mode = bench.ModeProduce
	case GenConsume:
		rc.Mode = bench.ModeConsume
		rc.Topic.Name = "gen-fill"
		rc.Warmup = 0
		rc.Duration = time.Minute // a bound; the run ends at the topic's end
	case GenE2E:
		rc.Mode = bench.ModeE2E
		rc.Topic.Name = "gen-e2e"
	}
	return rc
}

func (h *genHarness) one(ctx context.Context, t genTarget, w GenWorkload, side string) GenSample {
	s := GenSample{Workload: w.Name(), Side: side}
	rc := h.runConfig(t, w)
	var err error
	if side == SideKbench {
		var res *bench.Result
		res, err = bench.Run(ctx, rc, nil)
		if err == nil {
			switch {
			case res.Produce != nil && w.Phase != GenE2E:
				s.RecordsPerSec = res.Produce.RecordsPerSec
			case res.Consume != nil:
				s.RecordsPerSec = res.Consume.RecordsPerSec
			}
			s.Cores = res.CPU.Cores
			if res.CPU.Cores > 0 {
				s.GeneratorShare = res.CPU.Own / res.CPU.Cores
			}
			for _, e := range res.Errors {
				err = errors.Join(err, fmt.Errorf("%d x %s", e.Count, e.Name))
			}
		}
	} else {
		var m bareFigures
		switch w.Phase {
		case GenProduce, GenFixed:
			m, err = bareProduce(ctx, rc)
		case GenConsume:
			m, err = bareConsume(ctx, rc)
		case GenE2E:
			m, err = bareE2E(ctx, rc)
		}
		s.RecordsPerSec, s.Cores = m.perSec, m.cores
	}
	if err != nil {
		s.Error = err.Error()
		return s
	}
	if s.RecordsPerSec > 0 {
		s.CPUSecPerGB = s.Cores / (s.RecordsPerSec * float64(w.RecordSize) / 1e9)
	}
	return s
}

// fill writes ConsumeRecords records into gen-fill, read by every consume
// run of this broker; the null broker keeps only the offsets.
func (h *genHarness) fill(ctx context.Context, t genTarget, w GenWorkload) error {
	rc := h.runConfig(t, w)
	rc.Topic.Name = "gen-fill"
	opts, err := rc.ClientOptions(bench.RoleProducer)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	val := make([]byte, w.RecordSize)
	var failed atomic.Value
	for range h.cfg.ConsumeRecords {
		cl.Produce(ctx, &kgo.Record{Topic: rc.Topic.Name, Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	return nil
}

// bareFigures is what a bare loop measured over its window.
type bareFigures struct {
	perSec, cores float64
}

// cpuNow is this process's user plus system CPU time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// window measures a count and the CPU from a starting mark to now.
type window struct {
	at  time.Time
	cpu time.Duration
	n   int64
}

func markNow(n int64) window { return window{at: time.Now(), cpu: cpuNow(), n: n} }

func (w window) since(n int64) bareFigures {
	d := time.Since(w.at)
	return bareFigures{perSec: float64(n-w.n) / d.Seconds(), cores: float64(cpuNow()-w.cpu) / float64(d)}
}

// bareBuffer is the size of the buffer bare producers take values from:
// kbench's default payload pool at the default batch.size, so both sides
// read values from the same amount of memory.
const bareBuffer = 1 << 20

// bareProducers runs rc.Producers bare franz-go producers: values sliced
// from one pre-generated buffer, one promise, records sent as fast as the client takes
// them or, with a rate, on the same open-loop schedule kbench keeps (sleep
// until the next record is due, then send all that are due). It returns
// once producing stopped at warmup+duration, with the acks counter.
func bareProducers(ctx context.Context, rc bench.RunConfig, onWarm func(acked int64)) (acked *atomic.Int64, flush func() error, err error) {
	opts, err := rc.ClientOptions(bench.RoleProducer)
	if err != nil {
		return nil, nil, err
	}
	size, _ := strconv.Atoi(rc.Workload.RecordSize)
	// Values are slices of one buffer as compressible as kbench's random
	// payload, read through it in order as kbench reads its payload pool:
	// no allocation, no copy and a prefetchable read, yet a codec gets no
	// easier input than kbench gives it.
	buf := payload(bareBuffer + size)
	acked = new(atomic.Int64)
	var failed atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, err)
			return
		}
		acked.Add(1)
	}
	cls := make([]*kgo.Client, rc.Producers)
	for i := range cls {
		if cls[i], err = kgo.NewClient(opts...); err != nil {
			return nil, nil, err
		}
	}
	start := time.Now()
	end := start.Add(rc.Warmup + rc.Duration)
	warm := time.AfterFunc(rc.Warmup, func() { onWarm(acked.Load()) })
	var wg sync.WaitGroup
	for _, cl := range cls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rate := rc.Rate / float64(len(cls))
			span := uint64(len(buf) - size + 1)
			var off uint64
			for n := 0; ; n++ {
				if n%256 == 0 && (time.Now().After(end) || ctx.Err() != nil) {
					return
				}
				if rate > 0 {
					due := start.Add(time.Duration(float64(n) * 1e9 / rate))
					if due.After(end) {
						return
					}
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				cl.Produce(ctx, &kgo.Record{Topic: rc.Topic.Name, Value: buf[off : off+uint64(size)]}, promise)
				if off += uint64(size); off >= span {
					off -= span
				}
			}
		}()
	}
	wg.Wait()
	flush = func() error {
		defer warm.Stop()
		var errs []error
		for _, cl := range cls {
			errs = append(errs, cl.Flush(ctx))
			cl.Close()
		}
		if err, _ := failed.Load().(error); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	return acked, flush, nil
}

func bareProduce(ctx context.Context, rc bench.RunConfig) (bareFigures, error) {
	var w window
	acked, flush, err := bareProducers(ctx, rc, func(n int64) { w = markNow(n) })
	if err != nil {
		return bareFigures{}, err
	}
	err = flush()
	return w.since(acked.Load()), err
}

// bareConsumer reads rc's topic from offset (0, or the end when fromEnd)
// until stop says so, counting records. It calls started once its client
// exists (and has begun fetching), where kbench starts a consume run's clock.
func bareConsumer(ctx context.Context, rc bench.RunConfig, parts int32, fromEnd bool, count *atomic.Int64, started func(), stop func() bool) error {
	opts, err := rc.ClientOptions(bench.RoleConsumer)
	if err != nil {
		return err
	}
	at := kgo.NewOffset().AtStart()
	if fromEnd {
		at = kgo.NewOffset().AtEnd()
	}
	assign := map[int32]kgo.Offset{}
	for p := range parts {
		assign[p] = at
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{rc.Topic.Name: assign}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	started()
	for !stop() {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var n int64
		fs.EachRecord(func(*kgo.Record) { n++ })
		count.Add(n)
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				return e.Err
			}
		}
	}
	return nil
}

func endOffsets(ctx context.Context, t bench.Target, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Bootstrap()...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total, ends.Error()
}

func bareConsume(ctx context.Context, rc bench.RunConfig) (bareFigures, error) {
	total, err := endOffsets(ctx, rc.Target, rc.Topic.Name)
	if err != nil {
		return bareFigures{}, err
	}
	var n atomic.Int64
	var w window
	var deadline time.Time
	err = bareConsumer(ctx, rc, rc.Topic.Partitions, false, &n, func() {
		w = markNow(0)
		deadline = w.at.Add(rc.Duration)
	}, func() bool {
		return n.Load() >= total || time.Now().After(deadline)
	})
	f := w.since(n.Load())
	if err == nil && n.Load() < total {
		err = fmt.Errorf("read %d of %d records within %v", n.Load(), total, rc.Duration)
	}
	return f, err
}

// bareE2E runs a bare producer at the rate and a bare consumer reading the
// same topic from its end; cores are both together.
func bareE2E(ctx context.Context, rc bench.RunConfig) (bareFigures, error) {
	var consumed atomic.Int64
	var w window
	done := make(chan struct{})
	ready := make(chan struct{})
	cerr := make(chan error, 1)
	go func() {
		cerr <- bareConsumer(ctx, rc, rc.Topic.Partitions, true, &consumed, func() { close(ready) }, func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
	}()
	select {
	case <-ready:
	case err := <-cerr: // no client
		return bareFigures{}, err
	}
	time.Sleep(200 * time.Millisecond) // let the consumer settle at the end offsets
	acked, flush, err := bareProducers(ctx, rc, func(int64) { w = markNow(consumed.Load()) })
	if err != nil {
		close(done)
		return bareFigures{}, errors.Join(err, <-cerr)
	}
	err = flush()
	// Let the consumer catch up with what was acknowledged.
	for deadline := time.Now().Add(10 * time.Second); consumed.Load() < acked.Load() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	f := w.since(consumed.Load())
	close(done)
	return f, errors.Join(err, <-cerr)
}
