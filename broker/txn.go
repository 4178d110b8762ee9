package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kbench/kbench/broker/records"

	"github.com/kbench/kbench/internal/atomicfile"
)

// The transaction coordinator: producer id allocation, transactional.id
// state (epochs, member partitions and groups, timeouts) and the two-phase
// completion that writes commit/abort markers into every partition of a
// transaction. A transactional id's state is a JSON record keyed by the id
// in its __transaction_state partition (internal_topics.go), written with
// acks=all semantics before the client is answered. A broker that becomes
// the partition's leader loads it, completes transactions it finds in
// PrepareCommit/PrepareAbort and times out open ones from their start time.
// The group half of a transaction is the group's __consumer_offsets
// partition, added by AddOffsetsToTxn: its "marker" makes the group
// coordinator apply or drop the staged offsets.

type txnState string

const (
	txnEmpty          txnState = "Empty"
	txnOngoing        txnState = "Ongoing"
	txnPrepareCommit  txnState = "PrepareCommit"
	txnPrepareAbort   txnState = "PrepareAbort"
	txnCompleteCommit txnState = "CompleteCommit"
	txnCompleteAbort  txnState = "CompleteAbort"
)

// maxTxnTimeout is transaction.max.timeout.ms.
const maxTxnTimeout = 15 * time.Minute

// pidBlock is how many producer ids are reserved per persisted allocation.
const pidBlock = 1000

type txnMeta struct {
	ID         string             `json:"id"`
	PID        int64              `json:"pid"`
	Epoch      int16              `json:"epoch"`
	State      txnState           `json:"state"`
	TimeoutMs  int32              `json:"timeoutMs"`
	Partitions map[string][]int32 `json:"partitions,omitempty"`
	Groups     []string           `json:"groups,omitempty"`
	StartMs    int64              `json:"startMs,omitempty"`
}

type txnCoordinator struct {
	b   *Broker
	dir string // holds the producer id block

	mu      sync.Mutex
	txns    map[string]*txnMeta
	nextPID int64
	pidEnd  int64 // exclusive end of the reserved block
}

func (tc *txnCoordinator) blockPath() string { return filepath.Join(tc.dir, "producer-id-block") }

func openTxnCoordinator(b *Broker) (*txnCoordinator, error) {
	tc := &txnCoordinator{b: b, dir: filepath.Join(b.cfg.DataDir, "__transaction_state"), txns: map[string]*txnMeta{}}
	if err := os.MkdirAll(tc.dir, 0o755); err != nil {
		return nil, err
	}
	// Each broker hands out ids from its own range (node id in the high 32
	// bits), so brokers of a cluster never give two producers the same id.
	tc.nextPID = int64(b.cfg.NodeID) << 32
	tc.pidEnd = tc.nextPID
	if raw, err := os.ReadFile(tc.blockPath()); err == nil {
		if _, err := fmt.Sscanf(string(raw), "%d", &tc.nextPID); err != nil {
			return nil, fmt.Errorf("parse %s: %w", tc.blockPath(), err)
		}
		tc.pidEnd = tc.nextPID // force a new reservation before the first id
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return tc, nil
}

// load replaces the state of the transactional ids of __transaction_state
// partition k with the partition's records.
func (tc *txnCoordinator) load(k int32, partitions int, recs []records.KV) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.unloadLocked(k, partitions)
	for _, r := range recs {
		id := string(r.Key)
		if r.Value == nil {
			delete(tc.txns, id)
			continue
		}
		var m txnMeta
		if err := json.Unmarshal(r.Value, &m); err != nil || m.ID != id {
			tc.b.cfg.Logf("%s-%d: malformed record for %q skipped", txnStateTopic, k, id)
			continue
		}
		tc.txns[id] = &m
	}
}

// unload forgets the transactional ids of partition k.
func (tc *txnCoordinator) unload(k int32, partitions int) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.unloadLocked(k, partitions)
}

func (tc *txnCoordinator) unloadLocked(k int32, partitions int) {
	for id := range tc.txns {
		if partitionFor(id, partitions) == k {
			delete(tc.txns, id)
		}
	}
}

