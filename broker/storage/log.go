// Package storage is one partition's on-disk log: segment files of magic-v2 record batches
// stored exactly as produced, a sparse offset index and a time index per segment, time/size
// retention, crash recovery, and reads that hand out file ranges for sendfile.
//
// Lock order: Log.appendMu, then Log.mu. appendMu serialises everything that changes the log
// (appends, rolls, retention, truncation, config, close) so the slow part of an append — the
// write syscall — runs without mu, and readers only wait for the short publish step.
package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbench/kbench/broker/records"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Errors; test with errors.Is.
var (
	ErrOffsetOutOfRange = errors.New("offset out of range")
	ErrClosed           = errors.New("log closed")
	// ErrOffsetMismatch: AppendAsFollower batches do not start at the log end offset.
	ErrOffsetMismatch = errors.New("batches do not start at the log end offset")
	// ErrStaleEpoch: Append with a leader epoch older than the latest one in the log.
	ErrStaleEpoch = errors.New("leader epoch older than the log's latest")
)

// Log is one partition's log. It is safe for concurrent use: appends and other changes are
// serialised, reads run concurrently with each other and with appends.
type Log struct {
	dir string

	appendMu sync.Mutex // see the package comment for lock order
	cfg      Config     // guarded by appendMu
	pending  []pendingBatch

	mu     sync.RWMutex
	segs   []*segment // ordered by base offset; the last one is active
	epochs epochCache
	notify chan struct{}
	closed bool

	start, end atomic.Int64 // log start offset, log end offset

	cleanedTo int64 // Compact cleaned every segment below this base; guarded by appendMu

	bg    sync.WaitGroup // background fsyncs of rolled segments
	bgErr atomic.Pointer[error]

	flushMu    sync.Mutex
	flushTimer *time.Timer
	lastFlush  int64            // ms
	clock      func() time.Time // cfg.Now, readable without appendMu
}

// pendingBatch is what Append learns about each batch before writing; reused across appends
// so the append path does not allocate.
type pendingBatch struct {
	base, next, maxTs int64
	off, size         int
	epoch             int32
}

// Open opens the log in dir, creating it if needed, and recovers it: sealed segments load
// their index files (checked against batch headers, no record bodies read) and are rescanned
// only when those are missing or inconsistent; the active segment is always scanned with CRC
// checks, a torn or corrupt tail is truncated and its indexes rebuilt.
func Open(dir string, cfg Config) (*Log, error) {
	cfg = cfg.normalize()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log dir: %w", err)
	}
	var bases []int64
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // an interrupted atomic write
			continue
		}
		stem, ok := strings.CutSuffix(name, ".log")
		if !ok || len(stem) != 20 {
			continue
		}
		if b, err := strconv.ParseInt(stem, 10, 64); err == nil && b >= 0 {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)

	lso, haveLSO, err := readLogStart(dir)
	if err != nil {
		return nil, err
	}
	epochs, err := readEpochs(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, cfg: cfg, epochs: epochs, clock: cfg.Now}
	nowMs := cfg.Now().UnixMilli()
	l.lastFlush = nowMs

	if len(bases) == 0 {
		seg, err := createSegment(dir, lso)
		if err != nil {
			return nil, err
		}
		l.segs = []*segment{seg}
	}
	for i, base := range bases {
		seg, err := openSegment(dir, base)
		if err != nil {
			l.closeSegments()
			return nil, err
		}
		l.segs = append(l.segs, seg)
		if err := l.recoverSegment(seg, i == len(bases)-1, nowMs); err != nil {
			l.closeSegments()
			return nil, err
		}
	}

	end := l.active().next
	start := l.segs[0].base
	if haveLSO && lso > start {
		start = lso
	}
	start = min(start, end)
	l.start.Store(start)
	l.end.Store(end)
	a := l.epochs.truncateFromEnd(end)
	b := l.epochs.truncateFromStart(start)
	if a || b {
		if err := writeEpochs(dir, l.epochs); err != nil {
			l.closeSegments()
			return nil, err
		}
	}
	return l, nil
}

// recoverSegment loads or rebuilds one segment's state, truncating a bad tail.
func (l *Log) recoverSegment(seg *segment, tail bool, nowMs int64) error {
	fi, err := seg.f.Stat()
	if err != nil {
		return fmt.Errorf("stat segment: %w", err)
	}
	size := fi.Size()
	if !tail {
		if err := seg.loadIndexes(size); err == nil {
			return nil
		}
	}
	good, err := seg.rebuild(size, true, l.cfg.IndexIntervalBytes, nowMs)
	if err != nil {
		return err
	}
	if good < size {
		if err := seg.f.Truncate(good); err != nil {
			return fmt.Errorf("truncate torn segment tail: %w", err)
		}
	}
	if tail {
		// The active segment's index files are rewritten on roll/close; stale ones must not
		// outlive a truncation.
		return seg.removeIndexes()
	}
	seg.sealTimeIndex()
	return seg.writeIndexes()
}

