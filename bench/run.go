package bench

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StampHeader is the record header carrying the run id and the intended
// send time (8 + 8 bytes, big endian; ns since the run started, monotonic,
// so only a consumer in the same process can use it). Only e2e runs send
// it: a produce run's records carry just the key and value asked for.
const StampHeader = "kbench-stamp"

// InProcess is implemented by targets that run inside this process (the
// embedded broker), whose CPU then shows in the generator's.
type InProcess interface {
	InProcess() bool
}

// wireStats counts bytes on the wire and batch compression through
// franz-go hooks; one instance is shared by every client of a run.
type wireStats struct {
	produceBytes, fetchBytes atomic.Int64
	batchRaw, batchWire      atomic.Int64
	_                        [56]byte
	// io counts every request written and response read, by any client
	// of the run; on a cache line of its own, as every promise reads it.
	// The client calls these hooks before it finishes the records a
	// request or response settles, so a promise that sees io unchanged
	// since its producer last read the clock knows its record's response
	// was in before that reading (ackClock).
	io atomic.Int64
	_  [56]byte
}

var (
	_ kgo.HookBrokerWrite         = (*wireStats)(nil)
	_ kgo.HookBrokerRead          = (*wireStats)(nil)
	_ kgo.HookProduceBatchWritten = (*wireStats)(nil)
)

func (w *wireStats) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	w.io.Add(1)
	if key == 0 { // Produce
		w.produceBytes.Add(int64(n))
	}
}

func (w *wireStats) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	w.io.Add(1)
	if key == 1 || key == 78 { // Fetch, ShareFetch
		w.fetchBytes.Add(int64(n))
	}
}

func (w *wireStats) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	w.batchRaw.Add(int64(m.UncompressedBytes))
	w.batchWire.Add(int64(m.CompressedBytes))
}

// mark is the state of the process counters at one moment of a run.
type mark struct {
	at                  time.Duration
	cpu                 time.Duration
	produce, fetch      int64
	batchRaw, batchWire int64
}

type run struct {
	p     *prepared
	cfg   RunConfig
	adm   *admin
	parts int32
	runID uint64
	// start is when load began; written once before producers and the
	// reporter start. Consumers run earlier and read it through started.
	start   time.Time
	started atomic.Pointer[time.Time]

	wire      wireStats
	producers []*producer
	consumers []*consumer

	posMu sync.Mutex
	pos   map[int32]int64 // next offset to consume per partition
	// A share group's delivered offsets per partition and delivery figures
	// (sharegroup.go); nil unless group.protocol=share.
	shareSeen  map[int32]*shareSeen
	groupStats shareDeliveries
	target     map[int32]int64 // consume mode: stop once every partition reaches this

	markMu           sync.Mutex
	measureStart     *mark
	lastIntervalMark mark

	bl *backlog // nil unless this is a backlog run

	taken       atomic.Int64 // consume mode: records counted against NumRecords
	redelivered atomic.Int64 // records seen again below a partition's position
}

type producer struct {
	id     int
	cl     *kgo.Client
	pacer  Pacer
	gen    *generator
	m      *meter
	mem    sendMemory // producer goroutine only
	own    ownClock   // sampled time in kbench's own per-record code
	clock  ackClock   // promise goroutine only
	closer sync.Once
}

// close closes the client once; several stages may want it closed.
func (p *producer) close() { p.closer.Do(p.cl.Close) }

type consumer struct {
	cl       *kgo.Client
	m        *meter
	own      ownClock     // sampled time in kbench's own per-poll code
	assigned atomic.Int64 // partitions held through a group
	closer   sync.Once
}

func (c *consumer) close() { c.closer.Do(c.cl.Close) }

