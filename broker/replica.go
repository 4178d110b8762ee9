package broker

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Replication state of one partition on this broker, the Kafka way: the
// leader tracks each follower's log end offset (from the offsets of its
// fetches); the high watermark is the minimum log end offset over the ISR;
// a follower stays in the ISR while it caught up within
// replica.lag.time.max.ms; ISR changes go through the controller
// (AlterPartition). A single-node broker is a leader whose ISR is itself.
//
// Lock order: appendMu, then repMu.

type replicaState struct {
	self           int32
	leader         int32
	partitionEpoch int32
	replicas, isr  []int32
	followers      map[int32]*followerState
	alterInFlight  bool
	// epochStart is the log end offset when this broker became leader at
	// its current epoch: a follower must reach it (and the HW) to join the
	// ISR, so one that lags records acknowledged under an earlier epoch
	// never looks caught up to a leader whose HW restarted low.
	epochStart int64
}

type followerState struct {
	leo          int64 // -1 until the follower's first fetch
	caughtUp     time.Time
	lastFetch    time.Time
	lastFetchLEO int64 // the leader's LEO at the follower's previous fetch
}

// notifyLocked settles the acks=all requests parked on this partition
// that the HW, ISR or leadership change decides (purgatory.go). Caller
// holds repMu.
func (p *partition) notifyLocked() {
	p.settleAcksLocked()
}

// becomeLeader makes this broker the partition's leader at leaderEpoch.
// Followers' offsets are unknown until they fetch, so the HW waits for them;
// each in-sync follower gets a full lag window to do so. An error is the
// leader-epoch checkpoint's write: the partition leads regardless (its
// appends fail the same way).
func (p *partition) becomeLeader(self, leaderEpoch, partitionEpoch int32, replicas, isr []int32) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	p.epoch.Store(leaderEpoch)
	// The epoch starts at our log end now, not at our first append: a
	// follower asking meanwhile learns where our previous epoch ended.
	err := p.log.AssignEpochStart(leaderEpoch)
	now := time.Now()
	p.rs = replicaState{self: self, leader: self, partitionEpoch: partitionEpoch,
		replicas: slices.Clone(replicas), isr: slices.Clone(isr), followers: map[int32]*followerState{},
		epochStart: p.log.EndOffset()}
	for _, r := range replicas {
		if r != self {
			p.rs.followers[r] = &followerState{leo: -1, caughtUp: now, lastFetchLEO: -1}
		}
	}
	p.isLeader.Store(true)
	p.isrLen.Store(int32(len(isr)))
	p.advanceHWLocked()
	p.notifyLocked()
	defer p.wake()
	return err
}

// becomeFollower makes this broker a follower of leader (or of nobody, -1).
func (p *partition) becomeFollower(self, leader, leaderEpoch, partitionEpoch int32, replicas, isr []int32) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	p.epoch.Store(leaderEpoch)
	p.rs = replicaState{self: self, leader: leader, partitionEpoch: partitionEpoch,
		replicas: slices.Clone(replicas), isr: slices.Clone(isr)}
	p.isLeader.Store(false)
	p.isrLen.Store(int32(len(isr)))
	p.notifyLocked()
}

// leaderPartition finds a partition this broker leads, or the error code a
// client should get: UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER.
func (b *Broker) leaderPartition(topic string, index int32) (*partition, int16) {
	t := b.topics.get(topic)
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	p := t.partitions[index]
	if p == nil || !p.isLeader.Load() {
		return nil, kerr.NotLeaderForPartition.Code
	}
	return p, 0
}

// stepDown stops leading (fenced by the controller) until the next push.
func (p *partition) stepDown() {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	p.isLeader.Store(false)
	p.rs.leader = -1
	p.notifyLocked()
}

