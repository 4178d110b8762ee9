package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteShareGroupState v0 (flexible): a group coordinator drops a share
// partition's state at its leader (DeleteShareGroupOffsets). See
// share_state.go.

func (b *Broker) handleDeleteShareGroupState(r *kmsg.DeleteShareGroupStateRequest) *kmsg.DeleteShareGroupStateResponse {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupStateResponse)
	names := b.topicNamesByID()
	resp.Topics = answerEach(r.Topics, func(rt kmsg.DeleteShareGroupStateRequestTopic, st *kmsg.DeleteShareGroupStateResponseTopic) {
		st.TopicID = rt.TopicID
		st.Partitions = answerEach(rt.Partitions, func(rp kmsg.DeleteShareGroupStateRequestTopicPartition, sp *kmsg.DeleteShareGroupStateResponseTopicPartition) {
			sp.Partition = rp.Partition
			sp.ErrorCode = b.deleteShareState(r.GroupID, shareTP{rt.TopicID, rp.Partition}, names)
		})
	})
	return resp
}
