package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetForLeaderEpoch v0-v4. v1 returns the epoch with the end offset; v2
// adds current_leader_epoch fencing; v3 the replica id; v4 is flexible. A
// returning replica asks where its latest epoch ended on the leader and
// truncates what lies beyond; consumers use it (KIP-320) to detect truncation.

func (b *Broker) handleOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			p := b.topics.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil && b.topics.get(rt.Topic) == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p == nil || !p.isLeader.Load():
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch.Load()); code != 0 {
					sp.ErrorCode = code
					break
				}
				sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
