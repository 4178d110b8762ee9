package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerGroupHeartbeat v0-v1 (KIP-848). One request joins (member epoch
// 0), heartbeats (the current epoch, or the previous one with the partitions
// still owned), leaves (-1) or leaves for a restart as a static member (-2);
// the coordinator answers with the member's epoch and, when it changed or
// the request was full, its assignment (group_consumer.go). v1 adds the
// subscribed topic regex (RE2, resolved here against every topic) and makes
// the client name its own member id.

func (b *Broker) handleConsumerGroupHeartbeat(c *conn, h *reqHeader, r *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	if code := b.notCoordinator(r.Group); code != 0 {
		resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = code
		return resp
	}
	return b.groups.consumerHeartbeat(r, h.clientID, clientHost(c), time.Now())
}

// topicMetas lists the topics for the consumer groups' assignors.
func (b *Broker) topicMetas() []topicMeta {
	ts := b.topics.snapshot()
	out := make([]topicMeta, 0, len(ts))
	for _, t := range ts {
		b.topics.mu.RLock()
		n := int32(len(t.partitions))
		b.topics.mu.RUnlock()
		out = append(out, topicMeta{name: t.name, id: t.id, partitions: n})
	}
	return out
}
