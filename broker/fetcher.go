package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/storage"
	"github.com/kbench/kbench/broker/wire"
)

// Follower replication: one fetcher goroutine per leader broker sends Fetch
// requests with this broker's replica id for every partition it follows
// there, appends what comes back with the leader's offsets, and takes its
// high watermark from the leader. A partition that starts following first
// asks the leader (OffsetForLeaderEpoch) where its latest epoch ended and
// truncates a divergent suffix, as Kafka's followers do (KIP-101/279).
// Every request carries the partition's leader epoch (KIP-320), and a
// response is applied only to the partition state it was asked in.

// replicaFetchMaxBytes is replica.fetch.max.bytes.
const replicaFetchMaxBytes = 1 << 20

type fetchers struct {
	b  *Broker
	mu sync.Mutex
	m  map[int32]*fetcher // by leader id

	// Fault injection for benchmarks (fault commands on the broker's stdin).
	delay     atomic.Int64 // ns added before each fetch
	bandwidth atomic.Int64 // bytes/s cap, 0 = none
}

type fetcher struct {
	leader int32
	mu     sync.Mutex
	parts  map[*partition]bool // value: needs truncation first
	kick   chan struct{}
	done   chan struct{}
	cl     *wire.Client

	// Reused by every fetch of this fetcher's goroutine (fetchOnce).
	req    kmsg.FetchRequest
	resp   kmsg.FetchResponse
	sorted []*partition
	sent   []sentPart
	oor    []outOfRange
}

func (fs *fetchers) add(leader int32, p *partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.m[leader]
	if f == nil {
		f = &fetcher{leader: leader, parts: map[*partition]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{}),
			cl: &wire.Client{ClientID: "kbench-replica", ReuseResponseBuffer: true}}
		fs.m[leader] = f
		fs.b.wg.Add(1)
		go fs.run(f)
	}
	f.mu.Lock()
	f.parts[p] = true
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (fs *fetchers) remove(p *partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.m {
		f.mu.Lock()
		delete(f.parts, p)
		f.mu.Unlock()
	}
}

func (fs *fetchers) stopAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.m {
		close(f.done)
		f.cl.Close()
		delete(fs.m, id)
	}
}

// delayed waits out the injected replication delay before a fetch, in
// slices that read the delay again, so a delay lowered or lifted while a
// fetcher waits applies at once; false when the fetcher is to stop.
func (fs *fetchers) delayed(backoff func(time.Duration) bool) bool {
	const slice = 10 * time.Millisecond
	for waited := time.Duration(0); waited < time.Duration(fs.delay.Load()); waited += slice {
		if !backoff(slice) {
			return false
		}
	}
	return true
}

