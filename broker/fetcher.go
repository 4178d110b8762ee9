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
// truncates a divergent suffix, as Kafka's followers do.

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
	req     kmsg.FetchRequest
	resp    kmsg.FetchResponse
	fetched []*partition
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
		if d := time.Duration(fs.delay.Load()); d > 0 && !backoff(d) {
			return
		}
		if err := fs.truncatePending(f); err != nil {
			b.cfg.Logf("replica fetcher for leader %d: %v", f.leader, err)
			if !backoff(100 * time.Millisecond) {
				return
			}
			continue
		}
		got, err := fs.fetchOnce(f)
		if err != nil {
			b.cfg.Logf("replica fetcher for leader %d: %v", f.leader, err)
			if !backoff(100 * time.Millisecond) {
				return
			}
			continue
		}
		if bw := fs.bandwidth.Load(); bw > 0 && got > 0 {
			if !backoff(time.Duration(float64(got) / float64(bw) * float64(time.Second))) {
				return
			}
		}
	}
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
	f.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.Version = 3
	req.ReplicaID = fs.b.cfg.NodeID
	sortByTopic(todo)
	for i, j := 0, 0; i < len(todo); i = j {
		j = topicRun(todo, i)
		ps := todo[i:j]
		t := kmsg.NewOffsetForLeaderEpochRequestTopic()
		t.Topic = ps[0].topic
		for _, p := range ps {
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition = p.index
			rp.CurrentLeaderEpoch = p.epoch.Load()
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
	for _, rt := range resp.(*kmsg.OffsetForLeaderEpochResponse).Topics {
		for _, rp := range rt.Partitions {
			var p *partition
			for _, q := range todo {
				if q.topic == rt.Topic && q.index == rp.Partition {
					p = q
				}
			}
			if p == nil || rp.ErrorCode != 0 {
				continue // retried on the next round
			}
			if err := p.truncateTo(rp.LeaderEpoch, rp.EndOffset); err != nil {
				return err
			}
			f.mu.Lock()
			if _, still := f.parts[p]; still {
				f.parts[p] = false
			}
			f.mu.Unlock()
		}
	}
	return nil
}

// truncateTo drops this replica's records beyond the leader's end offset for
// our latest epoch (leaderEpoch -1: the leader knows nothing of it).
func (p *partition) truncateTo(leaderEpoch int32, endOffset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	leo := p.log.EndOffset()
	target := leo
	if leaderEpoch == -1 || endOffset < 0 {
		target = p.log.StartOffset() // nothing in common we can prove: refetch all
		if leo == target {
			return nil
		}
	} else if endOffset < leo {
		target = endOffset
	}
	if target >= leo {
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

// fetchOnce sends one replica Fetch to the leader and applies the answer; it
// returns the record bytes received.
func (fs *fetchers) fetchOnce(f *fetcher) (int, error) {
	b := fs.b
	f.mu.Lock()
	parts := f.fetched[:0]
	for p, needTrunc := range f.parts {
		if !needTrunc {
			parts = append(parts, p)
		}
	}
	f.mu.Unlock()
	f.fetched = parts
	if len(parts) == 0 {
		return 0, nil
	}
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
	sortByTopic(parts)
	for i, j := 0, 0; i < len(parts); i = j {
		j = topicRun(parts, i)
		ps := parts[i:j]
		topics = resize(topics, len(topics)+1)
		t := &topics[len(topics)-1]
		t.Topic = ps[0].topic
		t.Partitions = resize(t.Partitions, len(ps))
		for k, p := range ps {
			rp := &t.Partitions[k]
			rp.Default()
			rp.Partition = p.index
			rp.CurrentLeaderEpoch = p.epoch.Load()
			rp.FetchOffset = p.log.EndOffset()
			rp.LogStartOffset = p.log.StartOffset()
			rp.PartitionMaxBytes = replicaFetchMaxBytes
		}
	}
	req.Topics = topics
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The response's strings and record bytes alias the client's reused
	// buffer: nothing of it is kept past this call.
	if err := f.cl.RequestInto(ctx, req, &f.resp, true); err != nil {
		return 0, err
	}
	got := 0
	fr := &f.resp
	if fr.ErrorCode != 0 {
		return 0, kerr.ErrorForCode(fr.ErrorCode)
	}
	for _, rt := range fr.Topics {
		for _, rp := range rt.Partitions {
			p := b.topics.partition(rt.Topic, rp.Partition)
			if p == nil {
				continue
			}
			switch rp.ErrorCode {
			case 0:
			case kerr.OffsetOutOfRange.Code:
				// Behind the leader's log start (retention): start over there.
				if err := p.resetTo(rp.LogStartOffset); err != nil {
					return got, err
				}
				continue
			default:
				continue // stale leadership: the controller's next push fixes it
			}
			if len(rp.RecordBatches) > 0 {
				if err := p.appendReplicated(rp.RecordBatches); err != nil {
					if errors.Is(err, storage.ErrOffsetMismatch) {
						f.mu.Lock()
						if _, ok := f.parts[p]; ok {
							f.parts[p] = true // re-check divergence
						}
						f.mu.Unlock()
						continue
					}
					return got, err
				}
				got += len(rp.RecordBatches)
			}
			p.followerHW(rp.HighWatermark)
			if rp.LogStartOffset > p.log.StartOffset() {
				// DeleteRecords or retention on the leader moved its start.
				p.log.DeleteRecordsBefore(min(rp.LogStartOffset, p.log.EndOffset()))
			}
		}
	}
	return got, nil
}

// appendReplicated appends batches fetched from the leader and replays them
// into the producer state, so this replica can lead with it.
func (p *partition) appendReplicated(batches []byte) error {
	// A fetch may end in a partial batch; keep whole ones only.
	n, _ := records.Iterate(batches, func(records.Header, []byte) bool { return true })
	batches = batches[:n]
	if len(batches) == 0 {
		return nil
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.log.AppendAsFollower(batches); err != nil {
		return err
	}
	records.Iterate(batches, func(h records.Header, batch []byte) bool {
		p.ps.observe(h, batch)
		return true
	})
	p.openTxnsChanged()
	return nil
}

// followerHW takes the leader's high watermark, bounded by our own log end.
func (p *partition) followerHW(leaderHW int64) {
	hw := min(leaderHW, p.log.EndOffset())
	if hw != p.hw.Load() {
		p.hw.Store(hw)
		p.updateLSO()
	}
}

// resetTo empties the replica and restarts it at offset.
func (p *partition) resetTo(offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.log.Reset(offset); err != nil {
		return err
	}
	p.hw.Store(offset)
	return p.rebuildProducerState()
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