func (l *Log) closeSegments() {
	for _, s := range l.segs {
		s.unref()
	}
}

// active returns the segment appends go to. Callers hold mu or appendMu.
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// SetConfig applies changed topic configs; they take effect from the next append or
// retention pass.
func (l *Log) SetConfig(cfg Config) {
	cfg = cfg.normalize()
	l.appendMu.Lock()
	l.cfg = cfg
	l.appendMu.Unlock()
	l.flushMu.Lock()
	l.clock = cfg.Now
	l.flushMu.Unlock()
}

// StartOffset is the log start offset: the first offset a reader may ask for.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset is the log end offset: the offset the next appended record gets.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// Size is the number of bytes in all segment files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// Append writes already-validated batches (one or more whole v2 batches, e.g. a produce
// request's records field). It assigns offsets by rewriting each batch's baseOffset in place,
// stamps partitionLeaderEpoch = epoch, and writes the buffer with one pwrite: the record bytes
// are never copied. An epoch newer than the latest starts a new leader-epoch entry; an older
// one fails with ErrStaleEpoch; a negative epoch is stamped but not recorded. It returns the
// first and last offsets assigned.
func (l *Log) Append(batches []byte, epoch int32) (base, last int64, err error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return -1, -1, ErrClosed
	}
	base = l.end.Load()
	if latest := l.epochs.latest(); epoch >= 0 && epoch < latest {
		return -1, -1, fmt.Errorf("append with epoch %d, latest %d: %w", epoch, latest, ErrStaleEpoch)
	}
	if err := l.prepare(batches, base, true, epoch); err != nil {
		return -1, -1, err
	}
	if err := l.write(batches); err != nil {
		return -1, -1, err
	}
	return base, l.end.Load() - 1, nil
}

// AppendAsFollower writes batches that already carry their offsets and epochs (replication).
// Batches must start at or after the log end offset (a compacted leader's log has gaps) and
// offsets must increase; the leader epoch cache learns each new partitionLeaderEpoch from
// the batch headers.
func (l *Log) AppendAsFollower(batches []byte) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.prepare(batches, l.end.Load(), false, 0); err != nil {
		return err
	}
	return l.write(batches)
}

// prepare walks the batch headers (never the records), rewriting offsets and epochs when
// assign is set, or checking them otherwise, and fills l.pending.
func (l *Log) prepare(batches []byte, next int64, assign bool, epoch int32) error {
	if len(batches) == 0 {
		return fmt.Errorf("append of no batches: %w", records.ErrInvalidRecord)
	}
	l.pending = l.pending[:0]
	for off := 0; off < len(batches); {
		b := batches[off:]
		h, err := records.ParseHeader(b)
		if err != nil {
			return fmt.Errorf("batch at byte %d: %w", off, err)
		}
		size := h.Size()
		if size > len(b) || h.LastOffsetDelta < 0 {
			return fmt.Errorf("batch at byte %d: length %d, last offset delta %d: %w",
				off, h.Length, h.LastOffsetDelta, records.ErrCorrupt)
		}
		if assign {
			records.SetBaseOffset(b, next)
			records.SetPartitionLeaderEpoch(b, epoch)
			h.BaseOffset, h.PartitionLeaderEpoch = next, epoch
		} else if h.BaseOffset < next { // a gap is fine: a compacted leader drops emptied batches
			return fmt.Errorf("batch at byte %d has base offset %d, want %d: %w", off, h.BaseOffset, next, ErrOffsetMismatch)
		}
		l.pending = append(l.pending, pendingBatch{
			base: h.BaseOffset, next: h.NextOffset(), maxTs: h.MaxTimestamp,
			off: off, size: size, epoch: h.PartitionLeaderEpoch,
		})
		next = h.NextOffset()
		off += size
	}
	return nil
}