// finishLoaded completes the decided transactions of a freshly loaded
// partition k (their markers may not all have been written).
func (tc *txnCoordinator) finishLoaded(k int32, partitions int) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for id, m := range tc.txns {
		if partitionFor(id, partitions) == k && preparing(m) {
			tc.complete(m, m.State == txnPrepareCommit)
		}
	}
}

// persist writes m's state to its partition and waits for its replicas;
// it returns 0 or the error for the client. Caller holds mu.
func (tc *txnCoordinator) persist(m *txnMeta) int16 {
	value, err := json.Marshal(m)
	if err != nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	t := tc.b.topics.get(txnStateTopic)
	if t == nil {
		return kerr.NotCoordinator.Code
	}
	batch := records.AppendBatch(nil, time.Now().UnixMilli(), []records.KV{{Key: []byte(m.ID), Value: value}})
	wait, code := tc.b.appendInternal(txnStateTopic, partitionFor(m.ID, len(t.partitions)), batch)
	if code != 0 {
		return code
	}
	return wait()
}

// allocPID hands out a producer id, reserving blocks on disk so ids are never
// reused across restarts. Caller holds mu.
func (tc *txnCoordinator) allocPID() (int64, error) {
	if tc.nextPID >= tc.pidEnd {
		end := tc.nextPID + pidBlock
		if err := atomicfile.Write(tc.blockPath(), fmt.Appendf(nil, "%d\n", end), true); err != nil {
			return -1, fmt.Errorf("reserve producer ids: %w", err)
		}
		tc.pidEnd = end
	}
	id := tc.nextPID
	tc.nextPID++
	return id, nil
}

// initProducerID implements InitProducerId for both idempotent (txnID nil)
// and transactional producers. reqPID/reqEpoch are KIP-360's expected values
// (-1 when absent).
func (tc *txnCoordinator) initProducerID(txnID *string, timeoutMs int32, reqPID int64, reqEpoch int16) (int64, int16, int16) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if txnID == nil {
		if reqPID >= 0 && reqEpoch >= 0 && reqEpoch < math.MaxInt16-1 {
			return reqPID, reqEpoch + 1, 0 // KIP-360 epoch bump of an idempotent producer
		}
		pid, err := tc.allocPID()
		if err != nil {
			tc.b.cfg.Logf("init producer id: %v", err)
			return -1, -1, kerr.CoordinatorNotAvailable.Code
		}
		return pid, 0, 0
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > maxTxnTimeout {
		return -1, -1, kerr.InvalidTransactionTimeout.Code
	}
	m := tc.txns[*txnID]
	if m == nil {
		pid, err := tc.allocPID()
		if err != nil {
			return -1, -1, kerr.CoordinatorNotAvailable.Code
		}
		m = &txnMeta{ID: *txnID, PID: pid, Epoch: 0, State: txnEmpty, TimeoutMs: timeoutMs}
		if code := tc.persist(m); code != 0 {
			return -1, -1, code
		}
		tc.txns[*txnID] = m
		return m.PID, m.Epoch, 0
	}
	if reqPID >= 0 && (reqPID != m.PID || reqEpoch != m.Epoch) {
		return -1, -1, kerr.ProducerFenced.Code
	}
	code := int16(0)
	switch m.State {
	case txnOngoing:
		// A new producer instance takes over: abort the open transaction with
		// a bumped epoch so the old instance (a zombie) is fenced everywhere.
		m.Epoch++
		code = tc.complete(m, false)
	case txnPrepareCommit:
		code = tc.complete(m, true)
	case txnPrepareAbort:
		code = tc.complete(m, false)
	}
	if code != 0 {
		// Still completing: the producer retries (Kafka answers the same).
		return -1, -1, kerr.ConcurrentTransactions.Code
	}
	if m.Epoch >= math.MaxInt16-1 {
		pid, err := tc.allocPID()
		if err != nil {
			return -1, -1, kerr.CoordinatorNotAvailable.Code
		}
		m.PID, m.Epoch = pid, 0
	} else {
		m.Epoch++
	}
	m.TimeoutMs = timeoutMs
	m.State = txnEmpty
	if code := tc.persist(m); code != 0 {
		return -1, -1, code
	}
	return m.PID, m.Epoch, 0
}

