package verify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record headers the workloads write.
const (
	// IDHeader carries a record's id "P:S".
	IDHeader = "kbench-verify-id"
	// SrcHeader carries the input id a pipeline output record was made from.
	SrcHeader = "kbench-verify-src"
	// TxnHeader carries the id of the transaction that wrote the record.
	TxnHeader = "kbench-verify-txn"
)

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// produceOutcome classifies a produce error: fail when Kafka says the
// record was not written, info (unknown) otherwise.
func produceOutcome(err error) Outcome {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.InvalidTopicException),
		errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.CorruptMessage):
		return Fail
	}
	return Info
}

// producers write ids "P:S" to a topic at the run's rate.
type producers struct {
	e        *env
	stop     chan struct{}
	stopOnce sync.Once
	loops    sync.WaitGroup
	clients  []*kgo.Client
}

// startProducers starts cfg.Run.Producers clients writing to topic.
func (e *env) startProducers(ctx context.Context, topic string) (*producers, error) {
	return e.startProducerSet(ctx, topic, e.popts, e.idempotent, 0, e.cfg.Run.Producers)
}

// startProducerSet starts n clients with opts, numbered from first, at the
// run's rate in total.
func (e *env) startProducerSet(ctx context.Context, topic string, popts []kgo.Opt, idem bool, first, n int) (*producers, error) {
	ps := &producers{e: e, stop: make(chan struct{})}
	every := time.Duration(float64(n) / e.cfg.Run.Rate * float64(time.Second))
	for i := first; i < first+n; i++ {
		cl, err := kgo.NewClient(append(slices.Clone(popts), kgo.DefaultProduceTopic(topic))...)
		if err != nil {
			ps.close()
			return nil, fmt.Errorf("producer: %w", err)
		}
		ps.clients = append(ps.clients, cl)
		proc := fmt.Sprintf("producer-%d", i)
		ps.loops.Add(1)
		go func() {
			defer ps.loops.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-ps.stop:
					return
				case <-ctx.Done():
					return
				case <-t.C:
				}
				id := fmt.Sprintf("%d:%d", i, seq)
				r := &kgo.Record{Key: []byte(id), Value: []byte(id), Headers: []kgo.RecordHeader{{Key: IDHeader, Value: []byte(id)}}}
				e.rec.Record(Op{Type: TProduce, Outcome: Invoke, Proc: proc, ID: id, Topic: topic, Idem: idem})
				cl.Produce(ctx, r, func(r *kgo.Record, err error) {
					op := Op{Type: TProduce, Outcome: produceOutcome(err), Proc: proc, ID: id, Topic: topic, Partition: r.Partition, Offset: r.Offset}
					if err != nil {
						op.Offset, op.Err = -1, err.Error()
					}
					e.rec.Record(op)
				})
			}
		}()
	}
	return ps, nil
}

// stopProducing stops sending and waits (bounded) for outstanding records;
// records still outstanding then end with an unknown outcome.
func (ps *producers) stopProducing() {
	ps.stopSending()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	for _, cl := range ps.clients {
		_ = cl.Flush(ctx)
	}
	ps.close()
}

// stopSending ends the send loops; outstanding records keep going.
func (ps *producers) stopSending() {
	ps.stopOnce.Do(func() { close(ps.stop) })
	ps.loops.Wait()
}

func (ps *producers) close() {
	for _, cl := range ps.clients {
		cl.Close()
	}
	ps.clients = nil
}

// progress tracks the highest offset delivered per partition, to know when
// consumers caught up (a liveness wait, never a safety decision).
type progress struct {
	mu   sync.Mutex
	next map[int32]int64
	last time.Time
}

func newProgress() *progress { return &progress{next: map[int32]int64{}, last: time.Now()} }

func (p *progress) saw(part int32, off int64) {
	p.mu.Lock()
	if off+1 > p.next[part] {
		p.next[part] = off + 1
		p.last = time.Now()
	}
	p.mu.Unlock()
}