// write appends the prepared batches to the active segment (rolling first if needed),
// publishes them to readers and applies the flush policy. Caller holds appendMu.
func (l *Log) write(batches []byte) error {
	now := l.cfg.Now()
	nowMs := now.UnixMilli()
	next := l.pending[len(l.pending)-1].next
	if l.shouldRoll(len(batches), next, nowMs) {
		if err := l.roll(); err != nil {
			return err
		}
	}
	// Epoch history is recorded before the data, as Kafka does: an entry pointing at data
	// that failed to be written is harmless, data without its entry is not.
	epochs := l.epochs
	changed := false
	for i := range l.pending {
		if e := l.pending[i].epoch; e >= 0 && e > epochs.latest() {
			if !changed {
				epochs = slices.Clone(epochs)
				changed = true
			}
			epochs.assign(e, l.pending[i].base)
		}
	}
	if changed {
		if err := writeEpochs(l.dir, epochs); err != nil {
			return err
		}
	}

	seg := l.active()
	pos := seg.size
	if _, err := seg.f.WriteAt(batches, pos); err != nil {
		// Drop whatever part made it so the file never holds a partial batch past size.
		return errors.Join(fmt.Errorf("append to segment %d: %w", seg.base, err), seg.f.Truncate(pos))
	}

	l.mu.Lock()
	interval := l.cfg.IndexIntervalBytes
	for _, p := range l.pending {
		seg.track(p.base, p.next, p.maxTs, pos+int64(p.off), p.size, interval, nowMs)
	}
	if changed {
		l.epochs = epochs
	}
	l.end.Store(next)
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	l.mu.Unlock()
	return l.applyFlushPolicy(seg, nowMs)
}

// shouldRoll: a non-empty active segment is rolled when the new data would push it past
// segment.bytes, when it is older than segment.ms, or when offsets would overflow the
// index's 32-bit relative offsets. Age counts from the clock at the segment's first append
// (recovery uses the first batch's timestamp), not from client timestamps, so skewed
// producer clocks cannot force a roll per append.
func (l *Log) shouldRoll(n int, next, nowMs int64) bool {
	seg := l.active()
	if seg.size == 0 {
		return false
	}
	return seg.size+int64(n) > l.cfg.SegmentBytes ||
		nowMs-seg.rollTs >= l.cfg.SegmentMs ||
		next-1-seg.base > math.MaxInt32
}

// roll seals the active segment and starts a new one at the log end offset. The sealed
// segment's index files are written now (to the page cache); its fsync runs in the
// background, as Kafka's does, so producers do not wait for it. Caller holds appendMu.
func (l *Log) roll() error {
	old := l.active()
	if old.size == 0 {
		return nil
	}
	seg, err := createSegment(l.dir, old.next)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old.sealTimeIndex()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	if err := old.writeIndexes(); err != nil {
		return err
	}
	old.ref()
	l.bg.Go(func() {
		defer old.unref()
		err := errors.Join(old.f.Sync(), syncPath(old.indexPath()), syncPath(old.timeIndexPath()), atomicfile.SyncDir(l.dir))
		if err != nil {
			err = fmt.Errorf("sync rolled segment %d: %w", old.base, err)
			l.bgErr.Store(&err)
		}
	})
	return nil
}

// applyFlushPolicy fsyncs per the configured policy after an append. Caller holds appendMu.
func (l *Log) applyFlushPolicy(seg *segment, nowMs int64) error {
	switch l.cfg.Flush {
	case FlushEveryBatch:
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("flush segment %d: %w", seg.base, err)
		}
	case FlushInterval:
		l.flushMu.Lock()
		due := nowMs-l.lastFlush >= l.cfg.FlushIntervalMs
		if !due && l.flushTimer == nil {
			// Data appended now must not wait for the next append to be flushed.
			wait := time.Duration(l.cfg.FlushIntervalMs-(nowMs-l.lastFlush)) * time.Millisecond
			l.flushTimer = time.AfterFunc(wait, l.timedFlush)
		}
		l.flushMu.Unlock()
		if due {
			return l.Flush()
		}
	}
	return nil
}

func (l *Log) timedFlush() {
	l.flushMu.Lock()
	l.flushTimer = nil
	l.flushMu.Unlock()
	if err := l.Flush(); err != nil && !errors.Is(err, ErrClosed) {
		l.bgErr.Store(&err)
	}
}

// Flush fsyncs the active segment (sealed ones are fsynced when rolled) and reports any
// error from background fsyncs since the last call.
func (l *Log) Flush() error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	seg := l.active()
	seg.ref()
	l.mu.RUnlock()
	defer seg.unref()

	l.flushMu.Lock()
	l.lastFlush = l.clock().UnixMilli()
	l.flushMu.Unlock()
	err := seg.f.Sync()
	if p := l.bgErr.Swap(nil); p != nil {
		err = errors.Join(err, *p)
	}
	return err
}