// lookup validates a producer's id and epoch against its transactional id.
// Caller holds mu.
func (tc *txnCoordinator) lookup(txnID string, pid int64, epoch int16) (*txnMeta, int16) {
	m := tc.txns[txnID]
	switch {
	case m == nil || m.PID != pid:
		return nil, kerr.InvalidProducerIDMapping.Code
	case epoch != m.Epoch:
		return nil, kerr.ProducerFenced.Code
	}
	return m, 0
}

// preparing reports a decided transaction whose markers are not all written;
// nothing may join it until EndTxn is retried.
func preparing(m *txnMeta) bool { return m.State == txnPrepareCommit || m.State == txnPrepareAbort }

// begin moves m to Ongoing (first partition or group of a transaction).
func (tc *txnCoordinator) begin(m *txnMeta) {
	if m.State != txnOngoing {
		m.State = txnOngoing
		m.Partitions = map[string][]int32{}
		m.Groups = nil
		m.StartMs = time.Now().UnixMilli()
	}
}

// addPartitions adds partitions; per-partition codes are returned in the
// same shape as the request.
func (tc *txnCoordinator) addPartitions(txnID string, pid int64, epoch int16, parts map[string][]int32) map[string]map[int32]int16 {
	out := make(map[string]map[int32]int16, len(parts))
	fill := func(code func(topic string, p int32) int16) map[string]map[int32]int16 {
		for t, ps := range parts {
			out[t] = make(map[int32]int16, len(ps))
			for _, p := range ps {
				out[t][p] = code(t, p)
			}
		}
		return out
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	m, code := tc.lookup(txnID, pid, epoch)
	if code == 0 && preparing(m) {
		code = kerr.ConcurrentTransactions.Code
	}
	if code != 0 {
		return fill(func(string, int32) int16 { return code })
	}
	unknown := false
	for t, ps := range parts {
		for _, p := range ps {
			unknown = unknown || !tc.b.partitionExists(t, p)
		}
	}
	if unknown {
		return fill(func(t string, p int32) int16 {
			if !tc.b.partitionExists(t, p) {
				return kerr.UnknownTopicOrPartition.Code
			}
			return kerr.OperationNotAttempted.Code
		})
	}
	tc.begin(m)
	for t, ps := range parts {
		for _, p := range ps {
			if !containsInt32(m.Partitions[t], p) {
				m.Partitions[t] = append(m.Partitions[t], p)
			}
		}
	}
	if code := tc.persist(m); code != 0 {
		return fill(func(string, int32) int16 { return code })
	}
	return fill(func(string, int32) int16 { return 0 })
}

func (tc *txnCoordinator) addGroup(txnID string, pid int64, epoch int16, group string) int16 {
	if !tc.b.ensureInternalTopic(offsetsTopic) {
		return kerr.CoordinatorNotAvailable.Code
	}
	offsets := tc.b.topics.get(offsetsTopic)
	if offsets == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	m, code := tc.lookup(txnID, pid, epoch)
	if code != 0 {
		return code
	}
	if preparing(m) {
		return kerr.ConcurrentTransactions.Code
	}
	tc.begin(m)
	found := false
	for _, g := range m.Groups {
		found = found || g == group
	}
	if !found {
		m.Groups = append(m.Groups, group)
	}
	// The group's offsets partition joins the transaction: its marker
	// settles the offsets staged with TxnOffsetCommit.
	k := partitionFor(group, len(offsets.partitions))
	if !containsInt32(m.Partitions[offsetsTopic], k) {
		m.Partitions[offsetsTopic] = append(m.Partitions[offsetsTopic], k)
	}
	return tc.persist(m)
}

// checkProducer validates a TxnOffsetCommit's producer against its
// transaction, which must include the group.
func (tc *txnCoordinator) checkProducer(txnID string, pid int64, epoch int16, group string) int16 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	m, code := tc.lookup(txnID, pid, epoch)
	if code != 0 {
		return code
	}
	if m.State != txnOngoing {
		return kerr.InvalidTxnState.Code
	}
	for _, g := range m.Groups {
		if g == group {
			return 0
		}
	}
	return kerr.InvalidTxnState.Code
}

