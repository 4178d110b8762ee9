package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// InitProducerId v0-v4. v2 is flexible; v3 (KIP-360) carries the producer's
// current id and epoch so an idempotent producer can bump its epoch after an
// error instead of taking a new id. With a transactional id the epoch is
// bumped on every call, fencing older instances (an open transaction is
// aborted first).

func (b *Broker) handleInitProducerID(r *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	if r.TransactionalID != nil {
		if code := b.notTxnCoordinator(*r.TransactionalID); code != 0 {
			resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode = -1, -1, code
			return resp
		}
	}
	resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode = b.txns.initProducerID(r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch)
	return resp
}