// caughtUp reports whether every partition reached its end offset, and
// how long ago progress was last made.
func (p *progress) caughtUp(ends map[int32]int64) (bool, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for part, end := range ends {
		if p.next[part] < end {
			return false, time.Since(p.last)
		}
	}
	return true, time.Since(p.last)
}

// endOffsets lists topic's end offsets (read_committed: last stable offsets).
func (e *env) endOffsets(ctx context.Context, topic string, committed bool) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list := e.adm.ListEndOffsets
	if committed {
		list = e.adm.ListCommittedOffsets
	}
	lo, err := list(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var errs []error
	for p, o := range lo[topic] {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("partition %d: %w", p, o.Err))
		}
		out[p] = o.Offset
	}
	if len(out) == 0 {
		errs = append(errs, fmt.Errorf("no end offsets for %s", topic))
	}
	return out, errors.Join(errs...)
}

// recordEnds writes a topic's last stable offsets and high watermarks to
// the history.
func (e *env) recordEnds(topic string, lso, hw map[int32]int64) {
	for _, p := range slices.Sorted(maps.Keys(hw)) {
		e.rec.Record(Op{Type: TEnds, Outcome: OK, Proc: "final", Topic: topic, Partition: p, Offset: lso[p], HW: hw[p]})
	}
}

