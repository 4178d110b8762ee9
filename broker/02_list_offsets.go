package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets v0-v7. v0 returns old-style offset arrays; v1 a single
// timestamp/offset; v2 isolation level; v4 leader epochs; v6 flexible; v7
// MAX_TIMESTAMP (-3). Special timestamps: -1 latest (high watermark; the log
// end offset for a replica id >= 0, as Kafka answers followers), -2
// earliest (log start offset), -3 the batch with the largest timestamp.

func (b *Broker) handleListOffsets(r *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp = -1
			sp.Offset = -1
			p, code := b.leaderPartition(rt.Topic, rp.Partition)
			if code != 0 {
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			epoch := p.epoch.Load()
			if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); code != 0 {
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.LeaderEpoch = epoch
			switch rp.Timestamp {
			case -1:
				sp.Offset = p.hw.Load()
				if r.ReplicaID >= 0 {
					sp.Offset = p.log.EndOffset() // a follower asks where the leader's log ends
				} else if r.IsolationLevel == 1 {
					sp.Offset = p.lso.Load()
				}
			case -2:
				sp.Offset = p.log.StartOffset()
			case -3:
				sp.Timestamp, sp.Offset = p.log.MaxTimestamp()
			default:
				if off, ts, ok := p.log.OffsetForTimestamp(rp.Timestamp); ok && off < p.hw.Load() {
					sp.Offset, sp.Timestamp = off, ts
				}
			}
			if r.Version == 0 {
				sp.OldStyleOffsets = []int64{sp.Offset}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// checkLeaderEpoch implements KIP-320's current_leader_epoch check: -1 skips it.
func checkLeaderEpoch(requested, current int32) int16 {
	switch {
	case requested == -1 || requested == current:
		return 0
	case requested < current:
		return kerr.FencedLeaderEpoch.Code
	default:
		return kerr.UnknownLeaderEpoch.Code
	}
}