// Run executes one run. Intervals stream to sink (nil for none). When ctx
// is cancelled the run stops early, still waits briefly for outstanding
// acknowledgements, and returns a result marked Interrupted. A non-nil
// result may come with an error from a sink.
func Run(ctx context.Context, cfg RunConfig, sink Sink) (*Result, error) {
	cfg = cfg.withDefaults()
	cfg.Workload.PickSeed()
	p, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	adm, err := newAdmin(ctx, p)
	if err != nil {
		return nil, err
	}
	defer adm.close()
	r := &run{p: p, cfg: cfg, adm: adm, runID: cfg.runID(), pos: map[int32]int64{}}
	r.bl = newBacklog(r)
	if r.parts, err = adm.ensureTopic(ctx, cfg.Topic); err != nil {
		return nil, err
	}
	if cfg.Mode != ModeConsume || cfg.Prefill > 0 {
		p.work.buildPool(int(p.producer.batchSize))
	}
	if cfg.Mode == ModeConsume && cfg.Prefill > 0 {
		if err := r.prefill(ctx); err != nil {
			return nil, err
		}
	}
	if sink == nil {
		sink = Sinks{}
	}
	return r.execute(ctx, sink)
}

func (r *run) clientOpts(base []kgo.Opt, extra ...kgo.Opt) []kgo.Opt {
	opts := slices.Clone(base)
	opts = append(opts, kgo.SeedBrokers(r.cfg.Target.Bootstrap()...), kgo.WithHooks(&r.wire))
	if r.cfg.Dial != nil {
		opts = append(opts, kgo.Dialer(r.cfg.Dial))
	}
	return append(opts, extra...)
}

// prefill writes records to read before a consume run; not measured.
func (r *run) prefill(ctx context.Context) error {
	cl, err := kgo.NewClient(r.clientOpts(r.p.producerOpts)...)
	if err != nil {
		return fmt.Errorf("prefill producer: %w", err)
	}
	defer cl.Close()
	gen := newGenerator(r.p.work, 1<<32)
	var failed atomic.Int64
	var firstErr atomic.Value
	for seq := range uint64(r.cfg.Prefill) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		key := gen.key(seq)
		rec := &kgo.Record{Topic: r.cfg.Topic.Name, Key: key, Value: gen.value(key, time.Now())}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				firstErr.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("prefill: %d of %d records failed, first: %w", n, r.cfg.Prefill, firstErr.Load().(error))
	}
	return nil
}

func (r *run) newMark() mark {
	return mark{
		at:        time.Since(r.start),
		cpu:       processCPU(),
		produce:   r.wire.produceBytes.Load(),
		fetch:     r.wire.fetchBytes.Load(),
		batchRaw:  r.wire.batchRaw.Load(),
		batchWire: r.wire.batchWire.Load(),
	}
}

