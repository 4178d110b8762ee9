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

// coordinatorFor says which node coordinates key: the leader of its
// partition of the internal topic (internal_topics.go), created on first use.
func (b *Broker) coordinatorFor(keyType int8, key string) (node int32, host string, port int32, code int16) {
	if keyType != coordinatorGroup && keyType != coordinatorTxn {
		return -1, "", -1, kerr.InvalidRequest.Code
	}
	name := coordinatorTopic(keyType)
	if !b.ensureInternalTopic(name) {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	img := b.image.Load()
	if !b.clustered() || img == nil {
		return b.cfg.NodeID, b.advHost, b.advPort, 0
	}
	it := img.topics[name]
	leader := it.partitions[partitionFor(key, len(it.partitions))].leader
	for _, c := range img.brokers {
		if c.id == leader {
			return c.id, c.host, c.port, 0
		}
	}
	return -1, "", -1, kerr.CoordinatorNotAvailable.Code
}

// notCoordinator is the error for a group request that reached a broker
// that does not coordinate the group, or has not loaded its state yet (0
// when it does): clients then look the coordinator up again or retry.
func (b *Broker) notCoordinator(group string) int16 { return b.coordinates(coordinatorGroup, group) }

// notTxnCoordinator is notCoordinator for a transactional id.
func (b *Broker) notTxnCoordinator(txnID string) int16 { return b.coordinates(coordinatorTxn, txnID) }

func (b *Broker) coordinates(keyType int8, key string) int16 {
	name := coordinatorTopic(keyType)
	if !b.ensureInternalTopic(name) {
		return kerr.CoordinatorNotAvailable.Code
	}
	t := b.topics.get(name)
	if t == nil {
		return kerr.NotCoordinator.Code
	}
	return b.coordinatorStatus(name, partitionFor(key, len(t.partitions)))
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
