package broker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/storage"
	"github.com/kbench/kbench/internal/topicconf"

	"github.com/kbench/kbench/internal/atomicfile"
)

// topic is one topic: its id, configs and partitions. Partitions only grow.
type topic struct {
	name       string
	id         [16]byte
	configs    map[string]string
	settings   topicSettings
	partitions []*partition
}

// partition wraps one partition's log with the state the protocol needs.
type partition struct {
	topic string
	index int32
	log   *storage.Log

	// appendMu serializes validate+append so that offsets follow request order.
	appendMu sync.Mutex
	// hw is the high watermark: consumers read below it. With one replica it
	// equals the log end offset after every append.
	hw atomic.Int64
	// epoch is the leader epoch stamped on appended batches.
	epoch atomic.Int32
	// lso is the last stable offset: the high watermark, or the first offset
	// of the earliest open transaction if that is lower.
	lso atomic.Int64
	// ps is the idempotence and transaction state; guarded by appendMu.
	ps producerState
	// firstOpen mirrors ps.firstUnstable() (-1: none) for updateLSO.
	firstOpen atomic.Int64
	lsoMu     sync.Mutex

	// Replication (replica.go); rs is guarded by repMu.
	repMu    sync.Mutex
	rs       replicaState
	acks     []ackSlot // parked acks=all requests (purgatory.go)
	isLeader atomic.Bool
	isrLen   atomic.Int32

	waitMu  sync.Mutex
	waiters []chan struct{}

	lastFlush atomic.Int64 // unix ms of the last interval flush
}

// maybeFlush fsyncs the log if intervalMs passed since the last flush.
func (p *partition) maybeFlush(intervalMs int64) {
	now := time.Now().UnixMilli()
	if now-p.lastFlush.Load() < intervalMs {
		return
	}
	p.lastFlush.Store(now)
	p.log.Flush()
}

// wake releases every fetch waiting on this partition.
func (p *partition) wake() {
	var local [8]chan struct{} // the waiters are signalled outside the lock
	p.waitMu.Lock()
	ws := append(local[:0], p.waiters...)
	clear(p.waiters)
	p.waiters = p.waiters[:0] // the next waiters reuse the array
	p.waitMu.Unlock()
	for _, w := range ws {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// addWaiter registers ch (buffered, cap 1) to be signalled on the next append.
func (p *partition) addWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	p.waiters = append(p.waiters, ch)
	p.waitMu.Unlock()
}

func (p *partition) removeWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.waitMu.Unlock()
}

// topics is the broker's topic registry, persisted as topics.json in the data dir.
type topics struct {
	cfg *Config
	// clustered: topics and leadership come from the controller, not from
	// the local registry.
	clustered bool
	mu        sync.RWMutex
	m         map[string]*topic
	// hwStart is the HW checkpoint read at start (hwcheckpoint.go): where
	// a partition's HW starts when it opens.
	hwStart map[hwKey]int64
}

type topicRecord struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

var (
	errTopicExists   = errors.New("topic already exists")
	errInvalidTopic  = errors.New("invalid topic name")
	errInvalidConfig = errors.New("invalid config")
	errInvalidParts  = errors.New("invalid partitions")
	errUnknownTopic  = errors.New("unknown topic")
)

func (ts *topics) registryPath() string { return filepath.Join(ts.cfg.DataDir, "topics.json") }

func partitionDir(dataDir, topic string, p int32) string {
	return filepath.Join(dataDir, topic+"-"+strconv.Itoa(int(p)))
}