func (r *run) execute(ctx context.Context, sink Sink) (res *Result, err error) {
	cfg := r.cfg
	manifest := newManifest(cfg)
	r.adm.describeCluster(ctx, &manifest)

	consumeCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	var cwg sync.WaitGroup
	defer func() {
		stopConsumers()
		r.closeClients()
		cwg.Wait()
	}()
	if cfg.Mode != ModeProduce {
		if err := r.startConsumers(ctx, consumeCtx, &cwg); err != nil {
			return nil, err
		}
	}
	// Records stay deliverable after Ctrl-C: only abort cancels them.
	produceCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	if cfg.Mode != ModeConsume {
		if err := r.buildProducers(produceCtx); err != nil {
			return nil, err
		}
	}

	late := r.waitStart(ctx)
	r.start = time.Now()
	r.started.Store(&r.start)
	if h := cfg.Hooks; h != nil && h.OnStart != nil {
		h.OnStart(r.start)
	}
	manifest.Started = r.start
	r.lastIntervalMark = r.newMark()
	if cfg.Warmup == 0 {
		m := r.newMark()
		r.measureStart = &m
	} else {
		t := time.AfterFunc(cfg.Warmup, func() {
			m := r.newMark()
			r.markMu.Lock()
			r.measureStart = &m
			r.markMu.Unlock()
		})
		defer t.Stop()
	}

	// The reporter is the only goroutine calling the sink until it stops.
	var intervals []IntervalFigures
	var sinkErr error
	repStop := make(chan struct{})
	repDone := make(chan struct{})
	idx := 0
	emit := func(final bool) {
		iv := r.snapshot(idx)
		iv.Final = final
		if final && iv.Sent+iv.Acked+iv.Failed+iv.Consumed == 0 {
			return // an empty tail says nothing
		}
		idx++
		intervals = append(intervals, intervalFigures(iv))
		if err := sink.Interval(iv); err != nil && sinkErr == nil {
			sinkErr = fmt.Errorf("sink: %w", err)
		}
	}
	go func() {
		defer close(repDone)
		tick := time.NewTicker(cfg.Interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				emit(false)
			case <-repStop:
				return
			}
		}
	}()

	// Load phase.
	r.bl.begin()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	if cfg.Duration > 0 && cfg.Mode == ModeConsume {
		var cancelT context.CancelFunc
		loadCtx, cancelT = context.WithTimeout(loadCtx, cfg.Warmup+cfg.Duration)
		defer cancelT()
	}
	var pwg sync.WaitGroup
	for _, pr := range r.producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r.produceLoop(loadCtx, produceCtx, pr)
		}()
	}
	loadDone, watchDone := make(chan struct{}), make(chan struct{})
	backlogDone := r.bl.watch(loadCtx, loadDone, stopLoad)
	go func() {
		defer close(watchDone)
		r.watchdog(ctx, loadDone, abort)
	}()
	if cfg.Mode == ModeConsume {
		r.waitConsumed(loadCtx)
	}
	pwg.Wait()
	close(loadDone)
	<-watchDone
	<-backlogDone
	loadEnd := time.Since(r.start)
	interrupted := ctx.Err() != nil
	if h := cfg.Hooks; h != nil && h.OnLoadEnd != nil {
		h.OnLoadEnd()
	}

	// Wait for outstanding acknowledgements.
	undelivered := r.flush(interrupted, abort)
	endMark := r.newMark()

	var lagAtEnd int64
	if cfg.Mode != ModeProduce {
		lagAtEnd = r.lag(context.WithoutCancel(ctx))
	}
	switch {
	case cfg.Mode != ModeE2E || interrupted:
	case cfg.Share != nil:
		if h := cfg.Hooks; h != nil && h.BeforeDrain != nil {
			h.BeforeDrain(ctx)
		}
		r.drainShare(ctx)
	default:
		r.drain(ctx)
	}
	stopConsumers()
	r.closeClients()
	cwg.Wait()
	close(repStop)
	<-repDone
	emit(true)

	r.markMu.Lock()
	start := r.measureStart
	r.markMu.Unlock()
	res = r.result(manifest, start, endMark, loadEnd, interrupted || ctx.Err() != nil, undelivered, lagAtEnd)
	res.Intervals = intervals
	if late > LateStart {
		res.StartedLate = secs(late)
		res.judge()
	}
	return res, sinkErr
}

func newManifest(cfg RunConfig) Manifest {
	host, _ := os.Hostname()
	return Manifest{
		Kbench:     cmp.Or(cfg.Version, "dev"),
		Go:         runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUModel:   cpuModel(),
		CPUs:       runtime.NumCPU(),
		GoMaxProcs: runtime.GOMAXPROCS(0),
		Hostname:   host,
		Target:     cfg.Target.Describe(),
	}
}

func (r *run) buildProducers(produceCtx context.Context) error {
	pacer := Pacer{Rate: r.cfg.Rate, Duration: r.cfg.Warmup + r.cfg.Duration, Records: uint64(r.cfg.NumRecords)}
	for i, pc := range pacer.Split(r.cfg.Producers) {
		cl, err := kgo.NewClient(r.clientOpts(r.p.producerOpts)...)
		if err != nil {
			return fmt.Errorf("producer client: %w", err)
		}
		r.producers = append(r.producers, &producer{
			id: i, cl: cl, pacer: pc,
			gen:   newGenerator(r.p.work, uint64(i)),
			m:     newMeter(r.cfg.Warmup),
			mem:   sendMemory{ctx: produceCtx},
			clock: ackClock{io: -1},
		})
	}
	return nil
}

