package broker

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/storage"
)

// Coordinator state lives in two internal topics, as in Kafka: committed
// offsets in __consumer_offsets, transaction state in __transaction_state.
// Both are compacted and replicated like any topic (replication factor
// min(3, live brokers), min.insync.replicas 2 where there are at least two
// replicas). A group or transactional id belongs to partition
// abs(javaStringHashCode(id)) mod partitions, and its coordinator is that
// partition's leader: it loads the partition's records when it becomes
// leader (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile), writes every
// change to it with acks=all semantics, and drops the state when it stops
// leading (other brokers answer NOT_COORDINATOR). Clients cannot produce to
// these topics.
//
// The topics are created on first use (FindCoordinator), by the controller
// in a cluster and locally on a single broker (replication factor 1).

const (
	offsetsTopic  = "__consumer_offsets"
	txnStateTopic = "__transaction_state"
)

// coordinatorWriteTimeout is offsets.commit.timeout.ms (also used for
// transaction state writes and markers): how long a coordinator write waits
// for its replicas.
const coordinatorWriteTimeout = 5 * time.Second

func isInternalTopic(name string) bool { return name == offsetsTopic || name == txnStateTopic }

// javaStringHash is Java's String.hashCode over the UTF-16 code units of s
// (int32 arithmetic wraps like Java's int).
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 { // a surrogate pair in UTF-16
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// partitionFor is Kafka's Utils.abs(id.hashCode) % partitions (abs maps
// Integer.MIN_VALUE to 0).
func partitionFor(id string, partitions int) int32 {
	h := javaStringHash(id)
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % int32(partitions)
}

// coordinatorTopic is the internal topic holding keyType's state.
func coordinatorTopic(keyType int8) string {
	if keyType == coordinatorTxn {
		return txnStateTopic
	}
	return offsetsTopic
}

func (b *Broker) internalPartitions(name string) int32 {
	if name == txnStateTopic {
		return b.cfg.TxnStatePartitions
	}
	return b.cfg.OffsetsTopicPartitions
}

// internalConfigs are the internal topics' configs for a replication
// factor; segments roll at 100 MiB (offsets.topic.segment.bytes) so the
// cleaner gets to compact them.
func internalConfigs(rf int) map[string]string {
	return map[string]string{"cleanup.policy": "compact", "min.insync.replicas": strconv.Itoa(min(2, rf)), "segment.bytes": "104857600"}
}

// ensureInternalTopic creates an internal topic if it does not exist yet and
// reports whether it exists now. A single broker creates it at once; a
// cluster broker asks the controller (one request at a time) and the topic
// appears with a later metadata push.
func (b *Broker) ensureInternalTopic(name string) bool {
	i := 0
	if name == txnStateTopic {
		i = 1
	}
	if !b.clustered() {
		if b.coord.ready[i].Load() {
			return true
		}
		// Create and load before answering anyone, so clients of a single
		// broker never see the load.
		b.coord.createMu.Lock()
		defer b.coord.createMu.Unlock()
		if b.topics.get(name) == nil {
			if _, err := b.topics.create(name, b.internalPartitions(name), internalConfigs(1), false); err != nil {
				b.cfg.Logf("create %s: %v", name, err)
				return false
			}
			b.cfg.Logf("created internal topic %s with %d partitions", name, b.internalPartitions(name))
		}
		b.syncCoordinators()
		b.coord.ready[i].Store(true)
		return true
	}
	img := b.image.Load()
	if img == nil {
		return false
	}
	if img.topics[name] != nil {
		return true
	}
	flag := &b.coord.creating[i]
	if !flag.CompareAndSwap(false, true) {
		return false
	}
	go func() {
		defer flag.Store(false)
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version = 4
		rt := kmsg.NewCreateTopicsRequestTopic()
		// The controller picks the replication factor, min(3, live
		// brokers), and min.insync.replicas to match (InternalConfigs):
		// this broker's metadata can lag behind the brokers registered,
		// and an internal topic created short of replicas stays so.
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, b.internalPartitions(name), -1
		for k, v := range internalConfigs(1) {
			if k == "min.insync.replicas" {
				continue
			}
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, strp(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := b.link.ctrl.Request(ctx, req)
		if err == nil {
			r := resp.(*kmsg.CreateTopicsResponse)
			if len(r.Topics) == 1 && r.Topics[0].ErrorCode != 0 && r.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code {
				err = kerr.ErrorForCode(r.Topics[0].ErrorCode)
			}
		}
		if err != nil {
			b.cfg.Logf("create internal topic %s: %v", name, err)
			return
		}
		b.cfg.Logf("created internal topic %s: %d partitions", name, b.internalPartitions(name))
	}()
	return false
}

// coordState tracks which internal partitions this broker has loaded as
// their leader.
type coordState struct {
	// Per internal topic (__consumer_offsets, __transaction_state): in a
	// cluster, a CreateTopics is under way; on a single broker, the topic
	// exists and is loaded.
	creating [2]atomic.Bool
	ready    [2]atomic.Bool
	createMu sync.Mutex // a single broker's creation and first load

	mu     sync.Mutex
	loads  map[topicPartition]*coordLoad
	closed bool
}

// coordLoad is this broker's leadership of one internal partition: the
// leader epoch it was loaded for and whether loading finished.
type coordLoad struct {
	epoch  int32
	loaded atomic.Bool
}

// coordinatorStatus is 0 when this broker coordinates partition k of the
// internal topic name with its state loaded, COORDINATOR_LOAD_IN_PROGRESS
// while it loads, NOT_COORDINATOR when it does not lead it. A leadership
// it has not noticed yet starts loading (syncCoordinators).
func (b *Broker) coordinatorStatus(name string, k int32) int16 {
	code := b.loadedStatus(name, k)
	if code == kerr.CoordinatorLoadInProgress.Code {
		b.syncCoordinators()
		code = b.loadedStatus(name, k)
	}
	return code
}

// loadedStatus is coordinatorStatus without starting a load; it takes no
// coordinator lock, so coordinators may call it holding theirs.
func (b *Broker) loadedStatus(name string, k int32) int16 {
	p := b.topics.partition(name, k)
	if p == nil || !p.isLeader.Load() {
		return kerr.NotCoordinator.Code
	}
	b.coord.mu.Lock()
	l := b.coord.loads[topicPartition{name, k}]
	b.coord.mu.Unlock()
	if l == nil || l.epoch != p.epoch.Load() || !l.loaded.Load() {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return 0
}

// syncCoordinators starts loading the internal partitions this broker has
// become leader of and drops the state of those it no longer leads. It runs
// after every metadata change and on the transaction timer. A cluster
// broker loads in the background (clients get COORDINATOR_LOAD_IN_PROGRESS
// meanwhile); a single broker loads before it returns, as its partitions
// open at start or creation.
func (b *Broker) syncCoordinators() {
	type load struct {
		k          topicPartition
		p          *partition
		l          *coordLoad
		partitions int
	}
	var loads []load
	for _, name := range [...]string{offsetsTopic, txnStateTopic} {
		t := b.topics.get(name)
		if t == nil {
			continue
		}
		for i, p := range t.partitions {
			k := topicPartition{name, int32(i)}
			leads := p != nil && p.isLeader.Load()
			epoch := int32(-1)
			if leads {
				epoch = p.epoch.Load()
			}
			b.coord.mu.Lock()
			if b.coord.closed {
				b.coord.mu.Unlock()
				return
			}
			if b.coord.loads == nil {
				b.coord.loads = map[topicPartition]*coordLoad{}
			}
			l := b.coord.loads[k]
			if l != nil && (!leads || l.epoch != epoch) {
				delete(b.coord.loads, k)
				b.coord.mu.Unlock()
				b.unloadCoordinator(name, int32(i), len(t.partitions))
				b.coord.mu.Lock()
				l = nil
			}
			if l == nil && leads {
				l = &coordLoad{epoch: epoch}
				b.coord.loads[k] = l
				loads = append(loads, load{k, p, l, len(t.partitions)})
				b.wg.Add(1)
			}
			b.coord.mu.Unlock()
		}
	}
	for _, ld := range loads {
		if b.clustered() {
			go b.load(ld.k, ld.p, ld.l, ld.partitions)
		} else {
			b.load(ld.k, ld.p, ld.l, ld.partitions)
		}
	}
}

// load loads partition k's state for l and marks it loaded if l is still
// current. The caller added to b.wg.
func (b *Broker) load(k topicPartition, p *partition, l *coordLoad, partitions int) {
	defer b.wg.Done()
	start := time.Now()
	n, err := b.loadCoordinator(k.topic, p, partitions)
	b.coord.mu.Lock()
	current := b.coord.loads[k] == l
	if err != nil && current {
		delete(b.coord.loads, k) // retried by the next sync
	}
	b.coord.mu.Unlock()
	switch {
	case err != nil:
		b.cfg.Logf("load %s-%d: %v", k.topic, k.partition, err)
	case current:
		l.loaded.Store(true)
		b.cfg.Logf("%s-%d: coordinator state loaded at leader epoch %d (%d records, %s)", k.topic, k.partition, l.epoch, n, time.Since(start).Round(time.Millisecond))
		if k.topic == txnStateTopic {
			b.txns.finishLoaded(k.partition, partitions)
		}
	}
}

// loadCoordinator replays partition p of an internal topic into the
// coordinator that owns it and returns how many records it read.
func (b *Broker) loadCoordinator(name string, p *partition, partitions int) (int, error) {
	var recs []records.KV
	err := readKeyed(p.log, func(key, value []byte) {
		recs = append(recs, records.KV{Key: key, Value: value})
	})
	if err != nil {
		return 0, err
	}
	if name == offsetsTopic {
		b.groups.load(p.index, partitions, recs)
	} else {
		b.txns.load(p.index, partitions, recs)
	}
	return len(recs), nil
}

// unloadCoordinator drops the state of internal partition k.
func (b *Broker) unloadCoordinator(name string, k int32, partitions int) {
	b.cfg.Logf("%s-%d: no longer coordinator: dropping its state", name, k)
	if name == offsetsTopic {
		b.groups.unload(k, partitions)
	} else {
		b.txns.unload(k, partitions)
	}
}

// readKeyed calls fn with the key and value (nil: tombstone) of every record
// in l, in offset order; control batches are skipped.
func readKeyed(l *storage.Log, fn func(key, value []byte)) error {
	var bodyErr error
	err := l.Scan(l.StartOffset(), func(h records.Header, body func() ([]byte, error)) bool {
		if h.Control() {
			return true
		}
		batch, err := body()
		if err != nil {
			bodyErr = err
			return false
		}
		bodyErr = records.EachRecord(batch, func(r records.Record) bool {
			fn(r.Key, r.Value)
			return true
		})
		return bodyErr == nil
	})
	if err == nil {
		err = bodyErr
	}
	return err
}

// appendInternal appends a batch of coordinator records to partition k of
// an internal topic as its leader and returns a wait that blocks until the
// batch is replicated to the ISR (acks=all) and says how it went: 0,
// NOT_COORDINATOR when leadership moved, COORDINATOR_NOT_AVAILABLE when the
// ISR is below min.insync.replicas or the replicas did not confirm in time
// (Kafka's mapping for coordinator writes; clients retry both). A non-zero
// code instead of a wait means nothing was appended.
func (b *Broker) appendInternal(name string, k int32, batch []byte) (func() int16, int16) {
	t := b.topics.get(name)
	if t == nil || int(k) >= len(t.partitions) || t.partitions[k] == nil {
		return nil, kerr.NotCoordinator.Code
	}
	p := t.partitions[k]
	minISR := t.settings.minInsync
	p.appendMu.Lock()
	switch {
	case !p.isLeader.Load():
		p.appendMu.Unlock()
		return nil, kerr.NotCoordinator.Code
	case int(p.isrLen.Load()) < minISR:
		p.appendMu.Unlock()
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	epoch := p.epoch.Load()
	_, last, err := p.log.Append(batch, epoch)
	if err == nil {
		p.leaderAppended()
	}
	p.appendMu.Unlock()
	if err != nil {
		b.cfg.Logf("append %s-%d: %v", name, k, err)
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	p.wake()
	return func() int16 { return p.waitReplicated(last+1, epoch, minISR, coordinatorWriteTimeout) }, 0
}

// waitReplicated waits until the high watermark reaches target while this
// broker still leads at epoch.
func (p *partition) waitReplicated(target int64, epoch int32, minISR int, timeout time.Duration) int16 {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond) // leadership and ISR changes do not wake waiters
	defer poll.Stop()
	ch := make(chan struct{}, 1)
	for {
		p.addWaiter(ch)
		switch {
		case !p.isLeader.Load() || p.epoch.Load() != epoch:
			p.removeWaiter(ch)
			return kerr.NotCoordinator.Code
		case p.hw.Load() >= target:
			p.removeWaiter(ch)
			if int(p.isrLen.Load()) < minISR {
				return kerr.CoordinatorNotAvailable.Code
			}
			return 0
		}
		select {
		case <-ch:
		case <-poll.C:
			p.removeWaiter(ch)
		case <-deadline.C:
			p.removeWaiter(ch)
			return kerr.CoordinatorNotAvailable.Code
		}
	}
}

// appendGroupRecords is the group coordinator's journal: a batch of offset
// records for group's __consumer_offsets partition.
func (b *Broker) appendGroupRecords(group string, batch []byte) (func() int16, int16) {
	t := b.topics.get(offsetsTopic)
	if t == nil {
		return nil, kerr.NotCoordinator.Code
	}
	k := partitionFor(group, len(t.partitions))
	if code := b.loadedStatus(offsetsTopic, k); code != 0 {
		return nil, code
	}
	return b.appendInternal(offsetsTopic, k, batch)
}