// load opens every topic recorded in the registry, recovering each log.
func (ts *topics) load() error {
	ts.m = make(map[string]*topic)
	hw, err := readHWCheckpoint(ts.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("read high watermark checkpoint: %w", err)
	}
	ts.hwStart = hw
	if ts.clustered {
		return nil // partitions open as the controller assigns them
	}
	raw, err := os.ReadFile(ts.registryPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read topic registry: %w", err)
	}
	var recs []topicRecord
	if err := json.Unmarshal(raw, &recs); err != nil {
		return fmt.Errorf("parse topic registry %s: %w", ts.registryPath(), err)
	}
	for _, r := range recs {
		t := &topic{name: r.Name, configs: r.Configs}
		if t.configs == nil {
			t.configs = map[string]string{}
		}
		if id, err := hex.DecodeString(r.ID); err != nil || len(id) != len(t.id) {
			return fmt.Errorf("topic %s: bad id %q in %s", r.Name, r.ID, ts.registryPath())
		} else {
			copy(t.id[:], id)
		}
		t.settings = resolveTopicSettings(ts.cfg, t.configs)
		for i := int32(0); i < r.Partitions; i++ {
			p, err := ts.openPartition(t, i)
			if err != nil {
				return err
			}
			t.partitions = append(t.partitions, p)
		}
		ts.m[t.name] = t
	}
	return nil
}

func (ts *topics) openPartition(t *topic, i int32) (*partition, error) {
	l, err := storage.Open(partitionDir(ts.cfg.DataDir, t.name, i), t.settings.log)
	if err != nil {
		return nil, fmt.Errorf("open partition %s-%d: %w", t.name, i, err)
	}
	p := &partition{topic: t.name, index: i, log: l, ps: newProducerState()}
	// The HW starts where it was checkpointed, within the log, and rises as
	// replicas confirm their offsets (at once for a single node).
	p.hw.Store(min(max(ts.hwStart[hwKey{t.name, i}], l.StartOffset()), l.EndOffset()))
	if err := p.rebuildProducerState(); err != nil {
		l.Close()
		return nil, fmt.Errorf("open partition %s-%d: %w", t.name, i, err)
	}
	if !ts.clustered {
		self := ts.cfg.NodeID
		if err := p.becomeLeader(self, max(l.LatestEpoch(), 0), 0, []int32{self}, []int32{self}); err != nil {
			l.Close()
			return nil, fmt.Errorf("open partition %s-%d: %w", t.name, i, err)
		}
	}
	return p, nil
}

// rebuildProducerState replays every batch header of the log (and the body of
// transaction markers) into the producer state, then sets the LSO.
func (p *partition) rebuildProducerState() error {
	p.ps = newProducerState()
	var loadErr error
	err := p.log.Scan(p.log.StartOffset(), func(h records.Header, body func() ([]byte, error)) bool {
		var b []byte
		if h.Control() {
			if b, loadErr = body(); loadErr != nil {
				return false
			}
		}
		p.ps.observe(h, b)
		return true
	})
	if err == nil {
		err = loadErr
	}
	if err != nil {
		return fmt.Errorf("rebuild producer state: %w", err)
	}
	p.openTxnsChanged()
	return nil
}

// openTxnsChanged refreshes firstOpen after ps changed. Caller holds appendMu.
func (p *partition) openTxnsChanged() {
	p.firstOpen.Store(p.ps.firstUnstable())
	p.updateLSO()
}

// updateLSO recomputes the last stable offset from the HW and the first
// open transaction.
func (p *partition) updateLSO() {
	p.lsoMu.Lock()
	lso := p.hw.Load()
	if f := p.firstOpen.Load(); f >= 0 && f < lso {
		lso = f
	}
	p.lso.Store(lso)
	p.lsoMu.Unlock()
}

