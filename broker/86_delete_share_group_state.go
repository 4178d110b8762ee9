package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteShareGroupState v0 (flexible): a group coordinator drops a share
// partition's state at its leader (DeleteShareGroupOffsets). See
// share_state.go.

func (b *Broker) handleDeleteShareGroupState(r *kmsg.DeleteShareGroupStateRequest) *kmsg.DeleteShareGroupStateResponse {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
	names := b.topicNamesByID()
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteShareGroupStateResponseTopic()
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = b.deleteShareState(r.GroupID, shareTP{rt.TopicID, rp.Partition}, names)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
