package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Committed offsets as the coordinator sees them: who may commit (Kafka's
// doCommitOffsets rules), what OffsetFetch answers, and the transactional
// half (staged offsets that apply when the transaction commits).

// commitCheck is Kafka's doCommitOffsets validation; it returns the error
// for every partition of the request, or 0. Caller holds c.mu.
func (c *groupCoordinator) commitCheck(group string, generation int32, memberID string, instanceID *string, now time.Time) int16 {
	g := c.group(group, now)
	if g == nil {
		if generation >= 0 {
			// Either the group is gone or this is a stale generation.
			return kerr.IllegalGeneration.Code
		}
		// A "simple" consumer (manual assignment) uses the coordinator only
		// for storage: the group comes into being Empty.
		c.groups[group] = c.newGroup(group, now)
		return 0
	}
	if g.consumer != nil {
		return g.consumerCommitCheck(generation, memberID)
	}
	switch {
	case g.state == groupDead:
		return kerr.CoordinatorNotAvailable.Code
	case g.fenced(memberID, instanceID):
		return kerr.FencedInstanceID.Code
	case generation < 0 && g.state == groupEmpty:
		return 0
	case g.state == groupCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	// PreparingRebalance is allowed: members commit while revoking.
	m.deadline = now.Add(m.sessionTimeout)
	return 0
}

// entries validates the partitions of a commit and returns what to store
// plus a per-partition error (0 for the stored ones), in request order.
func (c *groupCoordinator) entries(parts []commitPart, now time.Time) ([]offsetEntry, []int16) {
	codes := make([]int16, len(parts))
	var es []offsetEntry
	for i, p := range parts {
		id, ok := c.topicID(p.topic, p.partition)
		switch {
		case !ok:
			codes[i] = kerr.UnknownTopicOrPartition.Code
			continue
		case p.metadata != nil && len(*p.metadata) > c.set.maxMetadataBytes:
			codes[i] = kerr.OffsetMetadataTooLarge.Code
			continue
		}
		e := offsetEntry{topic: p.topic, partition: p.partition, offset: p.offset, leaderEpoch: p.leaderEpoch, commitMs: now.UnixMilli(), topicID: id}
		if p.metadata != nil {
			e.metadata = *p.metadata
		}
		if p.timestamp >= 0 {
			e.commitMs = p.timestamp // OffsetCommit v1's explicit commit time
		}
		es = append(es, e)
	}
	return es, codes
}

// commitPart is one partition of OffsetCommit or TxnOffsetCommit.
type commitPart struct {
	topic       string
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    *string
	timestamp   int64
}

// commit stores offsets for a group after commitCheck; the returned codes
// follow parts' order. It answers once the offsets are replicated
// (acks=all), waiting without the coordinator's lock.
func (c *groupCoordinator) commit(group string, generation int32, memberID string, instanceID *string, parts []commitPart, now time.Time) []int16 {
	codes, wait := func() ([]int16, func() int16) {
		c.mu.Lock()
		defer c.mu.Unlock()
		code := c.commitCheck(group, generation, memberID, instanceID, now)
		if code != 0 {
			codes := make([]int16, len(parts))
			for i := range codes {
				codes[i] = code
			}
			return codes, nil
		}
		es, codes := c.entries(parts, now)
		if len(es) == 0 {
			return codes, nil
		}
		wait, code := c.offsets.commit(group, es, now.UnixMilli())
		if code != 0 {
			return failStored(codes, code), nil
		}
		return codes, wait
	}()
	if wait != nil {
		if code := wait(); code != 0 {
			failStored(codes, code)
		}
	}
	return codes
}

// failStored sets code on every partition that was to be stored (0).
func failStored(codes []int16, code int16) []int16 {
	for i := range codes {
		if codes[i] == 0 {
			codes[i] = code
		}
	}
	return codes
}

// fetched is one OffsetFetch answer for a partition.
type fetched struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	code        int16
}

// fetch answers OffsetFetch for one partition. Offsets of a deleted (or
// deleted and re-created) topic are not returned: Kafka removes them with
// the topic. requireStable (v7) refuses partitions a transaction is about to
// change.
func (c *groupCoordinator) fetch(group string, tp topicPartition, requireStable bool) fetched {
	if requireStable && c.offsets.pending(group, tp) {
		return fetched{offset: -1, leaderEpoch: -1, code: kerr.UnstableOffsetCommit.Code}
	}
	e, ok := c.offsets.get(group, tp)
	if !ok || !c.live(&e) {
		return fetched{offset: -1, leaderEpoch: -1}
	}
	return fetched{offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata}
}

func (c *groupCoordinator) live(e *offsetEntry) bool {
	id, ok := c.topicID(e.topic, e.partition)
	return ok && id == e.topicID
}

// fetchAll lists every live committed offset of group (OffsetFetch with null topics).
func (c *groupCoordinator) fetchAll(group string) []offsetEntry {
	all := c.offsets.all(group)
	out := all[:0]
	for i := range all {
		if c.live(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// stageTxnOffsets is the coordinator half of TxnOffsetCommit (v0-v3): it
// validates the group fields like Kafka (a dead group, a fenced static
// member, an unknown member id when one is given, a generation >= 0 that is
// not current) and the partitions, then durably holds the offsets for
// producerID until completeTxn. The producer/transaction checks are the
// caller's. Topics and partitions of the answer follow the request's.
func (c *groupCoordinator) stageTxnOffsets(r *kmsg.TxnOffsetCommitRequest) []kmsg.TxnOffsetCommitResponseTopic {
	now := time.Now()
	var parts []commitPart
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			parts = append(parts, commitPart{topic: t.Topic, partition: p.Partition, offset: p.Offset, leaderEpoch: p.LeaderEpoch, metadata: p.Metadata, timestamp: -1})
		}
	}
	var stageWait func() int16
	codes := func() []int16 {
		c.mu.Lock()
		defer c.mu.Unlock()
		all := func(code int16) []int16 {
			cs := make([]int16, len(parts))
			for i := range cs {
				cs[i] = code
			}
			return cs
		}
		if r.Group == "" {
			return all(kerr.InvalidGroupID.Code)
		}
		g := c.groups[r.Group]
		if g == nil {
			g = c.newGroup(r.Group, now)
			c.groups[r.Group] = g
		}
		if g.consumer != nil {
			if m := g.consumer.members[r.MemberID]; r.MemberID != "" && m == nil {
				return all(kerr.UnknownMemberID.Code)
			} else if m != nil && r.Generation >= 0 && r.Generation != m.epoch {
				return all(kerr.IllegalGeneration.Code)
			}
		} else {
			switch {
			case g.state == groupDead:
				return all(kerr.CoordinatorNotAvailable.Code)
			case g.fenced(r.MemberID, r.InstanceID):
				return all(kerr.FencedInstanceID.Code)
			case r.MemberID != "" && g.members[r.MemberID] == nil:
				return all(kerr.UnknownMemberID.Code)
			case r.Generation >= 0 && r.Generation != g.generation:
				return all(kerr.IllegalGeneration.Code)
			}
		}
		es, codes := c.entries(parts, now)
		if len(es) == 0 {
			return codes
		}
		wait, code := c.offsets.stage(r.ProducerID, r.Group, es, now.UnixMilli())
		if code == 0 {
			stageWait = wait
			return codes
		}
		return failStored(codes, code)
	}()
	if stageWait != nil {
		if code := stageWait(); code != 0 {
			failStored(codes, code)
		}
	}
	i := 0 // codes are in request order
	return answerEach(r.Topics, func(t kmsg.TxnOffsetCommitRequestTopic, rt *kmsg.TxnOffsetCommitResponseTopic) {
		rt.Topic = t.Topic
		rt.Partitions = answerEach(t.Partitions, func(p kmsg.TxnOffsetCommitRequestTopicPartition, rp *kmsg.TxnOffsetCommitResponseTopicPartition) {
			rp.Partition, rp.ErrorCode = p.Partition, codes[i]
			i++
		})
	})
}

// completeTxn applies (commit) or discards the offsets producerID staged
// for the groups of __consumer_offsets partition k (the transaction marker
// for that partition), replicated before it returns; a plain commit made
// after the staging wins over it. It is a no-op for a producer with nothing
// staged there, so a retried marker is harmless.
func (c *groupCoordinator) completeTxn(producerID int64, commit bool, k int32, partitions int) int16 {
	wait, code := c.offsets.complete(producerID, commit, func(g string) bool { return partitionFor(g, partitions) == k }, time.Now().UnixMilli())
	if code != 0 {
		return code
	}
	return wait()
}
