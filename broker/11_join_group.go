package broker

import (
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup v0-v6. v1 adds the rebalance timeout (v0 uses the session
// timeout for both); v2 throttle; v4 (KIP-394) answers a join without member
// id with MEMBER_ID_REQUIRED and a fresh id to rejoin with; v5 (KIP-345)
// group.instance.id for static membership; v6 is flexible. The response is
// sent when the join round ends (group.go).

func (b *Broker) handleJoinGroup(c *conn, h *reqHeader, r *kmsg.JoinGroupRequest) reply {
	if code := b.notCoordinator(r.Group); code != 0 {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, r.MemberID
		return reply{msg: resp}
	}
	resp, wait := b.groups.join(r, h.clientID, clientHost(c), time.Now())
	return parked(c, resp, wait)
}

// parked answers now, or later when wait delivers (nothing if the connection closes first).
func parked(c *conn, resp kmsg.Response, wait <-chan kmsg.Response) reply {
	if wait == nil {
		return reply{msg: resp}
	}
	return reply{later: func() reply {
		select {
		case resp := <-wait:
			return reply{msg: resp}
		case <-c.done:
			return reply{}
		}
	}}
}

// clientHost is the member's address as Kafka reports it ("/127.0.0.1").
func clientHost(c *conn) string {
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		return "/" + a.IP.String()
	}
	return ""
}
