package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat v0-v4. v1 throttle; v3 group.instance.id; v4 flexible. Answers
// REBALANCE_IN_PROGRESS while a join round is open, so members rejoin.

func (b *Broker) handleHeartbeat(r *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	if code := b.notCoordinator(r.Group); code != 0 {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	}
	return b.groups.heartbeat(r, time.Now())
}
