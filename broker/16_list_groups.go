package broker

import (
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups v0-v5. v1 throttle; v3 flexible; v4 (KIP-518) filters by state
// (case-insensitive) and reports each group's state; v5 (KIP-848) filters
// by group type ("classic" or "consumer", case-insensitive) and reports it.

func (b *Broker) handleListGroups(r *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
	resp.Groups = b.groups.list(r.StatesFilter, r.TypesFilter, time.Now())
	return resp
}

func (c *groupCoordinator) list(states, types []string, now time.Time) []kmsg.ListGroupsResponseGroup {
	names := c.offsets.groupNames() // groups known only from offsets count too
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		c.group(n, now)
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range sortedKeys(c.groups) {
		g := c.groups[id]
		state, typ := g.state.String(), "classic"
		if g.consumer != nil {
			state, typ = g.consumer.state(), "consumer"
		}
		if len(states) > 0 && !containsFold(states, state) || len(types) > 0 && !containsFold(types, typ) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = id, g.protocolType, state, typ
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
