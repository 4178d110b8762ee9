package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup v0-v4. v1 throttle; v3 (KIP-345) removes a batch of members by
// member id or group.instance.id with per-member errors; v4 flexible.

func (b *Broker) handleLeaveGroup(r *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	if code := b.notCoordinator(r.Group); code != 0 {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	}
	return b.groups.leave(r, time.Now())
}