// produceLoop sends on the pacer's schedule until it stops or loadCtx ends.
// Per record it allocates nothing: records come from the producer's slabs
// and one promise serves them all.
func (r *run) produceLoop(loadCtx, produceCtx context.Context, pr *producer) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	hooks := r.cfg.Hooks
	done := loadCtx.Done()
	promise := r.promise(pr)
	for seq := uint64(0); ; seq++ {
		now := time.Now()
		wait, stop := pr.pacer.Pace(now.Sub(r.start), seq)
		if stop {
			return
		}
		if seq%64 == 0 { // a stop is seen within 64 records or at the next wait
			select {
			case <-done:
				return
			default:
			}
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-done:
				return
			}
			now = time.Now()
		}
		intended := pr.pacer.Intended(seq)
		if intended < 0 {
			intended = now.Sub(r.start) // unthrottled: no schedule to fall behind
		}
		var t0 ownMark
		sampled := ownSampled(seq) && intended >= r.cfg.Warmup
		if sampled {
			t0 = ownStart()
		}
		rec := r.record(pr, pr.mem.slot(), seq, intended, now)
		if hooks != nil && hooks.BeforeProduce != nil {
			hooks.BeforeProduce(pr.id, seq, rec)
		}
		pr.m.sent(intended)
		if sampled {
			pr.own.add(t0, ownSample)
		}
		pr.cl.Produce(produceCtx, rec, promise)
	}
}

// flush waits for every buffered record; on interruption, or when the
// broker does not answer within the delivery timeout, it gives up: closing
// the clients fails what is left, and those failures count as errors.
// It returns how many records never got any outcome.
func (r *run) flush(interrupted bool, abort context.CancelFunc) int64 {
	limit := r.p.producer.deliveryTimeout + 5*time.Second
	if interrupted {
		limit = 5 * time.Second
	}
	fctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var wg sync.WaitGroup
	for _, pr := range r.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = pr.cl.Flush(fctx) // a timeout shows in the outstanding count
		}()
	}
	wg.Wait()
	abort()
	for _, pr := range r.producers {
		if pr.m.outstanding() > 0 {
			pr.close()
		}
	}
	// Closing finishes the promises on franz-go's goroutines; give them a moment.
	var undelivered int64
	_ = pollUntil(context.Background(), 2*time.Second, "producer callbacks", func() (bool, error) {
		undelivered = 0
		for _, pr := range r.producers {
			undelivered += pr.m.outstanding()
		}
		return undelivered == 0, nil
	})
	return undelivered
}

// watchdog keeps the load phase bounded when producers sit blocked in
// Produce (buffer full, broker gone): after Ctrl-C it allows 5 s, and
// without any acknowledgement for the delivery timeout plus 5 s it gives
// up. Closing the clients fails the blocked and buffered records.
func (r *run) watchdog(ctx context.Context, loadDone <-chan struct{}, abort context.CancelFunc) {
	stall := r.p.producer.deliveryTimeout + 5*time.Second
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := int64(-1), time.Now()
	var interrupted time.Time
	for {
		select {
		case <-loadDone:
			return
		case <-tick.C:
		}
		if ctx.Err() != nil && interrupted.IsZero() {
			interrupted = time.Now()
		}
		var done, pending int64
		for _, pr := range r.producers {
			d, p := pr.m.progress()
			done, pending = done+d, pending+p
		}
		if done != last {
			last, lastChange = done, time.Now()
		}
		stuck := pending > 0 && time.Since(lastChange) > stall
		late := !interrupted.IsZero() && time.Since(interrupted) > 5*time.Second
		if stuck || late {
			abort()
			for _, pr := range r.producers {
				pr.close()
			}
			return
		}
	}
}

func (r *run) closeClients() {
	for _, pr := range r.producers {
		pr.close()
	}
	for _, c := range r.consumers {
		c.close()
	}
}