// AppendNotify returns a channel that is closed by the next append (or by Close), for fetch
// long polling. Take the channel before checking EndOffset to avoid missing a wakeup.
func (l *Log) AppendNotify() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c := make(chan struct{})
		close(c)
		return c
	}
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify
}

// LatestEpoch is the newest leader epoch in the log, -1 when none.
func (l *Log) LatestEpoch() int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.latest()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch as Kafka does: the largest epoch <= epoch
// known to the log and the offset where the epoch after it starts (the log end offset for the
// latest epoch); (-1, -1) when epoch is unknown and newer than all, or the cache is empty.
func (l *Log) EndOffsetForEpoch(epoch int32) (leaderEpoch int32, endOffset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.epochs.endOffsetFor(epoch, l.end.Load())
}

// AssignEpochStart records that leader epoch epoch starts at the log end offset, as a newly
// elected leader does before its first append (Kafka's makeLeader), so OffsetForLeaderEpoch
// for older epochs is answered at once. An epoch not newer than the latest is ignored.
func (l *Log) AssignEpochStart(epoch int32) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if epoch < 0 || epoch <= l.epochs.latest() {
		return nil
	}
	epochs := slices.Clone(l.epochs)
	epochs.assign(epoch, l.end.Load())
	if err := writeEpochs(l.dir, epochs); err != nil {
		return err
	}
	l.mu.Lock()
	l.epochs = epochs
	l.mu.Unlock()
	return nil
}

// Epochs returns a copy of the leader epoch history.
func (l *Log) Epochs() []EpochEntry {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.epochs)
}

// DeleteRecordsBefore moves the log start offset up to offset (persisted in the
// log-start-offset checkpoint) and deletes segments lying wholly below it. offset beyond the
// log end offset fails with ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset > l.end.Load() || offset < 0 {
		return fmt.Errorf("delete records before %d, log end %d: %w", offset, l.end.Load(), ErrOffsetOutOfRange)
	}
	if offset <= l.start.Load() {
		return nil
	}
	if err := writeLogStart(l.dir, offset); err != nil {
		return err
	}
	l.mu.Lock()
	err := l.raiseStartLocked(offset)
	l.mu.Unlock()
	_, derr := l.deleteOld(time.Time{}, false)
	return errors.Join(err, derr)
}

// EnforceRetention applies retention.ms (against each segment's newest record timestamp) and
// retention.bytes, and drops segments wholly below the log start offset. Only whole sealed
// segments go, oldest first; the active segment never does, but it is rolled first when
// older than segment.ms so a later pass can delete it. It returns how many were deleted.
func (l *Log) EnforceRetention(now time.Time) (deletedSegments int, err error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if a := l.active(); a.size > 0 && now.UnixMilli()-a.rollTs >= l.cfg.SegmentMs {
		if err := l.roll(); err != nil {
			return 0, err
		}
	}
	return l.deleteOld(now, true)
}

// deleteOld removes the longest prefix of sealed segments that retention (when byRetention)
// or the log start offset allows. Caller holds appendMu.
func (l *Log) deleteOld(now time.Time, byRetention bool) (int, error) {
	cfg := l.cfg
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	excess := total - cfg.RetentionBytes
	start := l.start.Load()
	k := 0
	for ; k < len(l.segs)-1; k++ {
		s := l.segs[k]
		del := l.segs[k+1].base <= start
		if byRetention {
			del = del ||
				(cfg.RetentionMs >= 0 && s.largestTime() < now.UnixMilli()-cfg.RetentionMs) ||
				(cfg.RetentionBytes >= 0 && excess >= s.size)
		}
		if !del {
			break
		}
		excess -= s.size
	}
	if k == 0 {
		return 0, nil
	}
	l.mu.Lock()
	victims := l.segs[:k]
	l.segs = slices.Clone(l.segs[k:])
	err := l.raiseStartLocked(l.segs[0].base)
	l.mu.Unlock()
	for _, s := range victims {
		err = errors.Join(err, s.remove())
	}
	return k, err
}

// raiseStartLocked moves the log start offset up to off (never down) and drops the epoch
// history below it, persisting the history if it changed. Caller holds appendMu and mu.
func (l *Log) raiseStartLocked(off int64) error {
	off = max(off, l.start.Load())
	l.start.Store(off)
	if l.epochs.truncateFromStart(off) {
		return writeEpochs(l.dir, l.epochs)
	}
	return nil
}