// waitCaughtUp waits until prog reached the end offsets of topic, failing
// after the drain timeout without progress.
func (e *env) waitCaughtUp(ctx context.Context, what, topic string, committed bool, prog *progress) error {
	start := time.Now()
	for {
		ends, err := e.endOffsets(ctx, topic, committed)
		if err == nil {
			if done, _ := prog.caughtUp(ends); done {
				return nil
			}
		}
		// Checked whether or not the end offsets could be read: a cluster
		// that keeps failing the reads must not hold the drain forever.
		if _, idle := prog.caughtUp(nil); min(idle, time.Since(start)) > e.cfg.Drain {
			return fmt.Errorf("%s did not catch up with %s within %s without progress (end offsets %v, last error %v)", what, topic, e.cfg.Drain, ends, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// produceLoad is the produce workload: producers, then a final read-back.
type produceLoad struct {
	e  *env
	ps *producers
}

func (e *env) startProduce(ctx context.Context) (load, error) {
	ps, err := e.startProducers(ctx, e.topic)
	if err != nil {
		return nil, err
	}
	return &produceLoad{e: e, ps: ps}, nil
}

func (l *produceLoad) stopProducing() { l.ps.stopProducing() }

func (l *produceLoad) drain(ctx context.Context) error {
	e := l.e
	ends, err := e.endOffsets(ctx, e.topic, false)
	if err != nil {
		return fmt.Errorf("final read: %w", err)
	}
	e.rec.Record(Op{Type: TPhase, Note: PhaseDrained})
	return e.readAll(ctx, e.topic, ends, false, func(r *kgo.Record) {
		e.rec.Record(Op{Type: TRead, Outcome: OK, Proc: "final-read", ID: header(r, IDHeader), Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
	})
}

// readAll reads every partition of topic from its start to ends.
func (e *env) readAll(ctx context.Context, topic string, ends map[int32]int64, committed bool, fn func(*kgo.Record)) error {
	offs := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			offs[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(offs) == 0 {
		return nil
	}
	opts := append(slices.Clone(e.ropts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	prog := newProgress()
	almost := map[int32]int64{}
	for p, end := range ends {
		almost[p] = end - 1
	}
	for {
		done, idle := prog.caughtUp(ends)
		// A transactional topic ends in a control marker nobody receives.
		if nearly, _ := prog.caughtUp(almost); done || nearly && idle > 2*time.Second {
			return nil
		}
		if idle > e.cfg.Drain {
			return fmt.Errorf("final read of %s: no progress for %s (end offsets %v)", topic, e.cfg.Drain, ends)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				fn(r)
			}
			prog.saw(r.Partition, r.Offset)
		})
	}
}

// queueLoad is the queue workload: producers plus a consumer group.
type queueLoad struct {
	e        *env
	ps       *producers
	prog     *progress
	cancel   context.CancelFunc
	loops    sync.WaitGroup
	clients  []*kgo.Client
	observer chan struct{}
	obsDone  sync.WaitGroup

	// What each member owns (for scenarios to wait on; never a safety
	// decision), and how to kill one.
	mu      sync.Mutex
	own     map[string][]int32
	cancels map[string]context.CancelFunc
	cuts    map[string]*cutDialer
}

func (l *queueLoad) setOwned(proc string, ps []int32, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.own[proc]
	if add {
		cur = append(cur, ps...)
	} else {
		cur = slices.DeleteFunc(cur, func(p int32) bool { return slices.Contains(ps, p) })
	}
	slices.Sort(cur)
	l.own[proc] = slices.Compact(cur)
}

// owners counts the members owning partitions.
func (l *queueLoad) owners() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ps := range l.own {
		if len(ps) > 0 {
			n++
		}
	}
	return n
}

func (l *queueLoad) owned(proc string) []int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.own[proc])
}

func (l *queueLoad) ownerOf(p int32) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for proc, ps := range l.own {
		if slices.Contains(ps, p) {
			return proc
		}
	}
	return ""
}

// kill crashes a member: its connections are cut (no LeaveGroup, no
// heartbeats) and its loop stops.
func (l *queueLoad) kill(proc string) {
	l.mu.Lock()
	cut, cancel := l.cuts[proc], l.cancels[proc]
	delete(l.own, proc)
	l.mu.Unlock()
	if cut != nil {
		cut.setCut(true)
	}
	if cancel != nil {
		cancel()
	}
}

func (e *env) startQueue(ctx context.Context) (load, error) {
	l := &queueLoad{e: e, prog: newProgress(), observer: make(chan struct{}),
		own: map[string][]int32{}, cancels: map[string]context.CancelFunc{}, cuts: map[string]*cutDialer{}}
	cctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	for i := range e.cfg.Run.Consumers {
		if err := l.startConsumer(cctx, fmt.Sprintf("consumer-%d", i)); err != nil {
			l.close()
			return nil, err
		}
	}
	l.obsDone.Add(1)
	go func() {
		defer l.obsDone.Done()
		e.observe(ctx, l.observer)
	}()
	ps, err := e.startProducers(ctx, e.topic)
	if err != nil {
		l.close()
		return nil, err
	}
	l.ps = ps
	return l, nil
}

// commitRecorder records a commit's per-partition outcomes.
func (e *env) commitRecorder(proc string, t0 func() float64) func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error) {
	return func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		start := t0()
		if err != nil {
			for _, t := range req.Topics {
				for _, p := range t.Partitions {
					e.rec.Record(Op{Type: TCommit, Outcome: Info, T0: start, Proc: proc, Group: req.Group, Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, Err: err.Error()})
				}
			}
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				off := int64(-1)
				for _, rt := range req.Topics {
					for _, rp := range rt.Partitions {
						if rt.Topic == t.Topic && rp.Partition == p.Partition {
							off = rp.Offset
						}
					}
				}
				op := Op{Type: TCommit, Outcome: OK, T0: start, Proc: proc, Group: req.Group, Topic: t.Topic, Partition: p.Partition, Offset: off}
				if cerr := kerr.ErrorForCode(p.ErrorCode); cerr != nil {
					op.Outcome, op.Err = Fail, cerr.Error()
				}
				e.rec.Record(op)
			}
		}
	}
}