// startConsumers creates the consumers and makes sure they start exactly at
// the offsets captured now, so an e2e run misses nothing it produces.
func (r *run) startConsumers(ctx, consumeCtx context.Context, wg *sync.WaitGroup) error {
	topic := r.cfg.Topic.Name
	s := r.p.consumer
	_, resetSet := s.explicit["auto.offset.reset"]
	var start map[int32]int64
	var err error
	switch {
	case r.cfg.Mode == ModeE2E:
		start, err = r.adm.offsets(ctx, topic, r.parts, -1)
	case resetSet && s.offsetReset == "latest":
		start, err = r.adm.offsets(ctx, topic, r.parts, -1)
	default:
		// A consume run reads what is there unless told otherwise.
		start, err = r.adm.offsets(ctx, topic, r.parts, -2)
	}
	if err != nil {
		return err
	}
	if r.cfg.Mode == ModeConsume {
		if r.target, err = r.adm.offsets(ctx, topic, r.parts, -1); err != nil {
			return err
		}
		var avail int64
		for p, end := range r.target {
			avail += end - start[p]
		}
		if avail == 0 && r.cfg.NumRecords == 0 {
			return fmt.Errorf("topic %s has nothing to read from where consuming starts: give --prefill N to write records first, or --num-records N to wait for N new ones", topic)
		}
	}
	shareGroup := s.share()
	if shareGroup {
		if err := r.adm.prepareShareGroup(ctx, s.groupID); err != nil {
			return err
		}
	}
	r.posMu.Lock()
	for p, o := range start {
		if !r.owns(p) {
			delete(r.target, p)
			continue
		}
		r.pos[p] = o
		if shareGroup {
			if r.shareSeen == nil {
				r.shareSeen = map[int32]*shareSeen{}
			}
			r.shareSeen[p] = &shareSeen{base: o}
		}
	}
	r.posMu.Unlock()

	first, total, n := r.consumerSlots(s.groupID)
	for i := range n {
		c := &consumer{m: newMeter(r.cfg.Warmup)}
		var extra []kgo.Opt
		switch {
		case shareGroup:
			extra = append(extra, kgo.ConsumeTopics(topic))
		case s.groupID == "":
			assign := map[int32]kgo.Offset{}
			for p := int32(first + i); p < r.parts; p += int32(total) {
				assign[p] = kgo.NewOffset().At(start[p])
			}
			extra = append(extra, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}))
		default:
			extra = append(extra, kgo.ConsumeTopics(topic),
				kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
					c.assigned.Add(int64(len(m[topic])))
				}),
				kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
					c.assigned.Add(-int64(len(m[topic])))
				}),
				kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
					c.assigned.Add(-int64(len(m[topic])))
				}),
				// Partitions without a committed offset start where this
				// run starts, not wherever the reset policy would put them.
				kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
					for p, o := range offs[topic] {
						if o.EpochOffset().Offset < 0 {
							offs[topic][p] = kgo.NewOffset().At(start[p]).WithEpoch(-1)
						}
					}
					return offs, nil
				}),
			)
		}
		cl, err := kgo.NewClient(r.clientOpts(r.p.consumerOpts, extra...)...)
		if err != nil {
			return fmt.Errorf("consumer client: %w", err)
		}
		c.cl = cl
		if r.bl != nil || s.groupID != "" && !shareGroup {
			// Until the backlog is built, or the group settled: a member
			// that is assigned partitions first (at once, with
			// group.protocol=consumer) would otherwise consume before the
			// measurement starts. (A share group's members share
			// partitions; waitShareGroup waits for its assignment.)
			cl.PauseFetchTopics(topic)
		}
		r.consumers = append(r.consumers, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.consumeLoop(consumeCtx, c)
		}()
	}
	if shareGroup {
		return r.waitShareGroup(ctx, n)
	}
	if s.groupID != "" {
		// Wait for a settled group: every partition held and, when there are
		// enough partitions, every consumer holding some. Starting earlier
		// means a rebalance during the measurement.
		err := pollUntil(ctx, 30*time.Second, fmt.Sprintf("group %s to assign all %d partitions to its %d consumers", s.groupID, r.parts, n), func() (bool, error) {
			var total int64
			for _, c := range r.consumers {
				held := c.assigned.Load()
				if held == 0 && n <= int(r.parts) {
					return false, nil
				}
				total += held
			}
			return total == int64(r.parts), nil
		})
		if err != nil {
			return err
		}
		if s.groupProtocol == "consumer" {
			if err := checkConsumerProtocol(ctx, r.consumers[0].cl, s.groupID, n); err != nil {
				return err
			}
		}
		if r.bl == nil {
			for _, c := range r.consumers {
				c.cl.ResumeFetchTopics(topic)
			}
		}
	}
	return nil
}

