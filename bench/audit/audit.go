// Package audit measures durability: which records a run's producers had
// acknowledged that cannot be read back afterwards (lost), which can be
// read more than once (duplicated), and how long each partition went
// without a successful acknowledgement (unavailability).
//
// # Ids
//
// Every record a run produces carries a kbench-id header: the audit's
// random run id (8 bytes) and the record's producer index and sequence
// number (uvarints; see AppendID). Records of other runs in the same topic
// are told apart by the run id and counted as foreign.
//
// # Bookkeeping
//
// Per producer, a bitset of acknowledged sequence numbers and a
// run-length, delta- and varint-encoded log of where they were
// acknowledged (partition and offset): a batch of consecutive records
// costs a few bytes, so ten million records fit in tens of MiB without a
// spill file. With acks=0 the client learns no offsets; they are listed
// as -1. Per partition, the latest acknowledgement and the longest wait
// without one.
//
// # Read-back
//
// After the run (and after a fault runner healed the cluster), Check
// waits until every partition has a leader and its end offset holds still,
// then reads every partition from its log start offset to its end offset
// (the high watermark; with Options.ReadCommitted, for transactional
// writes, the last stable offset), counting each id. Then:
//
//	acknowledged            successful produce outcomes
//	readable                distinct ids of this run read back
//	lost                    acknowledged but not readable
//	duplicated              ids readable more than once (copies: the extra reads)
//	unacknowledged_present  readable but never acknowledged (failed or
//	                        timed-out sends that did land: at-least-once)
//	unavailability          the longest window, over partitions, in which
//	                        a record for the partition was waiting and
//	                        none was acknowledged: from the later of the
//	                        record's send (the timestamp the client gives
//	                        it) and the partition's previous
//	                        acknowledgement, to the record's outcome
//
// Files in Options.Dir: audit.json (the Report) and audit-lost.tsv (the
// first 100 lost ids by producer and sequence, with the partition and
// offset each was acknowledged at).
package audit

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
)

// File names inside Options.Dir.
const (
	ReportFile = "audit.json"
	LostFile   = "audit-lost.tsv"
)

// DefaultMaxListed is how many lost ids a report lists.
const DefaultMaxListed = 100

// Options configure an audit; the zero value is usable.
type Options struct {
	// Dir receives audit.json and audit-lost.tsv; empty writes nothing.
	Dir string
	// ReadCommitted reads back with read_committed, for records written in
	// transactions (the load generator has no transactional producer yet).
	ReadCommitted bool
	// SettleTimeout bounds the wait for every partition to have a leader
	// and a steady end offset; default 30s.
	SettleTimeout time.Duration
	// ScanTimeout bounds how long the read-back may go without progress
	// (so a big topic may take longer in all); default 30s.
	ScanTimeout time.Duration
	// MaxListed is how many lost ids the report lists; default 100.
	MaxListed int
}

// Audit tracks one run's records. New, Attach to the run config, run
// bench.Run, then Check once.
type Audit struct {
	o     Options
	runID uint64
	cfg   bench.RunConfig
	// offsetsKnown is false with acks=0: the client learns no offsets.
	offsetsKnown  bool
	readCommitted bool

	pmu       sync.RWMutex
	producers []*ledger

	avail availability

	tmu   sync.Mutex
	start time.Time
}

// New returns an audit with a fresh random run id.
func New(o Options) *Audit {
	o.SettleTimeout = cmp.Or(o.SettleTimeout, 30*time.Second)
	o.ScanTimeout = cmp.Or(o.ScanTimeout, 30*time.Second)
	o.MaxListed = cmp.Or(o.MaxListed, DefaultMaxListed)
	return &Audit{o: o, runID: rand.Uint64() | 1}
}

// RunID is the id every record of this audit's run carries.
func (a *Audit) RunID() uint64 { return a.runID }

