package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// WriteShareGroupState v0-v1 (flexible): a group coordinator sets a share
// partition's start offset at its leader (AlterShareGroupOffsets). In-flight
// records are forgotten; state batches are not taken (kbench keeps share
// state in memory only). See share_state.go.

func (b *Broker) handleWriteShareGroupState(r *kmsg.WriteShareGroupStateRequest) *kmsg.WriteShareGroupStateResponse {
	resp := r.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
	names := b.topicNamesByID()
	for _, rt := range r.Topics {
		st := kmsg.NewWriteShareGroupStateResponseTopic()
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = b.writeShareState(r.GroupID, shareTP{rt.TopicID, rp.Partition}, rp.StartOffset, names)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