func (r *run) consumeLoop(ctx context.Context, c *consumer) {
	// 0 (max.poll.records unset) takes every record the client holds: with
	// a limit, franz-go, like Java's consumer, fetches from a broker again
	// only once its last fetch has been polled to the end.
	maxPoll := r.p.consumer.maxPollRecords
	r.bl.waitResume(ctx)
	var polls uint64
	for {
		fs := c.cl.PollRecords(ctx, maxPoll)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		// Consumers start before the clock does (so they miss nothing);
		// what they read before it counts as time 0.
		var now time.Duration
		if st := r.started.Load(); st != nil {
			now = time.Since(*st)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.m.fetchError(err)
			}
		})
		// One poll in ownPollSample is timed, as one record in ownSample
		// is: timing is not free per poll of small records.
		polls++
		sampled := polls%ownPollSample == 0
		var t0 ownMark
		if sampled {
			t0 = ownStart()
		}
		r.posMu.Lock()
		c.m.mu.Lock()
		if r.shareSeen != nil {
			r.shareConsumed(c, fs, now)
		} else {
			r.classicConsumed(c, fs, now)
		}
		c.m.mu.Unlock()
		r.posMu.Unlock()
		if sampled && now >= r.cfg.Warmup {
			c.own.add(t0, ownPollSample)
		}
	}
}

// classicConsumed measures one poll of a classic consumer. Caller holds posMu
// and the consumer meter's lock.
func (r *run) classicConsumed(c *consumer, fs kgo.Fetches, now time.Duration) {
	hooks := r.cfg.Hooks
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		pos := r.pos[p.Partition]
		for _, rec := range p.Records {
			if rec.Offset < pos {
				// A rebalance handed this partition over from an older
				// position: the record was measured the first time.
				r.redelivered.Add(1)
				continue
			}
			pos = rec.Offset + 1
			if r.cfg.Mode == ModeConsume && r.cfg.NumRecords > 0 && r.taken.Add(1) > r.cfg.NumRecords {
				continue
			}
			intended, ours, timed := r.stamp(rec)
			c.m.consumed(intended, now, len(rec.Key)+len(rec.Value), ours, timed)
			if hooks != nil && hooks.OnConsume != nil {
				hooks.OnConsume(rec)
			}
		}
		r.pos[p.Partition] = pos
	})
}

// stamp decodes a consumed record's kbench stamp, without allocating:
// intended is -1 when the record carries none of this run's, timed set
// when it is this run's own (its latency can be taken on this clock). An
// agent's run also reads the other agents' records: their intended send
// time (on clocks started together) only places them in or out of the
// measured window. A consume run counts every record as its own.
func (r *run) stamp(rec *kgo.Record) (intended time.Duration, ours, timed bool) {
	intended, ours = -1, r.cfg.Mode == ModeConsume
	if ours && (r.cfg.Share == nil || len(r.cfg.Share.Peers) == 0) {
		// A consume run outside an agent's share meets neither its own
		// stamps nor a peer's, and reading every record's stamp costs it
		// a cache miss per record.
		return intended, ours, false
	}
	for i := range rec.Headers {
		h := &rec.Headers[i]
		if h.Key != StampHeader || len(h.Value) != 16 {
			continue
		}
		switch id := binary.BigEndian.Uint64(h.Value); {
		case id == r.runID:
			intended, ours, timed = time.Duration(binary.BigEndian.Uint64(h.Value[8:])), true, true
		case r.cfg.Share.peer(id):
			intended = time.Duration(binary.BigEndian.Uint64(h.Value[8:]))
		}
	}
	return intended, ours, timed
}

