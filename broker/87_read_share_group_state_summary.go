package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// ReadShareGroupStateSummary v0-v1 (flexible): a group coordinator asks the
// leader of a share partition (Kafka: its share coordinator) for the
// share-partition start offset, -1 where the group has no state yet; v1's
// DeliveryCompleteCount is left at -1 (unknown). See share_state.go.

func (b *Broker) handleReadShareGroupStateSummary(r *kmsg.ReadShareGroupStateSummaryRequest) *kmsg.ReadShareGroupStateSummaryResponse {
	resp := r.ResponseKind().(*kmsg.ReadShareGroupStateSummaryResponse)
	names := b.topicNamesByID()
	resp.Topics = answerEach(r.Topics, func(rt kmsg.ReadShareGroupStateSummaryRequestTopic, st *kmsg.ReadShareGroupStateSummaryResponseTopic) {
		st.TopicID = rt.TopicID
		st.Partitions = answerEach(rt.Partitions, func(rp kmsg.ReadShareGroupStateSummaryRequestTopicPartition, sp *kmsg.ReadShareGroupStateSummaryResponseTopicPartition) {
			sp.Partition = rp.Partition
			sp.StartOffset, sp.LeaderEpoch, sp.ErrorCode = b.readShareState(r.GroupID, shareTP{rt.TopicID, rp.Partition}, names)
		})
	})
	return resp
}
