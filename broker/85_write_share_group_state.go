package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// WriteShareGroupState v0-v1 (flexible): a group coordinator sets a share
// partition's start offset at its leader (AlterShareGroupOffsets). In-flight
// records are forgotten; state batches are not taken (kbench keeps share
// state in memory only). See share_state.go.

func (b *Broker) handleWriteShareGroupState(r *kmsg.WriteShareGroupStateRequest) *kmsg.WriteShareGroupStateResponse {
	resp := r.ResponseKind().(*kmsg.WriteShareGroupStateResponse)
	names := b.topicNamesByID()
	resp.Topics = answerEach(r.Topics, func(rt kmsg.WriteShareGroupStateRequestTopic, st *kmsg.WriteShareGroupStateResponseTopic) {
		st.TopicID = rt.TopicID
		st.Partitions = answerEach(rt.Partitions, func(rp kmsg.WriteShareGroupStateRequestTopicPartition, sp *kmsg.WriteShareGroupStateResponseTopicPartition) {
			sp.Partition = rp.Partition
			sp.ErrorCode = b.writeShareState(r.GroupID, shareTP{rt.TopicID, rp.Partition}, rp.StartOffset, names)
		})
	})
	return resp
}