// save writes the registry atomically (temp file, fsync, rename). Caller holds mu.
func (ts *topics) save() error {
	if ts.clustered {
		return nil // the controller owns the topic registry
	}
	recs := make([]topicRecord, 0, len(ts.m))
	for _, t := range ts.m {
		recs = append(recs, topicRecord{Name: t.name, ID: hex.EncodeToString(t.id[:]), Partitions: int32(len(t.partitions)), Configs: t.configs})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	raw, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(ts.registryPath(), raw, true)
}

func (ts *topics) get(name string) *topic {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return ts.m[name]
}

func (ts *topics) partition(name string, p int32) *partition {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	t := ts.m[name]
	if t == nil || p < 0 || int(p) >= len(t.partitions) {
		return nil
	}
	return t.partitions[p]
}

// snapshot returns the topics sorted by name.
func (ts *topics) snapshot() []*topic {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	out := make([]*topic, 0, len(ts.m))
	for _, t := range ts.m {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// create makes a topic; validateOnly checks without creating.
func (ts *topics) create(name string, partitions int32, configs map[string]string, validateOnly bool) (*topic, error) {
	if err := topicconf.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidTopic, err)
	}
	if partitions < 1 || partitions > 100000 {
		return nil, fmt.Errorf("%w: %d (must be 1..100000)", errInvalidParts, partitions)
	}
	if err := validateTopicConfigs(configs); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalidConfig, err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.m[name]; ok {
		return nil, fmt.Errorf("%w: %s", errTopicExists, name)
	}
	if validateOnly {
		return nil, nil
	}
	t := &topic{name: name, configs: configs}
	if t.configs == nil {
		t.configs = map[string]string{}
	}
	rand.Read(t.id[:])
	t.settings = resolveTopicSettings(ts.cfg, t.configs)
	for i := int32(0); i < partitions; i++ {
		p, err := ts.openPartition(t, i)
		if err != nil {
			for _, p := range t.partitions {
				p.log.Delete()
			}
			return nil, err
		}
		t.partitions = append(t.partitions, p)
	}
	ts.m[name] = t
	if err := ts.save(); err != nil {
		return nil, fmt.Errorf("persist topic registry: %w", err)
	}
	return t, nil
}

func (ts *topics) delete(name string) error {
	ts.mu.Lock()
	t, ok := ts.m[name]
	if !ok {
		ts.mu.Unlock()
		return errUnknownTopic
	}
	delete(ts.m, name)
	err := ts.save()
	ts.mu.Unlock()
	for _, p := range t.partitions {
		if p != nil {
			p.wake()
			p.log.Delete()
		}
	}
	return err
}

func (ts *topics) addPartitions(name string, total int32, validateOnly bool) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[name]
	if !ok {
		return errUnknownTopic
	}
	if total <= int32(len(t.partitions)) {
		return fmt.Errorf("%w: topic has %d partitions, requested total %d must be larger", errInvalidParts, len(t.partitions), total)
	}
	if total > 100000 {
		return fmt.Errorf("%w: %d (must be <= 100000)", errInvalidParts, total)
	}
	if validateOnly {
		return nil
	}
	parts := append([]*partition(nil), t.partitions...)
	for i := int32(len(parts)); i < total; i++ {
		p, err := ts.openPartition(t, i)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	// Publish a new slice so readers holding the old one stay consistent.
	nt := *t
	nt.partitions = parts
	ts.m[name] = &nt
	return ts.save()
}

// setConfigs replaces a topic's explicit configs and applies them to its logs.
func (ts *topics) setConfigs(name string, configs map[string]string, validateOnly bool) error {
	if err := validateTopicConfigs(configs); err != nil {
		return fmt.Errorf("%w: %v", errInvalidConfig, err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[name]
	if !ok {
		return errUnknownTopic
	}
	if validateOnly {
		return nil
	}
	nt := *t
	nt.configs = configs
	nt.settings = resolveTopicSettings(ts.cfg, configs)
	for _, p := range nt.partitions {
		if p != nil { // a partition this broker does not replicate
			p.log.SetConfig(nt.settings.log)
		}
	}
	ts.m[name] = &nt
	return ts.save()
}

func (ts *topics) closeAll() error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var first error
	for _, t := range ts.m {
		for _, p := range t.partitions {
			if p == nil {
				continue
			}
			p.wake()
			if err := p.log.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
