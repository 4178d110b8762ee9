package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// TxnOffsetCommit v0-v3 (v2 leader epochs, v3 flexible with group
// generation/member for KIP-447 fencing): offsets committed inside a
// transaction are staged for the producer and applied or dropped when the
// transaction ends. The producer must be the transactional id's current
// incarnation with the group added (AddOffsetsToTxn), which is checked when
// this broker coordinates the transaction too.

func (b *Broker) handleTxnOffsetCommit(r *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	code := b.notCoordinator(r.Group)
	if code == 0 && b.notTxnCoordinator(r.TransactionalID) == 0 {
		// The transaction's state is known only where its coordinator
		// runs; elsewhere the epoch bump of a successor's InitProducerId
		// fences a zombie at its next AddOffsetsToTxn or EndTxn.
		code = b.txns.checkProducer(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
	}
	if code == 0 {
		resp.Topics = b.groups.stageTxnOffsets(r)
		return resp
	}
	for _, t := range r.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
