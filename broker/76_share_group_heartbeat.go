package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupHeartbeat v1 (flexible; v0 was Kafka 4.0's early access and is
// not served). Join with epoch 0 and a client-generated member id, leave with
// -1; UNKNOWN_MEMBER_ID for a member the group does not know,
// FENCED_MEMBER_EPOCH for a stale epoch, INVALID_REQUEST for a missing
// group id, member id or first subscription. See share_group.go.

func (b *Broker) handleShareGroupHeartbeat(c *conn, h *reqHeader, r *kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
	return b.shareGroupHeartbeat(r, h.clientID, clientHost(c), time.Now())
}