// Truncate drops everything at and after offset (replication: a divergent suffix). Batches
// are indivisible, so when offset falls inside a batch that whole batch goes and the log end
// offset becomes that batch's base offset. An offset below the log start offset empties the
// log and restarts it at offset. Slices already handed out over the dropped range may fail
// to send.
func (l *Log) Truncate(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if offset < 0 {
		return fmt.Errorf("truncate to %d: %w", offset, ErrOffsetOutOfRange)
	}
	if offset >= l.end.Load() {
		return nil
	}
	if offset < l.start.Load() {
		return l.truncateFully(offset)
	}
	i := l.floor(offset)
	seg := l.segs[i]
	buf := make([]byte, records.HeaderLen)
	cut, newEnd := seg.size, seg.next
	if pos, h, ok, err := seg.findBatch(offset, buf); err != nil {
		return err
	} else if ok {
		cut, newEnd = pos, h.BaseOffset
	}

	l.mu.Lock()
	victims := slices.Clone(l.segs[i+1:])
	l.segs = l.segs[:i+1]
	err := seg.f.Truncate(cut)
	if err == nil {
		var good int64
		good, err = seg.rebuild(cut, false, l.cfg.IndexIntervalBytes, l.cfg.Now().UnixMilli())
		if err == nil && good < cut {
			// Cannot happen with data this log wrote; keep the file and state consistent anyway.
			err = seg.f.Truncate(good)
			newEnd = seg.next
		}
	}
	l.end.Store(newEnd)
	startMoved := false
	if newEnd < l.start.Load() {
		l.start.Store(newEnd)
		startMoved = true
	}
	epochsChanged := l.epochs.truncateFromEnd(newEnd)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("truncate segment %d: %w", seg.base, err)
	}
	// The segment is active again: its index files are stale.
	err = seg.removeIndexes()
	if startMoved {
		err = errors.Join(err, writeLogStart(l.dir, newEnd))
	}
	if epochsChanged {
		err = errors.Join(err, writeEpochs(l.dir, l.epochs))
	}
	for _, s := range victims {
		err = errors.Join(err, s.remove())
	}
	return err
}

// truncateFully deletes every segment and restarts the log empty at offset.
func (l *Log) truncateFully(offset int64) error {
	seg, err := createSegmentReplacing(l.dir, offset, l.segs)
	if err != nil {
		return err
	}
	l.mu.Lock()
	victims := l.segs
	l.segs = []*segment{seg}
	l.start.Store(offset)
	l.end.Store(offset)
	l.epochs = nil
	l.mu.Unlock()
	err = errors.Join(writeLogStart(l.dir, offset), writeEpochs(l.dir, nil))
	for _, s := range victims {
		if s.base == offset {
			// Its log file was already replaced by the new segment's; drop its stale indexes
			// (the new segment has none yet) and let go of it.
			err = errors.Join(err, s.removeIndexes())
			s.unref()
			continue
		}
		err = errors.Join(err, s.remove())
	}
	return err
}

// createSegmentReplacing creates an empty segment at base; if an existing segment already
// has that base its file is unlinked first (it is about to be deleted anyway).
func createSegmentReplacing(dir string, base int64, segs []*segment) (*segment, error) {
	for _, s := range segs {
		if s.base == base {
			if err := os.Remove(s.logPath()); err != nil {
				return nil, fmt.Errorf("replace segment %d: %w", base, err)
			}
		}
	}
	return createSegment(dir, base)
}

// floor returns the index of the segment holding offset: the last with base <= offset.
// Caller holds mu or appendMu.
func (l *Log) floor(offset int64) int {
	i, found := slices.BinarySearchFunc(l.segs, offset, func(s *segment, off int64) int {
		switch {
		case s.base < off:
			return -1
		case s.base > off:
			return 1
		}
		return 0
	})
	if found {
		return i
	}
	return max(i-1, 0)
}

// Close writes the active segment's indexes, fsyncs it, waits for background fsyncs and
// releases the files; Slices still held stay readable until released. Close is idempotent.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return l.closeLocked()
}

func (l *Log) closeLocked() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	act := l.active()
	act.sealTimeIndex()
	l.mu.Unlock()

	l.flushMu.Lock()
	if l.flushTimer != nil {
		l.flushTimer.Stop()
		l.flushTimer = nil
	}
	l.flushMu.Unlock()

	l.bg.Wait()
	err := errors.Join(act.writeIndexes(), act.f.Sync())
	if p := l.bgErr.Swap(nil); p != nil {
		err = errors.Join(err, *p)
	}
	l.closeSegments()
	return err
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	return errors.Join(l.closeLocked(), os.RemoveAll(l.dir))
}
