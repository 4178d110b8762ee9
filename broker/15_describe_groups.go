package broker

import (
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups v0-v5. v1 throttle; v3 authorized operations (not
// computed: reported as unset); v4 members' group.instance.id; v5 flexible.
// As in Kafka, an unknown group is described as Dead without error, and
// member metadata, assignments and the protocol are only shown when Stable.
// A KIP-848 consumer group is described with its state, protocol type
// "consumer", its server-side assignor as the protocol and its members
// (no metadata: ConsumerGroupDescribe has the details).

func (b *Broker) handleDescribeGroups(r *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range r.Groups {
		if code := b.notCoordinator(id); code != 0 {
			d := kmsg.NewDescribeGroupsResponseGroup()
			d.Group, d.ErrorCode, d.AuthorizedOperations = id, code, math.MinInt32
			resp.Groups = append(resp.Groups, d)
			continue
		}
		resp.Groups = append(resp.Groups, b.groups.describe(id, time.Now()))
	}
	return resp
}

func (c *groupCoordinator) describe(id string, now time.Time) kmsg.DescribeGroupsResponseGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	d.AuthorizedOperations = math.MinInt32
	g := c.group(id, now)
	if g == nil {
		d.State = groupDead.String()
		return d
	}
	if cg := g.consumer; cg != nil {
		d.State, d.ProtocolType, d.Protocol = cg.state(), "consumer", cg.assignor
		for _, m := range cg.sortedMembers() {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
			d.Members = append(d.Members, dm)
		}
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == groupStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}