// Attach hooks the audit into cfg (hooks already there keep running) and
// remembers what it needs to read the topic back. Call it after the target
// and client properties are set.
func (a *Audit) Attach(cfg *bench.RunConfig) error {
	if cfg.Target == nil {
		return errors.New("audit: the run config has no target yet")
	}
	eff, err := cfg.EffectiveProducer()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.offsetsKnown = eff["acks"] != "0"
	a.readCommitted = a.o.ReadCommitted
	a.cfg = *cfg
	a.cfg.Topic.Name = cmp.Or(cfg.Topic.Name, "kbench")
	n := max(cfg.Producers, 1)
	a.producers = make([]*ledger, n)
	for i := range a.producers {
		a.producers[i] = &ledger{}
	}

	prev := cfg.Hooks
	h := &bench.Hooks{}
	if prev != nil {
		*h = *prev
	}
	h.BeforeProduce = func(producer int, seq uint64, r *kgo.Record) {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: Header, Value: AppendID(make([]byte, 0, 20), a.runID, ID{producer, seq})})
		// The client sets the partition when it buffers the record: -1
		// tells a failure before that from one on partition 0.
		r.Partition = -1
		a.ledger(producer).noteSent(seq)
		if prev != nil && prev.BeforeProduce != nil {
			prev.BeforeProduce(producer, seq, r)
		}
	}
	h.OnAck = func(producer int, seq uint64, r *kgo.Record, err error) {
		now := time.Now()
		if err != nil {
			a.ledger(producer).fail()
		} else {
			off := r.Offset
			if !a.offsetsKnown {
				off = -1
			}
			a.ledger(producer).ack(seq, r.Partition, off)
		}
		// The client stamps Timestamp when it takes the record: the send.
		if r.Partition >= 0 && !r.Timestamp.IsZero() {
			a.avail.outcome(r.Partition, r.Timestamp, now, err == nil)
		}
		if prev != nil && prev.OnAck != nil {
			prev.OnAck(producer, seq, r, err)
		}
	}
	h.OnStart = func(t time.Time) {
		a.tmu.Lock()
		a.start = t
		a.tmu.Unlock()
		if prev != nil && prev.OnStart != nil {
			prev.OnStart(t)
		}
	}
	cfg.Hooks = h
	return nil
}

// ledger returns producer i's ledger, adding ledgers for a run with more
// producers than the config said.
func (a *Audit) ledger(i int) *ledger {
	a.pmu.RLock()
	if i < len(a.producers) {
		l := a.producers[i]
		a.pmu.RUnlock()
		return l
	}
	a.pmu.RUnlock()
	a.pmu.Lock()
	defer a.pmu.Unlock()
	for len(a.producers) <= i {
		a.producers = append(a.producers, &ledger{})
	}
	return a.producers[i]
}

// LostRecord is an acknowledged record that could not be read back.
type LostRecord struct {
	ID
	Partition int32 `json:"partition"`
	// Offset is where the broker acknowledged it; -1 with acks=0.
	Offset int64 `json:"offset"`
}

// PartitionAudit is one partition's share of a report.
type PartitionAudit struct {
	Partition   int32 `json:"partition"`
	StartOffset int64 `json:"start_offset"`
	EndOffset   int64 `json:"end_offset"`
	// Read counts this run's records read back (copies included); Foreign
	// other records.
	Read         int64 `json:"read"`
	Foreign      int64 `json:"foreign,omitempty"`
	Acknowledged int64 `json:"acknowledged"`
	Lost         int64 `json:"lost"`
	// Unavailable is the partition's longest window in which a record
	// waited and none was acknowledged; UnavailableFrom when it began, in
	// seconds after the end of the warmup.
	Unavailable     bench.Seconds `json:"unavailable_s"`
	UnavailableFrom bench.Seconds `json:"unavailable_from_s"`
}

// Report is an audit's result: what the sweep engine stores with a point.
type Report struct {
	RunID         string `json:"run_id"`
	Topic         string `json:"topic"`
	ReadCommitted bool   `json:"read_committed"`
	// OffsetsKnown is false with acks=0: lost records have no offset.
	OffsetsKnown bool `json:"offsets_known"`
	Producers    int  `json:"producers"`

	Sent         int64 `json:"sent"`
	Acknowledged int64 `json:"acknowledged"`
	// Failed sends got an error (or no answer in time): not acknowledged.
	Failed          int64 `json:"failed"`
	Readable        int64 `json:"readable"`
	Lost            int64 `json:"lost"`
	Duplicated      int64 `json:"duplicated"`
	DuplicateCopies int64 `json:"duplicate_copies"`
	UnackedPresent  int64 `json:"unacknowledged_present"`
	// Foreign records carry no id of this run (earlier runs, other
	// writers); Malformed ones carry this run's id but a producer or
	// sequence it never sent.
	Foreign   int64 `json:"foreign"`
	Malformed int64 `json:"malformed,omitempty"`
	// DoubleAcks counts ids acknowledged twice by the client (a bug).
	DoubleAcks int64 `json:"double_acks,omitempty"`

	// Unavailability is the longest per-partition window in which a
	// record was waiting and none was acknowledged, over all partitions.
	Unavailability          bench.Seconds    `json:"unavailability_s"`
	UnavailabilityPartition int32            `json:"unavailability_partition"`
	UnavailabilityFrom      bench.Seconds    `json:"unavailability_from_s"`
	Partitions              []PartitionAudit `json:"partitions"`
	LostIDs                 []LostRecord     `json:"lost_ids,omitempty"`
	LostListed              string           `json:"lost_file,omitempty"`

	ScanSeconds      bench.Seconds `json:"scan_s"`
	BookkeepingBytes int64         `json:"bookkeeping_bytes"`
}

