package verify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnLoad is the txn workload: producers write the input topic; workers
// consume it in a group and write each record to the output topic in a
// transaction that also commits their offsets (franz-go's
// GroupTransactSession); a read_committed consumer reads the output.
type txnLoad struct {
	e      *env
	ps     *producers
	out    string
	cancel context.CancelFunc // workers
	wg     sync.WaitGroup
	// downstream
	dcancel context.CancelFunc
	dwg     sync.WaitGroup
	dprog   *progress
	// abortTxn, when > 0, makes worker 0 abort its abortTxn-th transaction
	// on purpose (the eos scenario).
	abortTxn int
}

func (e *env) startTxn(ctx context.Context) (load, error) {
	l := &txnLoad{e: e, out: e.topic + "-out", dprog: newProgress(), abortTxn: e.abortTxn}
	dctx, dcancel := context.WithCancel(ctx)
	l.dcancel = dcancel
	if err := l.startDownstream(dctx); err != nil {
		dcancel()
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	for i := range e.cfg.Run.Consumers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.worker(wctx, i)
		}()
	}
	ps, err := e.startProducers(ctx, e.topic)
	if err != nil {
		l.stopAll()
		return nil, err
	}
	l.ps = ps
	return l, nil
}

func (l *txnLoad) sessionOpts(i int) []kgo.Opt {
	e := l.e
	opts := append(slices.Clone(e.popts), e.copts...)
	return append(opts,
		kgo.TransactionalID(txnID(e.topic, i)),
		kgo.TransactionTimeout(15*time.Second),
		kgo.ConsumeTopics(e.topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic(l.out),
		kgo.DisableAutoCommit(),
	)
}

// txnID is worker i's transactional id.
func txnID(topic string, i int) string { return fmt.Sprintf("%s-txn-%d", topic, i) }

// worker runs transactions until ctx ends; after an error from End (the
// session cannot continue) it starts a new session with the same
// transactional id, which fences the old one.
func (l *txnLoad) worker(ctx context.Context, i int) {
	e := l.e
	proc := fmt.Sprintf("txn-%d", i)
	n, seq := 0, 0
	for ctx.Err() == nil {
		s, err := kgo.NewGroupTransactSession(l.sessionOpts(i)...)
		if err != nil {
			e.logf("%s: %v", proc, err)
			return
		}
		for ctx.Err() == nil {
			fs := s.PollRecords(ctx, 100)
			if fs.NumRecords() == 0 {
				continue
			}
			if err := s.Begin(); err != nil {
				e.logf("%s: begin: %v", proc, err)
				break
			}
			n++
			txn := fmt.Sprintf("%s/%d", proc, n)
			e.rec.Record(Op{Type: TTxnBegin, Outcome: Invoke, Proc: proc, Txn: txn})
			fs.EachRecord(func(in *kgo.Record) {
				id := fmt.Sprintf("t%d:%d", i, seq)
				seq++
				src := header(in, IDHeader)
				r := &kgo.Record{Key: []byte(src), Value: in.Value, Headers: []kgo.RecordHeader{
					{Key: IDHeader, Value: []byte(id)}, {Key: SrcHeader, Value: []byte(src)}, {Key: TxnHeader, Value: []byte(txn)},
				}}
				e.rec.Record(Op{Type: TProduce, Outcome: Invoke, Proc: proc, ID: id, Src: src, Txn: txn, Topic: l.out})
				s.Produce(ctx, r, func(r *kgo.Record, err error) {
					op := Op{Type: TProduce, Outcome: produceOutcome(err), Proc: proc, ID: id, Src: src, Txn: txn, Topic: l.out, Partition: r.Partition, Offset: r.Offset}
					if err != nil {
						op.Offset, op.Err = -1, err.Error()
					}
					e.rec.Record(op)
				})
			})
			try := kgo.TryCommit
			if i == 0 && n == l.abortTxn {
				// Written first, so the log holds what the abort hides.
				try = kgo.TryAbort
				if err := s.Client().Flush(ctx); err != nil {
					e.logf("%s: flush before the abort: %v", proc, err)
				}
			}
			e.rec.Record(Op{Type: TTxnCommit, Outcome: Invoke, Proc: proc, Txn: txn})
			committed, err := s.End(ctx, try)
			switch {
			case err != nil:
				e.rec.Record(Op{Type: TTxnCommit, Outcome: Info, Proc: proc, Txn: txn, Err: err.Error()})
			case committed:
				e.rec.Record(Op{Type: TTxnCommit, Outcome: OK, Proc: proc, Txn: txn})
			default:
				note := "aborted by the session (a rebalance or failed offset commit)"
				if try == kgo.TryAbort {
					note = "aborted on purpose"
				}
				e.rec.Record(Op{Type: TTxnAbort, Outcome: OK, Proc: proc, Txn: txn, Note: note})
			}
			if err != nil {
				break
			}
		}
		s.Close()
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// startDownstream reads the output topic with read_committed from the start.
func (l *txnLoad) startDownstream(ctx context.Context) error {
	e := l.e
	cl, err := kgo.NewClient(append(slices.Clone(e.ropts),
		kgo.ConsumeTopics(l.out),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return fmt.Errorf("downstream consumer: %w", err)
	}
	l.dwg.Add(1)
	go func() {
		defer l.dwg.Done()
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 500)
			fs.EachRecord(func(r *kgo.Record) {
				e.rec.Record(Op{Type: TConsume, Outcome: OK, Proc: "downstream", ID: header(r, IDHeader), Src: header(r, SrcHeader), Txn: header(r, TxnHeader),
					Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
				l.dprog.saw(r.Partition, r.Offset)
			})
		}
	}()
	return nil
}

func (l *txnLoad) stopProducing() { l.ps.stopProducing() }

// drain waits until the workers committed every input offset, stops them,
// then lets the downstream consumer read until the output holds still.
func (l *txnLoad) drain(ctx context.Context) error {
	e := l.e
	err := l.waitCommitted(ctx)
	l.cancel()
	l.wg.Wait()
	if derr := l.waitQuiet(ctx); err == nil {
		err = derr
	}
	e.rec.Record(Op{Type: TPhase, Note: PhaseDrained, Err: errString(err)})
	l.dcancel()
	l.dwg.Wait()
	if l.abortTxn > 0 {
		// What the log holds, aborted transactions included.
		hw, herr := e.endOffsets(ctx, l.out, false)
		if herr == nil {
			herr = e.readAll(ctx, l.out, hw, false, func(r *kgo.Record) {
				e.rec.Record(Op{Type: TRead, Outcome: OK, Proc: "final-read-uncommitted", ID: header(r, IDHeader), Src: header(r, SrcHeader), Txn: header(r, TxnHeader),
					Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
			})
		}
		if err == nil && herr != nil {
			err = fmt.Errorf("read_uncommitted read of %s: %w", l.out, herr)
		}
	}
	return err
}

func (l *txnLoad) stopAll() {
	l.cancel()
	l.wg.Wait()
	l.dcancel()
	l.dwg.Wait()
}

// waitCommitted waits until the group's committed offsets reach the input's
// end offsets, giving up after the drain timeout without progress.
func (l *txnLoad) waitCommitted(ctx context.Context) error {
	e := l.e
	var last map[int32]int64
	moved := time.Now()
	for {
		ends, err := e.endOffsets(ctx, e.topic, false)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			resp, ferr := e.adm.FetchOffsets(rctx, e.group)
			cancel()
			if ferr == nil {
				done := true
				cur := map[int32]int64{}
				for p, end := range ends {
					o, ok := resp.Lookup(e.topic, p)
					if ok {
						cur[p] = o.At
					}
					if end > 0 && (!ok || o.At < end) {
						done = false
					}
				}
				if done {
					return nil
				}
				if !mapsEqual(cur, last) {
					last, moved = cur, time.Now()
				}
			}
		}
		// Checked whether or not the offsets could be read: a cluster that
		// keeps failing the reads must not hold the drain forever.
		if time.Since(moved) > e.cfg.Drain {
			return fmt.Errorf("the transactional workers did not commit the whole input within %s without progress (committed %v, end offsets %v, last error %v)", e.cfg.Drain, last, ends, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitQuiet waits until no transaction is open on the output (its last
// stable offsets equal its high watermarks) and the downstream consumer
// read up to them (its last record on every partition just before the
// final control marker, and nothing new for two seconds; or nothing new
// for five, when a partition ends in an aborted transaction). It gives up
// waiting for the open transactions after the drain timeout: what stays
// invisible, the checker reports. The final offsets go to the history.
func (l *txnLoad) waitQuiet(ctx context.Context) error {
	e := l.e
	began := time.Now()
	for {
		lso, err := e.endOffsets(ctx, l.out, true)
		hw, herr := e.endOffsets(ctx, l.out, false)
		if err == nil && herr == nil {
			_, idle := l.dprog.caughtUp(lso)
			almost := map[int32]int64{}
			for p, end := range lso {
				almost[p] = end - 1
			}
			done, _ := l.dprog.caughtUp(almost)
			read := done && idle > 2*time.Second || idle > 5*time.Second
			if read && (mapsEqual(lso, hw) || time.Since(began) > e.cfg.Drain) {
				e.recordEnds(l.out, lso, hw)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
