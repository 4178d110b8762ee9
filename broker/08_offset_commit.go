package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit v0-v9. v1 adds generation, member id and a per-partition
// commit timestamp; v2-v4 a retention time (ignored: offsets are kept until
// the group or topic is deleted); v5 drops both; v6 adds the leader epoch;
// v7 the group instance id (static members are fenced by it); v8 is
// flexible; v9 (KIP-848) takes a consumer group's member epoch as the
// generation (STALE_MEMBER_EPOCH when it is not the member's current one).
// Generation -1 with no member is the "simple" commit of a manually assigned
// consumer, allowed while the group is Empty.

func (b *Broker) handleOffsetCommit(r *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	var parts []commitPart
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			cp := commitPart{topic: t.Topic, partition: p.Partition, offset: p.Offset, leaderEpoch: -1, metadata: p.Metadata, timestamp: -1}
			if r.Version >= 6 {
				cp.leaderEpoch = p.LeaderEpoch
			}
			if r.Version == 1 {
				cp.timestamp = p.Timestamp
			}
			parts = append(parts, cp)
		}
	}
	generation, member := r.Generation, r.MemberID
	if r.Version == 0 {
		generation, member = -1, ""
	}
	var codes []int16
	if code := b.notCoordinator(r.Group); code != 0 {
		codes = make([]int16, len(parts))
		for i := range codes {
			codes[i] = code
		}
	} else {
		codes = b.groups.commit(r.Group, generation, member, r.InstanceID, parts, time.Now())
	}
	i := 0 // codes are in request order
	resp.Topics = answerEach(r.Topics, func(t kmsg.OffsetCommitRequestTopic, st *kmsg.OffsetCommitResponseTopic) {
		st.Topic = t.Topic
		st.Partitions = answerEach(t.Partitions, func(p kmsg.OffsetCommitRequestTopicPartition, sp *kmsg.OffsetCommitResponseTopicPartition) {
			sp.Partition, sp.ErrorCode = p.Partition, codes[i]
			i++
		})
	})
	return resp
}