// OK reports whether nothing acknowledged was lost or duplicated.
func (r *Report) OK() bool { return r.Lost == 0 && r.Duplicated == 0 }

// Check waits for the topic to settle, reads it back and writes the
// report (and its files, with Options.Dir). Call it once, after bench.Run
// has returned (and a fault runner has healed the cluster).
func (a *Audit) Check(ctx context.Context) (*Report, error) {
	if a.producers == nil {
		return nil, errors.New("audit: not attached to a run")
	}
	opts, err := a.cfg.ConnOptions()
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("audit: admin client: %w", err)
	}
	defer adm.Close()
	topic := a.cfg.Topic.Name
	starts, ends, err := a.settle(ctx, kadm.NewClient(adm), topic)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	reads := make([]*readBack, len(a.producers))
	for i := range reads {
		reads[i] = &readBack{}
	}
	parts := make([]PartitionAudit, len(ends))
	for p := range parts {
		parts[p] = PartitionAudit{Partition: int32(p), StartOffset: starts[p], EndOffset: ends[p]}
	}
	var foreign, malformed int64
	err = a.scan(ctx, opts, topic, starts, ends, func(r *kgo.Record) {
		if int(r.Partition) >= len(parts) {
			malformed++ // a partition added during the read-back
			return
		}
		pa := &parts[r.Partition]
		run, id, ok := a.idOf(r)
		if !ok || run != a.runID {
			foreign++
			pa.Foreign++
			return
		}
		if id.Producer >= len(reads) || id.Seq >= a.producers[id.Producer].sent.Load() {
			malformed++
			return
		}
		pa.Read++
		reads[id.Producer].read(id.Seq)
	})
	if err != nil {
		return nil, err
	}
	rep := a.report(parts, reads)
	rep.Foreign, rep.Malformed = foreign, malformed
	rep.ScanSeconds = bench.Seconds(time.Since(t0).Seconds())
	for _, rb := range reads {
		rep.BookkeepingBytes += rb.seen.bytes() + rb.dup.bytes()
	}
	if a.o.Dir != "" {
		if err := rep.write(a.o.Dir); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// idOf finds the record's id of this audit's run, if it has one.
func (a *Audit) idOf(r *kgo.Record) (uint64, ID, bool) {
	for _, h := range r.Headers {
		if h.Key != Header {
			continue
		}
		if run, id, err := ParseID(h.Value); err == nil && run == a.runID {
			return run, id, true
		}
	}
	return 0, ID{}, false
}

// settle waits until every partition has start and end offsets and the
// end offsets hold still for a moment (followers catching up move the
// high watermark), then returns them.
func (a *Audit) settle(ctx context.Context, adm *kadm.Client, topic string) (starts, ends []int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, a.o.SettleTimeout)
	defer cancel()
	const quiet = 300 * time.Millisecond
	var prev []int64
	var why error
	for {
		s, e, err := a.offsets(ctx, adm, topic)
		switch {
		case err != nil:
			why = err
		case slices.Equal(e, prev):
			return s, e, nil
		default:
			why = errors.New("end offsets still moving")
			prev = e
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("audit: topic %s did not settle within %s: %w", topic, a.o.SettleTimeout, why)
		case <-time.After(quiet):
		}
	}
}

