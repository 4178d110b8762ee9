package broker

import (
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups v0-v4. v1 throttle; v3 flexible; v4 (KIP-518) filters by state
// (case-insensitive) and reports each group's state.

func (b *Broker) handleListGroups(r *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Groups = b.groups.list(r.StatesFilter, time.Now())
	return resp
}

func (c *groupCoordinator) list(states []string, now time.Time) []kmsg.ListGroupsResponseGroup {
	names := c.offsets.groupNames() // groups known only from offsets count too
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		c.group(n, now)
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range sortedKeys(c.groups) {
		g := c.groups[id]
		if len(states) > 0 && !containsFold(states, g.state.String()) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState = id, g.protocolType, g.state.String()
		out = append(out, lg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
