package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup v0-v4. v1 throttle; v3 group.instance.id; v4 flexible. The
// leader's request carries every member's assignment; followers' requests
// wait for it.

func (b *Broker) handleSyncGroup(c *conn, r *kmsg.SyncGroupRequest) reply {
	if code := b.notCoordinator(r.Group); code != 0 {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return reply{msg: resp}
	}
	resp, wait := b.groups.sync(r, time.Now())
	return parked(c, resp, wait)
}
