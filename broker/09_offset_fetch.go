package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch v0-v9. v1 reads Kafka-stored offsets (v0 meant ZooKeeper;
// both read the same store here); v2 adds a top-level error code and null
// topics meaning "all committed partitions"; v3 throttle; v5 leader epoch;
// v6 flexible; v7 require_stable (UNSTABLE_OFFSET_COMMIT while a transaction
// holds an offset for the partition); v8 batches groups; v9 (KIP-848) names
// the member and its epoch: a consumer group's member reads only at its
// current epoch (STALE_MEMBER_EPOCH). A partition without
// a committed offset answers offset -1, metadata "". Offsets of deleted
// topics are not returned.

func (b *Broker) handleOffsetFetch(r *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			if sg.ErrorCode = b.notCoordinator(rg.Group); sg.ErrorCode != 0 {
				resp.Groups = append(resp.Groups, sg)
				continue
			}
			if sg.ErrorCode = b.groups.checkFetchMember(rg.Group, rg.MemberID, rg.MemberEpoch); sg.ErrorCode != 0 {
				resp.Groups = append(resp.Groups, sg)
				continue
			}
			var topics []kmsg.OffsetFetchRequestTopic
			if rg.Topics != nil {
				topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			for _, t := range b.offsetsFor(rg.Group, topics, r.RequireStable) {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic = t.Topic
				for _, p := range t.Partitions {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
					gt.Partitions = append(gt.Partitions, gp)
				}
				sg.Topics = append(sg.Topics, gt)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return resp
	}
	if code := b.notCoordinator(r.Group); code != 0 {
		if r.Version >= 2 {
			resp.ErrorCode = code
			return resp
		}
		for _, t := range r.Topics { // v0-v1 carry errors per partition only
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.ErrorCode = p, -1, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	topics := r.Topics
	if r.Version < 2 && topics == nil {
		topics = []kmsg.OffsetFetchRequestTopic{} // null "all" exists from v2
	}
	resp.Topics = b.offsetsFor(r.Group, topics, r.Version >= 7 && r.RequireStable)
	return resp
}

// offsetsFor answers one group: the requested partitions, or every committed
// one when topics is nil.
func (b *Broker) offsetsFor(group string, topics []kmsg.OffsetFetchRequestTopic, requireStable bool) []kmsg.OffsetFetchResponseTopic {
	var out []kmsg.OffsetFetchResponseTopic
	part := func(p int32, f fetched) kmsg.OffsetFetchResponseTopicPartition {
		sp := kmsg.NewOffsetFetchResponseTopicPartition()
		sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = p, f.offset, f.leaderEpoch, f.code
		md := f.metadata
		sp.Metadata = &md
		return sp
	}
	if topics == nil {
		for _, e := range b.groups.fetchAll(group) {
			if len(out) == 0 || out[len(out)-1].Topic != e.topic {
				st := kmsg.NewOffsetFetchResponseTopic()
				st.Topic = e.topic
				out = append(out, st)
			}
			f := fetched{offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata}
			if requireStable && b.groups.offsets.pending(group, topicPartition{e.topic, e.partition}) {
				f = fetched{offset: -1, leaderEpoch: -1, code: kerr.UnstableOffsetCommit.Code}
			}
			st := &out[len(out)-1]
			st.Partitions = append(st.Partitions, part(e.partition, f))
		}
		return out
	}
	for _, t := range topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			st.Partitions = append(st.Partitions, part(p, b.groups.fetch(group, topicPartition{t.Topic, p}, requireStable)))
		}
		out = append(out, st)
	}
	return out
}