func (l *queueLoad) startConsumer(ctx context.Context, proc string) error {
	e := l.e
	partitions := func(m map[string][]int32) []int32 { return slices.Sorted(slices.Values(m[e.topic])) }
	var lastAuto atomic.Uint64 // history time of the last auto-commit's completion, as float bits
	opts := append(slices.Clone(e.copts),
		kgo.ConsumeTopics(e.topic),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			e.rec.Record(Op{Type: TAssign, Proc: proc, Group: e.group, Partitions: partitions(m)})
			l.setOwned(proc, partitions(m), true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if e.cfg.Commit == "auto" {
				// What the default revoke does: commit what was polled.
				_ = cl.CommitUncommittedOffsets(ctx)
			}
			e.rec.Record(Op{Type: TRevoke, Proc: proc, Group: e.group, Partitions: partitions(m)})
			l.setOwned(proc, partitions(m), false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			e.rec.Record(Op{Type: TLost, Proc: proc, Group: e.group, Partitions: partitions(m)})
			l.setOwned(proc, partitions(m), false)
		}),
	)
	if e.cuttable {
		cut := &cutDialer{}
		l.cuts[proc] = cut
		opts = append(opts, kgo.Dialer(cut.dial))
	}
	ctx, cancel := context.WithCancel(ctx)
	l.cancels[proc] = cancel
	if e.cfg.Commit == "auto" {
		lastAuto.Store(floatBits(e.rec.Now()))
		rec := e.commitRecorder(proc, func() float64 { return bitsFloat(lastAuto.Load()) })
		opts = append(opts, kgo.AutoCommitCallback(func(cl *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			rec(cl, req, resp, err)
			lastAuto.Store(floatBits(e.rec.Now()))
		}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	l.clients = append(l.clients, cl)
	l.loops.Add(1)
	go func() {
		defer l.loops.Done()
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 500)
			offs := map[string]map[int32]kgo.EpochOffset{}
			fs.EachRecord(func(r *kgo.Record) {
				e.rec.Record(Op{Type: TConsume, Outcome: OK, Proc: proc, ID: header(r, IDHeader), Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
				l.prog.saw(r.Partition, r.Offset)
				if offs[r.Topic] == nil {
					offs[r.Topic] = map[int32]kgo.EpochOffset{}
				}
				offs[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
			})
			if len(offs) > 0 && e.cfg.Commit != "auto" {
				t0 := e.rec.Now()
				rec := e.commitRecorder(proc, func() float64 { return t0 })
				if e.cfg.Commit == "sync" {
					cl.CommitOffsetsSync(ctx, offs, rec)
				} else {
					cl.CommitOffsets(ctx, offs, rec)
				}
			}
			cl.AllowRebalance()
		}
	}()
	return nil
}

func (l *queueLoad) stopProducing() { l.ps.stopProducing() }

func (l *queueLoad) drain(ctx context.Context) error {
	err := l.e.waitCaughtUp(ctx, "the group", l.e.topic, false, l.prog)
	l.e.rec.Record(Op{Type: TPhase, Note: PhaseDrained, Err: errString(err)})
	l.close()
	close(l.observer)
	l.obsDone.Wait()
	return err
}

func (l *queueLoad) close() {
	l.cancel()
	l.loops.Wait()
	for _, cut := range l.cuts {
		cut.setCut(false) // a killed member may leave now
	}
	for _, cl := range l.clients {
		cl.Close()
	}
	l.clients = nil
}

// observe reads the group's committed offsets every 500 ms until stop is
// closed, and once more after.
func (e *env) observe(ctx context.Context, stop <-chan struct{}) {
	read := func() {
		t0 := e.rec.Now()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := e.adm.FetchOffsets(rctx, e.group)
		if err != nil {
			return
		}
		for p := range e.parts {
			off := int64(-1)
			if o, ok := resp.Lookup(e.topic, p); ok {
				if o.Err != nil {
					continue
				}
				off = o.At
			}
			e.rec.Record(Op{Type: TOffsets, Outcome: OK, T0: t0, Proc: "observer", Group: e.group, Topic: e.topic, Partition: p, Offset: off})
		}
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			read()
			return
		case <-ctx.Done():
			return
		case <-t.C:
			read()
		}
	}
}