func (fs *fetchers) run(f *fetcher) {
	defer fs.b.wg.Done()
	defer f.cl.Close()
	b := fs.b
	backoff := func(d time.Duration) bool {
		select {
		case <-f.done:
			return false
		case <-b.stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	for {
		select {
		case <-f.done:
			return
		case <-b.stop:
			return
		default:
		}
		img := b.image.Load()
		addr, ok := "", false
		if img != nil {
			addr, ok = img.brokerAddr(f.leader)
		}
		f.mu.Lock()
		n := len(f.parts)
		f.mu.Unlock()
		if !ok || n == 0 {
			select {
			case <-f.kick:
			case <-f.done:
				return
			case <-b.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if f.cl.Addr != addr {
			f.cl.Close()
			f.cl.Addr = addr
		}
		if !fs.delayed(backoff) {
			return
		}
		if d := fs.round(f); d > 0 && !backoff(d) {
			return
		}
	}
}

// errEveryPartitionFailed: the leader answered every partition of a
// replica fetch (or of a truncation request, with nothing else to fetch)
// with an error, NOT_LEADER_OR_FOLLOWER or UNKNOWN_LEADER_EPOCH while
// leadership moves. Asking again at once would spin until the
// controller's next push, so the fetcher backs off as Kafka's does for
// replica.fetch.backoff.ms.
var errEveryPartitionFailed = errors.New("the leader answered every partition with an error")

// round runs one truncation and fetch round for f and returns how long
// to wait before the next: the replica fetch backoff after an error, the
// bandwidth fault's pause after data, else 0.
func (fs *fetchers) round(f *fetcher) time.Duration {
	b := fs.b
	if err := fs.truncatePending(f); err != nil {
		if !errors.Is(err, errEveryPartitionFailed) {
			b.cfg.Logf("replica fetcher for leader %d: %v", f.leader, err)
		}
		return b.cfg.ReplicaFetchBackoff
	}
	got, err := fs.fetchOnce(f)
	if err != nil {
		if !errors.Is(err, errEveryPartitionFailed) {
			b.cfg.Logf("replica fetcher for leader %d: %v", f.leader, err)
		}
		return b.cfg.ReplicaFetchBackoff
	}
	if bw := fs.bandwidth.Load(); bw > 0 && got > 0 {
		return time.Duration(float64(got) / float64(bw) * float64(time.Second))
	}
	return 0
}

// truncatePending asks the leader where each newly followed partition's
// latest epoch ends and truncates what lies beyond (a divergent suffix
// written while this broker led, never replicated).
func (fs *fetchers) truncatePending(f *fetcher) error {
	f.mu.Lock()
	var todo []*partition
	for p, need := range f.parts {
		if need {
			todo = append(todo, p)
		}
	}
	fetchable := len(f.parts) > len(todo)
	f.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = 3
	req.ReplicaID = fs.b.cfg.NodeID
	sortByTopic(todo)
	sent := make([]int32, len(todo)) // each partition's leader epoch when asked
	for i, j := 0, 0; i < len(todo); i = j {
		j = topicRun(todo, i)
		t := kmsg.NewOffsetForLeaderEpochRequestTopic()
		t.Topic = todo[i].topic
		for k := i; k < j; k++ {
			p := todo[k]
			sent[k] = p.epoch.Load()
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition = p.index
			rp.CurrentLeaderEpoch = sent[k]
			rp.LeaderEpoch = p.log.LatestEpoch()
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.cl.Request(ctx, req)
	if err != nil {
		return err
	}
	failed := 0
	for _, rt := range resp.(*kmsg.OffsetForLeaderEpochResponse).Topics {
		for _, rp := range rt.Partitions {
			k := slices.IndexFunc(todo, func(q *partition) bool { return q.topic == rt.Topic && q.index == rp.Partition })
			if k < 0 || rp.ErrorCode != 0 {
				failed++
				continue // retried on the next round
			}
			p := todo[k]
			done, err := p.truncateTo(sent[k], rp.LeaderEpoch, rp.EndOffset)
			if err != nil {
				return err
			}
			if !done {
				continue // asks again with the epoch it now ends in
			}
			f.mu.Lock()
			if _, still := f.parts[p]; still {
				f.parts[p] = false
			}
			f.mu.Unlock()
		}
	}
	if failed >= len(todo) && !fetchable {
		return errEveryPartitionFailed
	}
	return nil
}

// truncateTo applies the leader's answer to OffsetForLeaderEpoch for our
// latest epoch, sent while the partition was at leader epoch sent, by
// KIP-279's rules (Kafka's AbstractFetcherThread):
//   - the leader knows no epoch up to ours (-1): keep what is below our HW,
//     which every in-sync replica has;
//   - the leader answered an epoch we also have: cut at the earlier of its
//     end offset and ours for that epoch;
//   - we never had the leader's epoch: cut where our largest epoch below it
//     ends, and ask again (done false) with that older epoch;
//   - we have no epoch at or below the leader's: cut at the leader's end.
//
// It does nothing, and is not done, if the partition changed since.
func (p *partition) truncateTo(sent, leaderEpoch int32, leaderEnd int64) (done bool, err error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.isLeader.Load() || p.epoch.Load() != sent {
		return false, nil
	}
	target := leaderEnd
	done = true
	if leaderEpoch < 0 || leaderEnd < 0 {
		target = p.hw.Load()
	} else if ourEpoch, ourEnd := p.log.EndOffsetForEpoch(leaderEpoch); ourEpoch >= 0 && ourEnd >= 0 {
		target = min(ourEnd, leaderEnd)
		if ourEpoch != leaderEpoch {
			target, done = ourEnd, false
		}
	}
	return done, p.truncateLocked(max(target, p.log.StartOffset()))
}

// truncateLocked drops the records at and after target. Caller holds
// appendMu.
func (p *partition) truncateLocked(target int64) error {
	if target >= p.log.EndOffset() {
		return nil
	}
	if err := p.log.Truncate(target); err != nil {
		return err
	}
	if p.hw.Load() > target {
		p.hw.Store(target)
	}
	return p.rebuildProducerState()
}

// resetLocked empties the replica and restarts it at offset. Caller holds
// appendMu.
func (p *partition) resetLocked(offset int64) error {
	if err := p.log.Reset(offset); err != nil {
		return err
	}
	p.hw.Store(offset)
	return p.rebuildProducerState()
}

// sentPart is a partition as a replica fetch request saw it: a response is
// applied only if the partition is still in that state.
type sentPart struct {
	p      *partition
	epoch  int32
	offset int64
}

// outOfRange is a partition the leader answered OFFSET_OUT_OF_RANGE for.
type outOfRange struct {
	sentPart
	leaderStart int64
}

// fetchOnce sends one replica Fetch to the leader and applies the answer; it
// returns the record bytes received.
func (fs *fetchers) fetchOnce(f *fetcher) (int, error) {
	b := fs.b
	f.mu.Lock()
	parts := f.sorted[:0]
	for p, needTrunc := range f.parts {
		if !needTrunc {
			parts = append(parts, p)
		}
	}
	f.mu.Unlock()
	f.sorted = parts
	if len(parts) == 0 {
		return 0, nil
	}
	sortByTopic(parts)
	sent := f.sent[:0]
	for _, p := range parts {
		sent = append(sent, sentPart{p: p, epoch: p.epoch.Load(), offset: p.log.EndOffset()})
	}
	f.sent = sent
	req := &f.req
	req.Version = 12
	req.ReplicaID = b.cfg.NodeID
	req.MaxWaitMillis = 500
	req.MinBytes = 1
	req.MaxBytes = 16 << 20
	req.SessionEpoch = -1
	// One topic entry per topic; the request's slices are reused from the
	// previous fetch.
	topics := req.Topics[:0]
	for i, j := 0, 0; i < len(sent); i = j {
		j = topicRun(parts, i)
		ps := sent[i:j]
		topics = resize(topics, len(topics)+1)
		t := &topics[len(topics)-1]
		t.Topic = ps[0].p.topic
		t.Partitions = resize(t.Partitions, len(ps))
		for k, s := range ps {
			rp := &t.Partitions[k]
			rp.Default()
			rp.Partition = s.p.index
			// KIP-320: the leader answers FENCED_LEADER_EPOCH or
			// UNKNOWN_LEADER_EPOCH when its epoch is not ours.
			rp.CurrentLeaderEpoch = s.epoch
			rp.FetchOffset = s.offset
			rp.LogStartOffset = s.p.log.StartOffset()
			rp.PartitionMaxBytes = replicaFetchMaxBytes
		}
	}
	req.Topics = topics
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The response's strings and record bytes alias the client's reused
	// buffer: nothing of it is kept past the loop below.
	if err := f.cl.RequestInto(ctx, req, &f.resp, true); err != nil {
		return 0, err
	}
	got := 0
	fr := &f.resp
	if fr.ErrorCode != 0 {
		return 0, kerr.ErrorForCode(fr.ErrorCode)
	}
	f.oor = f.oor[:0]
	failed := 0
	next := 0 // the leader answers in request order: try that first
	for _, rt := range fr.Topics {
		for _, rp := range rt.Partitions {
			s := findSent(sent, rt.Topic, rp.Partition, &next)
			if s == nil {
				continue
			}
			got += len(rp.RecordBatches)
			switch rp.ErrorCode {
			case 0:
			case kerr.OffsetOutOfRange.Code:
				f.oor = append(f.oor, outOfRange{sentPart: *s, leaderStart: rp.LogStartOffset})
				continue
			default:
				failed++
				continue // stale leadership: the controller's next push fixes it
			}
			if err := f.applyFetched(s, rp.RecordBatches, rp.HighWatermark, rp.LogStartOffset); err != nil {
				if errors.Is(err, storage.ErrOffsetMismatch) {
					f.needTruncation(s.p) // re-check divergence
					continue
				}
				return got, err
			}
		}
	}
	if len(f.oor) > 0 {
		return got, fs.handleOutOfRange(f)
	}
	if failed == len(sent) {
		return got, errEveryPartitionFailed
	}
	return got, nil
}

// findSent finds a response partition's request entry, trying sent[*next]
// first.
func findSent(sent []sentPart, topic string, index int32, next *int) *sentPart {
	if i := *next; i < len(sent) && sent[i].p.index == index && sent[i].p.topic == topic {
		*next = i + 1
		return &sent[i]
	}
	for i := range sent {
		if sent[i].p.index == index && sent[i].p.topic == topic {
			*next = i + 1
			return &sent[i]
		}
	}
	return nil
}

// current reports whether s still describes its partition: this fetcher
// still follows it (no truncation pending), it is not leading, and neither
// its leader epoch nor its log end moved since the request. A response to
// an older state is dropped, as Kafka's fetcher drops responses whose
// partition was removed, re-added or truncated meanwhile. Caller holds
// s.p.appendMu, which every leadership change and truncation takes.
func (f *fetcher) current(s *sentPart) bool {
	p := s.p
	if p.isLeader.Load() || p.epoch.Load() != s.epoch || p.log.EndOffset() != s.offset {
		return false
	}
	f.mu.Lock()
	needTrunc, ok := f.parts[p]
	f.mu.Unlock()
	return ok && !needTrunc
}

// needTruncation makes p ask the leader where its epoch ends before it
// fetches again.
func (f *fetcher) needTruncation(p *partition) {
	f.mu.Lock()
	if _, ok := f.parts[p]; ok {
		f.parts[p] = true
	}
	f.mu.Unlock()
}

// applyFetched appends the batches a replica fetch returned, replays them
// into the producer state (so this replica can lead with it) and takes the
// leader's HW and log start offset, unless the partition changed since the
// request.
func (f *fetcher) applyFetched(s *sentPart, batches []byte, leaderHW, leaderStart int64) error {
	// A fetch may end in a partial batch; keep whole ones only.
	n, _ := records.Iterate(batches, func(records.Header, []byte) bool { return true })
	batches = batches[:n]
	p := s.p
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if !f.current(s) {
		return nil
	}
	if len(batches) > 0 {
		if err := p.log.AppendAsFollower(batches); err != nil {
			return err
		}
		records.Iterate(batches, func(h records.Header, batch []byte) bool {
			p.ps.observe(h, batch)
			return true
		})
		p.openTxnsChanged()
	}
	// The leader's HW, bounded by our own log end.
	if hw := min(leaderHW, p.log.EndOffset()); hw != p.hw.Load() {
		p.hw.Store(hw)
		p.updateLSO()
	}
	if leaderStart > p.log.StartOffset() {
		// DeleteRecords or retention on the leader moved its start.
		p.log.DeleteRecordsBefore(min(leaderStart, p.log.EndOffset()))
	}
	return nil
}

// handleOutOfRange settles the partitions the leader answered
// OFFSET_OUT_OF_RANGE for, as Kafka's fetcher does: a replica whose log
// ends past the leader's end offset truncates to it (only an unclean
// election or a leader that lost unflushed data leaves one there); a
// replica behind the leader's log start (retention, DeleteRecords) starts
// over there.
func (fs *fetchers) handleOutOfRange(f *fetcher) error {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 4
	req.ReplicaID = fs.b.cfg.NodeID // a replica gets the log end offset, not the HW
	for _, o := range f.oor {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != o.p.topic {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = o.p.topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = o.p.index, o.epoch, -1
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, rp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.cl.Request(ctx, req)
	if err != nil {
		return err
	}
	for _, rt := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, rp := range rt.Partitions {
			for i := range f.oor {
				o := &f.oor[i]
				if o.p.topic != rt.Topic || o.p.index != rp.Partition || rp.ErrorCode != 0 {
					continue
				}
				if err := f.settleOutOfRange(o, rp.Offset); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (f *fetcher) settleOutOfRange(o *outOfRange, leaderEnd int64) error {
	p := o.p
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if !f.current(&o.sentPart) {
		return nil
	}
	leo := p.log.EndOffset()
	switch {
	case leaderEnd < leo:
		return p.truncateLocked(leaderEnd)
	case leo < o.leaderStart:
		return p.resetLocked(o.leaderStart)
	}
	return nil // the leader moved meanwhile: fetch again
}

// sortByTopic sorts parts by topic and partition, so that each topic's
// partitions form one run (topicRun) for requests that list topics with
// their partitions. Neither allocates: the replica fetch path uses them
// every round.
func sortByTopic(parts []*partition) {
	slices.SortFunc(parts, func(a, b *partition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.index) - int(b.index)
	})
}

// topicRun returns the end of the run of parts[i]'s topic in sorted parts.
func topicRun(parts []*partition, i int) int {
	j := i + 1
	for j < len(parts) && parts[j].topic == parts[i].topic {
		j++
	}
	return j
}
