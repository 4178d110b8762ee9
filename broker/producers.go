package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kbench/kbench/broker/records"
)

// Per-partition producer state: the idempotence bookkeeping (epoch and the
// last five batches' sequence ranges per producer id, as Kafka keeps) and the
// transaction bookkeeping that the last stable offset and read_committed
// fetches need (open transactions and the aborted-transaction index). It is
// rebuilt from batch headers when a partition is opened, and guarded by the
// partition's appendMu.

const cachedBatches = 5

type seqRange struct {
	first, last int32 // sequence numbers
	base, end   int64 // offsets of the first and last record
}

type producerEntry struct {
	epoch   int16
	batches [cachedBatches]seqRange
	n, next int // number cached, ring position of the next slot
}

func (e *producerEntry) lastSeq() int32 {
	if e.n == 0 {
		return -1
	}
	return e.batches[(e.next+cachedBatches-1)%cachedBatches].last
}

func (e *producerEntry) add(r seqRange) {
	e.batches[e.next] = r
	e.next = (e.next + 1) % cachedBatches
	if e.n < cachedBatches {
		e.n++
	}
}

func (e *producerEntry) find(first, last int32) (seqRange, bool) {
	for i := 0; i < e.n; i++ {
		if b := e.batches[i]; b.first == first && b.last == last {
			return b, true
		}
	}
	return seqRange{}, false
}

type abortedTxn struct {
	producerID  int64
	first, last int64 // first data offset and the abort marker's offset
}

type producerState struct {
	byID    map[int64]*producerEntry
	ongoing map[int64]int64 // producer id -> first offset of its open transaction here
	aborted []abortedTxn    // ordered by marker offset
}

func newProducerState() producerState {
	return producerState{byID: map[int64]*producerEntry{}, ongoing: map[int64]int64{}}
}

// appendCheck is the verdict on a produce request's batches.
type appendCheck struct {
	code      int16
	duplicate bool
	dupBase   int64
	dupEnd    int64
	pid       int64
	epoch     int16
	first     int32
	last      int32
	txn       bool
}

// check applies Kafka's sequence rules to the batches about to be appended.
// All batches of one request must come from one producer id and epoch.
func (s *producerState) check(recs []byte) appendCheck {
	var c appendCheck
	c.pid = -1
	n := 0
	bad := false
	records.Iterate(recs, func(h records.Header, _ []byte) bool {
		if n == 0 {
			c.pid, c.epoch, c.first, c.txn = h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.Transactional()
		} else if h.ProducerID != c.pid || h.ProducerEpoch != c.epoch || h.Transactional() != c.txn {
			bad = true
			return false
		}
		c.last = h.BaseSequence + h.LastOffsetDelta // int32 wraparound is Kafka's too
		n++
		return true
	})
	if bad {
		c.code = kerr.InvalidRecord.Code
		return c
	}
	if c.pid < 0 {
		if c.txn {
			c.code = kerr.InvalidRecord.Code
		}
		return c
	}
	e := s.byID[c.pid]
	switch {
	case e == nil:
		if c.first != 0 {
			c.code = kerr.OutOfOrderSequenceNumber.Code
		}
	case c.epoch < e.epoch:
		c.code = kerr.InvalidProducerEpoch.Code
	case c.epoch > e.epoch:
		if c.first != 0 {
			c.code = kerr.OutOfOrderSequenceNumber.Code
		}
	default:
		if r, ok := e.find(c.first, c.last); ok {
			c.duplicate, c.dupBase, c.dupEnd = true, r.base, r.end
			return c
		}
		if last := e.lastSeq(); last != -1 && c.first != last+1 && !(last == 1<<31-1 && c.first == 0) {
			c.code = kerr.OutOfOrderSequenceNumber.Code
		} else if last == -1 && c.first != 0 {
			c.code = kerr.OutOfOrderSequenceNumber.Code
		}
	}
	return c
}

// appended records a successful append of the checked batches at [base, end].
func (s *producerState) appended(c appendCheck, base, end int64) {
	if c.pid < 0 {
		return
	}
	e := s.byID[c.pid]
	if e == nil || c.epoch > e.epoch {
		e = &producerEntry{epoch: c.epoch}
		s.byID[c.pid] = e
	}
	e.add(seqRange{first: c.first, last: c.last, base: base, end: end})
	if c.txn {
		if _, open := s.ongoing[c.pid]; !open {
			s.ongoing[c.pid] = base
		}
	}
}

// marker records a transaction marker appended at offset for pid/epoch.
func (s *producerState) marker(pid int64, epoch int16, commit bool, offset int64) {
	e := s.byID[pid]
	if e == nil {
		e = &producerEntry{epoch: epoch}
		s.byID[pid] = e
	} else if epoch > e.epoch {
		// A bumped epoch (fencing, timeout abort) resets the sequence space.
		*e = producerEntry{epoch: epoch}
	}
	first, open := s.ongoing[pid]
	if !open {
		return
	}
	delete(s.ongoing, pid)
	if !commit {
		s.aborted = append(s.aborted, abortedTxn{producerID: pid, first: first, last: offset})
	}
}

// firstUnstable is the smallest first offset of an open transaction, or -1.
func (s *producerState) firstUnstable() int64 {
	min := int64(-1)
	for _, off := range s.ongoing {
		if min == -1 || off < min {
			min = off
		}
	}
	return min
}

// abortedIn lists aborted transactions that overlap [from, to).
func (s *producerState) abortedIn(from, to int64) []abortedTxn {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].last >= from })
	var out []abortedTxn
	for ; i < len(s.aborted); i++ {
		if s.aborted[i].first < to {
			out = append(out, s.aborted[i])
		}
	}
	return out
}

// truncate forgets state at or beyond offset (log truncation) and below
// start (retention keeps producer entries, as Kafka does, but drops aborted
// transactions whose markers are gone).
func (s *producerState) trimAborted(start int64) {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].last >= start })
	s.aborted = s.aborted[i:]
}

// observe replays one batch from the log (rebuilding state on open).
func (s *producerState) observe(h records.Header, batch []byte) {
	if h.ProducerID < 0 {
		return
	}
	if h.Control() {
		if commit, ok := records.ControlCommit(batch); ok {
			s.marker(h.ProducerID, h.ProducerEpoch, commit, h.BaseOffset)
		}
		return
	}
	s.appended(appendCheck{pid: h.ProducerID, epoch: h.ProducerEpoch, first: h.BaseSequence,
		last: h.BaseSequence + h.LastOffsetDelta, txn: h.Transactional()}, h.BaseOffset, h.BaseOffset+int64(h.LastOffsetDelta))
}