// waitConsumed ends a consume run's load phase: every partition read up to
// where it ended when the run began, NumRecords read, or time is up.
func (r *run) waitConsumed(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if r.cfg.NumRecords > 0 && r.consumedCount() >= r.cfg.NumRecords {
			return
		}
		r.posMu.Lock()
		done := true
		for p, end := range r.target {
			if r.pos[p] < end {
				done = false
			}
		}
		r.posMu.Unlock()
		if done && r.cfg.NumRecords == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (r *run) producerMeters() []*meter {
	ms := make([]*meter, len(r.producers))
	for i, pr := range r.producers {
		ms[i] = pr.m
	}
	return ms
}

func (r *run) consumerMeters() []*meter {
	ms := make([]*meter, len(r.consumers))
	for i, c := range r.consumers {
		ms[i] = c.m
	}
	return ms
}

func totalOf(ms []*meter) *tally {
	t := newTally()
	for _, m := range ms {
		m.total(t)
	}
	return t
}

func countOf(ms []*meter) int64 {
	var n int64
	for _, m := range ms {
		n += m.count()
	}
	return n
}

func (r *run) consumedCount() int64 { return countOf(r.consumerMeters()) }

func (r *run) ackedCount() int64 { return countOf(r.producerMeters()) }

// drain lets e2e consumers catch up with every acknowledged record.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	for r.consumedCount() < r.ackedCount() && time.Now().Before(deadline) {
		if sleepCtx(ctx, 20*time.Millisecond) != nil {
			return
		}
	}
}

// lag is the consumer lag in records, summed over partitions.
func (r *run) lag(ctx context.Context) int64 {
	end, err := r.adm.offsets(ctx, r.cfg.Topic.Name, r.parts, -1)
	if err != nil {
		return -1
	}
	r.posMu.Lock()
	defer r.posMu.Unlock()
	var lag int64
	for p, e := range end {
		if r.owns(p) {
			lag += max(e-r.pos[p], 0)
		}
	}
	return lag
}

// snapshot collects the interval since the previous one from every meter.
func (r *run) snapshot(idx int) *Interval {
	t := newTally()
	for _, m := range append(r.producerMeters(), r.consumerMeters()...) {
		m.drainInterval(t)
	}
	now := r.newMark()
	prev := r.lastIntervalMark
	r.lastIntervalMark = now
	iv := &Interval{
		Mode: r.cfg.Mode, Index: idx, RunStart: r.start,
		Start: prev.at, End: now.at, Warmup: prev.at < r.cfg.Warmup,
	}
	t.fill(iv)
	// CPU time is accounted in scheduler ticks, so a very short interval
	// would show noise; it is left at 0.
	if d := now.at - prev.at; d >= 100*time.Millisecond {
		iv.CPUCores = float64(now.cpu-prev.cpu) / float64(d)
	}
	return iv
}

func intervalFigures(iv *Interval) IntervalFigures {
	d := iv.End - iv.Start
	return IntervalFigures{
		End:           secs(iv.End),
		Warmup:        iv.Warmup,
		AckedPerSec:   perSec(iv.Acked, d),
		ConsumedPer:   perSec(iv.Consumed, d),
		ServiceP99:    ms(iv.Service.ValueAtQuantile(99)),
		ResponseP99:   ms(iv.Response.ValueAtQuantile(99)),
		E2EP99:        ms(iv.E2E.ValueAtQuantile(99)),
		Failed:        iv.Failed,
		CPUCores:      iv.CPUCores,
		ResponseCount: iv.Response.TotalCount(),
	}
}