// endTxn commits or aborts.
func (tc *txnCoordinator) endTxn(txnID string, pid int64, epoch int16, commit bool) int16 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	m, code := tc.lookup(txnID, pid, epoch)
	if code != 0 {
		return code
	}
	switch m.State {
	case txnOngoing:
	case txnPrepareCommit, txnPrepareAbort:
		// A decision whose markers could not all be written: finish it if
		// this EndTxn repeats it.
		if commit != (m.State == txnPrepareCommit) {
			return kerr.InvalidTxnState.Code
		}
	case txnCompleteCommit:
		if commit { // a retried EndTxn after it completed
			return 0
		}
		return kerr.InvalidTxnState.Code
	case txnCompleteAbort:
		if !commit {
			return 0
		}
		return kerr.InvalidTxnState.Code
	default:
		return kerr.InvalidTxnState.Code
	}
	if code := tc.complete(m, commit); code != 0 {
		return code
	}
	return 0
}

// complete runs the second phase: record the decision, write markers to
// every partition (the group offsets partitions settle the staged offsets)
// and record completion only once every marker is replicated. Caller holds
// mu.
func (tc *txnCoordinator) complete(m *txnMeta, commit bool) int16 {
	m.State = txnPrepareAbort
	if commit {
		m.State = txnPrepareCommit
	}
	if code := tc.persist(m); code != 0 {
		return code
	}
	if err := tc.b.writeMarkers(m.PID, m.Epoch, commit, m.Partitions); err != nil {
		// The decision stands (Prepare* is persisted); a retried EndTxn,
		// the timer or the next leader of the partition completes it.
		tc.b.cfg.Logf("txn %s: markers: %v", m.ID, err)
		return kerr.CoordinatorNotAvailable.Code
	}
	m.State = txnCompleteAbort
	if commit {
		m.State = txnCompleteCommit
	}
	m.Partitions, m.Groups, m.StartMs = nil, nil, 0
	return tc.persist(m)
}

// expire aborts transactions open longer than their timeout, bumping the
// epoch so the late producer is fenced (as Kafka does), and retries
// completing decided transactions whose markers are not all written.
func (tc *txnCoordinator) expire(now time.Time) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, m := range tc.txns {
		switch {
		case preparing(m):
			tc.complete(m, m.State == txnPrepareCommit)
		case m.State == txnOngoing && now.UnixMilli()-m.StartMs > int64(m.TimeoutMs):
			tc.b.cfg.Logf("txn %s: timed out after %d ms, aborting", m.ID, m.TimeoutMs)
			m.Epoch++
			tc.complete(m, false)
		}
	}
}

// writeMarker appends a transaction marker for pid/epoch as the leader and
// returns the wait for its replication (acks=all); NOT_ENOUGH_REPLICAS when
// the ISR is below minISR.
func (p *partition) writeMarker(pid int64, epoch int16, commit bool, minISR int) (func() int16, int16) {
	batch := records.AppendControlBatch(nil, pid, epoch, commit, 0, time.Now().UnixMilli())
	p.appendMu.Lock()
	leaderEpoch := p.epoch.Load()
	switch {
	case !p.isLeader.Load():
		p.appendMu.Unlock()
		return nil, kerr.NotLeaderForPartition.Code
	case int(p.isrLen.Load()) < minISR:
		p.appendMu.Unlock()
		return nil, kerr.NotEnoughReplicas.Code
	}
	base, last, err := p.log.Append(batch, leaderEpoch)
	if err == nil {
		p.ps.marker(pid, epoch, commit, base)
		p.openTxnsChanged()
		p.leaderAppended()
	}
	p.appendMu.Unlock()
	if err != nil {
		return nil, kerr.KafkaStorageError.Code
	}
	p.wake()
	return func() int16 {
		code := p.waitReplicated(last+1, leaderEpoch, minISR, coordinatorWriteTimeout)
		if code == kerr.NotCoordinator.Code {
			return kerr.NotLeaderForPartition.Code
		}
		return code
	}, 0
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