func (a *Audit) offsets(ctx context.Context, adm *kadm.Client, topic string) (starts, ends []int64, err error) {
	so, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	list := adm.ListEndOffsets
	if a.readCommitted {
		list = adm.ListCommittedOffsets
	}
	eo, err := list(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	n := len(eo[topic])
	if n == 0 {
		return nil, nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	starts, ends = make([]int64, n), make([]int64, n)
	for p := range int32(n) {
		s, ok1 := so.Lookup(topic, p)
		e, ok2 := eo.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("partition %d missing from list offsets", p)
		}
		if s.Err != nil || e.Err != nil {
			return nil, nil, fmt.Errorf("partition %d: %w", p, errors.Join(s.Err, e.Err))
		}
		starts[p], ends[p] = s.Offset, e.Offset
	}
	return starts, ends, nil
}

// scan reads [starts[p], ends[p]) of every partition and calls fn for each
// data record. Control records are fetched too (and skipped), so a
// partition ending in a transaction marker is recognised as finished.
func (a *Audit) scan(ctx context.Context, opts []kgo.Opt, topic string, starts, ends []int64, fn func(*kgo.Record)) error {
	assign := map[int32]kgo.Offset{}
	pos := make([]int64, len(ends))
	left := 0
	for p := range ends {
		pos[p] = starts[p]
		if ends[p] > starts[p] {
			assign[int32(p)] = kgo.NewOffset().At(starts[p])
			left++
		}
	}
	if left == 0 {
		return nil
	}
	iso := kgo.ReadUncommitted()
	if a.readCommitted {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(iso),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("audit: scan client: %w", err)
	}
	defer cl.Close()
	var fetchErrs []error
	progress := time.Now()
	for left > 0 {
		pctx, cancel := context.WithDeadline(ctx, progress.Add(a.o.ScanTimeout))
		fs := cl.PollFetches(pctx)
		stalled := pctx.Err()
		cancel()
		if stalled != nil {
			var behind []string
			for p := range ends {
				if pos[p] < ends[p] {
					behind = append(behind, fmt.Sprintf("%d at %d of %d", p, pos[p], ends[p]))
				}
			}
			return fmt.Errorf("audit: read-back of %s stalled for %s (partitions %s): %w",
				topic, a.o.ScanTimeout, strings.Join(behind, ", "), errors.Join(append(fetchErrs, stalled)...))
		}
		fs.EachError(func(_ string, p int32, err error) {
			if len(fetchErrs) < 5 {
				fetchErrs = append(fetchErrs, fmt.Errorf("partition %d: %w", p, err))
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset >= ends[p] || r.Offset < pos[p] {
				return // past the end (someone else writing) or refetched
			}
			pos[p] = r.Offset + 1
			progress = time.Now()
			if pos[p] >= ends[p] {
				left--
			}
			if r.Attrs.IsControl() {
				return
			}
			fn(r)
		})
	}
	return nil
}

// lostHeap keeps the first k lost records by id: a max-heap whose top is
// the one to drop.
type lostHeap []LostRecord

func (h lostHeap) Len() int { return len(h) }
func (h lostHeap) Less(i, j int) bool {
	return h[i].Producer > h[j].Producer || (h[i].Producer == h[j].Producer && h[i].Seq > h[j].Seq)
}
func (h lostHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lostHeap) Push(x any)   { *h = append(*h, x.(LostRecord)) }
func (h *lostHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *lostHeap) offer(r LostRecord, k int) {
	if h.Len() < k {
		heap.Push(h, r)
		return
	}
	if top := (*h)[0]; r.Producer < top.Producer || (r.Producer == top.Producer && r.Seq < top.Seq) {
		(*h)[0] = r
		heap.Fix(h, 0)
	}
}

// report compares the acknowledgements with what was read back.
func (a *Audit) report(parts []PartitionAudit, reads []*readBack) *Report {
	rep := &Report{
		RunID: strconv.FormatUint(a.runID, 16), Topic: a.cfg.Topic.Name, ReadCommitted: a.readCommitted,
		OffsetsKnown: a.offsetsKnown, Producers: len(a.producers),
	}
	var lost lostHeap
	for i, l := range a.producers {
		rb := reads[i]
		rep.Sent += int64(l.sent.Load())
		l.each(func(r ackRun) {
			for k := range r.n {
				seq := r.seq + k
				if rb.seen.has(seq) {
					continue
				}
				rep.Lost++
				if int(r.part) < len(parts) {
					parts[r.part].Lost++
				}
				off := r.off
				if off >= 0 {
					off += int64(k)
				}
				lost.offer(LostRecord{ID: ID{Producer: i, Seq: seq}, Partition: r.part, Offset: off}, a.o.MaxListed)
			}
		})
		l.mu.Lock()
		rep.Acknowledged += l.ackedN
		rep.Failed += l.failed
		rep.DoubleAcks += l.doubleAcks
		rep.UnackedPresent += rb.seen.andNotCount(l.acked)
		l.mu.Unlock()
		rep.Readable += rb.seen.count()
		rep.Duplicated += rb.dup.count()
		rep.DuplicateCopies += rb.copies
		rep.BookkeepingBytes += l.bytes()
	}
	rep.LostIDs = slices.SortedFunc(slices.Values(lost), func(x, y LostRecord) int {
		return cmp.Or(cmp.Compare(x.Producer, y.Producer), cmp.Compare(x.Seq, y.Seq))
	})

	a.tmu.Lock()
	zero := a.start.Add(a.cfg.Warmup)
	a.tmu.Unlock()
	ws := a.avail.windows(len(parts))
	for i := range parts {
		if i >= len(ws) {
			break
		}
		w := ws[i]
		parts[i].Acknowledged = w.acks
		parts[i].Unavailable = bench.Seconds(w.dur.Seconds())
		if w.dur > 0 {
			parts[i].UnavailableFrom = bench.Seconds(w.from.Sub(zero).Seconds())
		}
		if i == 0 || parts[i].Unavailable > rep.Unavailability {
			rep.Unavailability, rep.UnavailabilityPartition, rep.UnavailabilityFrom = parts[i].Unavailable, int32(i), parts[i].UnavailableFrom
		}
	}
	rep.Partitions = parts
	return rep
}

// write stores the report and the lost-id list in dir.
func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	r.LostListed = LostFile
	var b strings.Builder
	fmt.Fprintf(&b, "# acknowledged records of run %s not readable from topic %s after the run: %d", r.RunID, r.Topic, r.Lost)
	if r.Lost > int64(len(r.LostIDs)) {
		fmt.Fprintf(&b, " (the first %d by producer and sequence)", len(r.LostIDs))
	}
	b.WriteString("\n# id = producer:sequence as in the kbench-id header; offset = where the broker acknowledged it (-1: acks=0, unknown)\n")
	b.WriteString("producer\tsequence\tpartition\toffset\n")
	for _, l := range r.LostIDs {
		fmt.Fprintf(&b, "%d\t%d\t%d\t%d\n", l.Producer, l.Seq, l.Partition, l.Offset)
	}
	if err := os.WriteFile(filepath.Join(dir, LostFile), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: encode report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// ReadReport reads an audit.json written by Check.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("audit: decode %s: %w", path, err)
	}
	return &r, nil
}

// Summary writes the report in a few lines for terminals.
func (r *Report) Summary() string {
	var b strings.Builder
	iso := "read_uncommitted"
	if r.ReadCommitted {
		iso = "read_committed"
	}
	fmt.Fprintf(&b, "durability audit of %s (%d partitions read from log start to end, %s, %.1f s):\n", r.Topic, len(r.Partitions), iso, float64(r.ScanSeconds))
	fmt.Fprintf(&b, "  sent %d, acknowledged %d, failed %d\n", r.Sent, r.Acknowledged, r.Failed)
	fmt.Fprintf(&b, "  readable %d, LOST %d, DUPLICATED %d (%d extra copies), unacknowledged but present %d\n",
		r.Readable, r.Lost, r.Duplicated, r.DuplicateCopies, r.UnackedPresent)
	fmt.Fprintf(&b, "  unavailability %.2f s (partition %d, from %.2f s after warmup)\n", float64(r.Unavailability), r.UnavailabilityPartition, float64(r.UnavailabilityFrom))
	if r.Foreign > 0 || r.Malformed > 0 || r.DoubleAcks > 0 {
		fmt.Fprintf(&b, "  also read: %d records of other runs, %d with a malformed id; %d ids acknowledged twice\n", r.Foreign, r.Malformed, r.DoubleAcks)
	}
	for i, l := range r.LostIDs {
		if i == 5 {
			fmt.Fprintf(&b, "  ... (%d listed in %s)\n", len(r.LostIDs), cmp.Or(r.LostListed, "the report"))
			break
		}
		fmt.Fprintf(&b, "  lost %s acknowledged at %s/%d@%d\n", l.ID, r.Topic, l.Partition, l.Offset)
	}
	return b.String()
}
