package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// EndTxn v0-v3 (v3 flexible): commit or abort. The coordinator records the
// decision, writes a marker to every partition of the transaction, applies or
// drops staged group offsets and records completion before answering, so a
// read_committed consumer sees the outcome as soon as the client does.

func (b *Broker) handleEndTxn(r *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	if resp.ErrorCode = b.notTxnCoordinator(r.TransactionalID); resp.ErrorCode == 0 {
		resp.ErrorCode = b.txns.endTxn(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
	}
	return resp
}