// setISR applies a newer ISR (from the controller) without a leader change.
// It takes appendMu so that an acks=all append and its min.insync.replicas
// check see one ISR (produceTo).
func (p *partition) setISR(partitionEpoch int32, isr []int32) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if partitionEpoch <= p.rs.partitionEpoch {
		return
	}
	p.rs.partitionEpoch = partitionEpoch
	p.rs.isr = slices.Clone(isr)
	p.isrLen.Store(int32(len(isr)))
	if p.isLeader.Load() {
		p.advanceHWLocked()
	}
	p.notifyLocked()
}

// leaderState returns the leader id and whether this broker leads.
func (p *partition) leaderState() (leader int32, isLeader bool) {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	return p.rs.leader, p.isLeader.Load()
}

// advanceHWLocked raises the HW to the minimum LEO over the ISR and reports
// whether it moved (consumers waiting below it should be woken). Caller
// holds repMu.
func (p *partition) advanceHWLocked() bool {
	if !p.isLeader.Load() {
		return false
	}
	hw := p.log.EndOffset()
	for _, r := range p.rs.isr {
		if r == p.rs.self {
			continue
		}
		f := p.rs.followers[r]
		if f == nil || f.leo < 0 {
			return false // unknown follower position: hold the HW
		}
		hw = min(hw, f.leo)
	}
	if hw <= p.hw.Load() {
		return false
	}
	p.hw.Store(hw)
	p.updateLSO()
	p.notifyLocked()
	return true
}

// leaderAppended recomputes the HW after a leader append (the caller wakes
// fetches). Caller holds appendMu.
func (p *partition) leaderAppended() {
	p.repMu.Lock()
	p.advanceHWLocked()
	p.repMu.Unlock()
}

// followerFetched records a follower's fetch at fetchOffset. It returns the
// new ISR to propose when the follower caught up and should rejoin, or nil.
func (p *partition) followerFetched(replica int32, fetchOffset int64, now time.Time) (expand []int32, epochs [2]int32) {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	f := p.rs.followers[replica]
	if f == nil || !p.isLeader.Load() {
		return nil, epochs
	}
	leo := p.log.EndOffset()
	switch {
	case fetchOffset >= leo:
		f.caughtUp = now
	case f.lastFetchLEO >= 0 && fetchOffset >= f.lastFetchLEO:
		f.caughtUp = f.lastFetch
	}
	f.leo, f.lastFetch, f.lastFetchLEO = fetchOffset, now, leo
	if p.advanceHWLocked() {
		defer p.wake() // consumers waiting for data below the HW
	}
	// Kafka's rule for rejoining the ISR: caught up to the HW and to the
	// start of the leader's epoch.
	if !slices.Contains(p.rs.isr, replica) && fetchOffset >= p.hw.Load() && fetchOffset >= p.rs.epochStart && !p.rs.alterInFlight {
		p.rs.alterInFlight = true
		isr := append(slices.Clone(p.rs.isr), replica)
		slices.Sort(isr)
		return isr, [2]int32{p.epoch.Load(), p.rs.partitionEpoch}
	}
	return nil, epochs
}

// laggingISR returns the ISR without followers that have not caught up for
// lagMax, when that differs from the current ISR.
func (p *partition) laggingISR(now time.Time, lagMax time.Duration) (shrunk []int32, epochs [2]int32) {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if !p.isLeader.Load() || p.rs.alterInFlight {
		return nil, epochs
	}
	var keep []int32
	for _, r := range p.rs.isr {
		if f := p.rs.followers[r]; r != p.rs.self && (f == nil || now.Sub(f.caughtUp) > lagMax) {
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == len(p.rs.isr) {
		return nil, epochs
	}
	p.rs.alterInFlight = true
	return keep, [2]int32{p.epoch.Load(), p.rs.partitionEpoch}
}

// alterDone applies the controller's answer to an ISR change.
func (p *partition) alterDone(code int16, leaderEpoch, partitionEpoch int32, isr []int32) {
	p.repMu.Lock()
	p.rs.alterInFlight = false
	p.repMu.Unlock()
	if code == 0 && leaderEpoch == p.epoch.Load() {
		p.setISR(partitionEpoch, isr)
	}
}