func (r *run) result(man Manifest, start *mark, end mark, loadEnd time.Duration, interrupted bool, undelivered, lagAtEnd int64) *Result {
	res := &Result{
		Mode: r.cfg.Mode, Settings: r.cfg, Manifest: man, Partitions: r.parts,
		Elapsed: secs(loadEnd), Interrupted: interrupted,
	}
	if r.cfg.Mode != ModeConsume {
		res.EffectiveProducer = r.p.producer.effectiveProducer()
	}
	warm := r.cfg.Warmup
	var window time.Duration
	if start != nil {
		window = end.at - start.at
		res.Measured = secs(window)
		res.CPU.Cores = float64(end.cpu-start.cpu) / float64(max(window, 1))
	}
	res.CPU.Available = runtime.GOMAXPROCS(0)
	if window > 0 {
		var own time.Duration
		for _, pr := range r.producers {
			own += pr.own.total()
		}
		for _, c := range r.consumers {
			own += c.own.total()
		}
		res.CPU.Own = max(min(float64(own)/float64(window), res.CPU.Cores), 0)
	}
	res.CPU.Saturated = res.CPU.Cores >= CPUSaturation*float64(res.CPU.Available)
	if ip, ok := r.cfg.Target.(InProcess); ok && ip.InProcess() {
		res.CPU.IncludesBroker = true
	}
	errs := map[errKey]int64{}
	if r.cfg.Mode != ModeConsume {
		t := totalOf(r.producerMeters())
		addErrs(errs, t.errs)
		// The rate is a delivery rate: the acknowledgements that arrived
		// in the window, over the window. The window runs from warmup to
		// the last acknowledgement or to when sending stopped, whichever
		// is later: a broker that stops acknowledging must not shrink the
		// window and flatter the rate. Counting the records sent in the
		// window instead (t.acked) would leave out the records the client
		// held when the window opened, though the window waits for the
		// ones it holds when sending stops: an unthrottled run with a deep
		// client buffer read 20 % slow that way.
		pw := max(max(t.lastAck, loadEnd)-warm, 0)
		f := &ProduceFigures{
			TargetRate: r.cfg.Rate, Sent: t.sent, Acked: t.acked, Failed: t.failed,
			Undelivered:   undelivered,
			RecordsPerSec: perSec(t.delivered, pw),
			MiBPerSec:     perSec(t.deliveredBytes, pw) / mib,
		}
		if r.cfg.Rate > 0 {
			f.AchievedPct = 100 * f.RecordsPerSec / r.cfg.Rate
		}
		if start != nil {
			f.WireMiBPerSec = perSec(end.produce-start.produce, window) / mib
			if w := end.batchWire - start.batchWire; w > 0 {
				f.CompressionRatio = float64(end.batchRaw-start.batchRaw) / float64(w)
			}
		}
		res.Produce = f
		res.Latency.Service = summarize(t.service)
		res.Latency.Response = summarize(t.response)
	}
	if r.cfg.Mode != ModeProduce {
		t := totalOf(r.consumerMeters())
		addErrs(errs, t.errs)
		cw := max(max(t.lastConsume, loadEnd)-warm, 0)
		f := &ConsumeFigures{
			Consumed:      t.consumed,
			RecordsPerSec: perSec(t.consumed, cw),
			MiBPerSec:     perSec(t.consumedBytes, cw) / mib,
			LagAtEnd:      lagAtEnd,
			Redelivered:   r.redelivered.Load(),
		}
		if r.shareSeen != nil {
			r.posMu.Lock()
			f.ShareDeliveries, f.MaxDeliveryCount = r.groupStats.deliveries, r.groupStats.maxDelivery
			r.posMu.Unlock()
		}
		if start != nil {
			f.WireMiBPerSec = perSec(end.fetch-start.fetch, window) / mib
		}
		if r.p.consumer.groupID == "" && r.cfg.Consumers > int(r.parts) {
			f.IdleConsumers = r.cfg.Consumers - int(r.parts)
		}
		switch {
		case r.cfg.Mode != ModeE2E:
		case r.cfg.Share != nil:
			// Other agents read this agent's records: what is left unread
			// is the lag on the partitions this agent reads.
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			f.Unconsumed = max(r.lag(lctx), 0)
			cancel()
		default:
			f.Unconsumed = max(r.ackedCount()-r.consumedCount(), 0)
		}
		if r.cfg.Mode == ModeE2E {
			res.Latency.E2E = summarize(t.e2e)
		}
		res.Consume = f
	}
	res.Errors = errorCounts(errs)
	res.Backlog = r.bl.figures()
	res.judge()
	return res
}

func addErrs(dst, src map[errKey]int64) {
	for k, v := range src {
		dst[k] += v
	}
}
