package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups v0-v2. v1 throttle; v2 flexible. Only an Empty group can be
// deleted (NON_EMPTY_GROUP otherwise); its committed offsets go with it.

func (b *Broker) handleDeleteGroups(r *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range r.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		if dg.ErrorCode = b.notCoordinator(id); dg.ErrorCode == 0 {
			if code, share := b.deleteShareGroup(id); share {
				dg.ErrorCode = code
			} else {
				dg.ErrorCode = b.groups.deleteGroup(id, time.Now())
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *groupCoordinator) deleteGroup(id string, now time.Time) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.group(id, now)
	switch {
	case g == nil:
		return kerr.GroupIDNotFound.Code
	case !g.empty():
		return kerr.NonEmptyGroup.Code
	}
	wait, code := c.offsets.deleteGroup(id, now.UnixMilli())
	if code == 0 {
		code = wait() // an admin request: waiting under the lock keeps it simple
	}
	if code != 0 {
		return code
	}
	for pid := range g.pending {
		delete(g.pending, pid)
	}
	g.state = groupDead
	delete(c.groups, id)
	return 0
}
