package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator v0-v4. v1 adds the key type (0 group, 1 transaction),
// throttle and error message; v3 is flexible; v4 (KIP-699) batches keys into
// CoordinatorKeys and answers per key in Coordinators.

const (
	coordinatorGroup int8 = 0
	coordinatorTxn   int8 = 1
)

// coordinatorFor says which node coordinates key. With one node it is always
// this broker; cluster placement replaces this one function.
func (b *Broker) coordinatorFor(keyType int8, key string) (node int32, host string, port int32, code int16) {
	if keyType != coordinatorGroup && keyType != coordinatorTxn {
		return -1, "", -1, kerr.InvalidRequest.Code
	}
	if img := b.image.Load(); b.clustered() && img != nil {
		// In a cluster every group and transaction is coordinated by the
		// lowest-id live broker (see docs: coordinator state is not
		// replicated, so a coordinator change loses it).
		if len(img.brokers) == 0 {
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		}
		c := img.brokers[0]
		return c.id, c.host, c.port, 0
	}
	return b.cfg.NodeID, b.advHost, b.advPort, 0
}

// notCoordinator is the error for a group request that reached a broker
// that does not coordinate the group (0 when it does): clients then look the
// coordinator up again.
func (b *Broker) notCoordinator(group string) int16 { return b.coordinates(coordinatorGroup, group) }

// notTxnCoordinator is notCoordinator for a transactional id.
func (b *Broker) notTxnCoordinator(txnID string) int16 { return b.coordinates(coordinatorTxn, txnID) }

func (b *Broker) coordinates(keyType int8, key string) int16 {
	node, _, _, code := b.coordinatorFor(keyType, key)
	switch {
	case code != 0:
		return code
	case node != b.cfg.NodeID:
		return kerr.NotCoordinator.Code
	}
	return 0
}

func (b *Broker) handleFindCoordinator(r *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.NodeID, c.Host, c.Port, c.ErrorCode = b.coordinatorFor(r.CoordinatorType, key)
			if c.ErrorCode != 0 {
				c.ErrorMessage = strp(kerr.ErrorForCode(c.ErrorCode).Error())
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	resp.NodeID, resp.Host, resp.Port, resp.ErrorCode = b.coordinatorFor(r.CoordinatorType, r.CoordinatorKey)
	if resp.ErrorCode != 0 && r.Version >= 1 {
		resp.ErrorMessage = strp(kerr.ErrorForCode(resp.ErrorCode).Error())
	}
	return resp
}
