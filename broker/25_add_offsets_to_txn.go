package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// AddOffsetsToTxn v0-v3 (v3 flexible): adds a consumer group to the
// transaction so its TxnOffsetCommit offsets commit or abort with it.

func (b *Broker) handleAddOffsetsToTxn(r *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if resp.ErrorCode = b.notTxnCoordinator(r.TransactionalID); resp.ErrorCode == 0 {
		resp.ErrorCode = b.txns.addGroup(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
	}
	return resp
}
