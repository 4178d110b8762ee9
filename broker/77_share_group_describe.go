package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupDescribe v1 (flexible). Per group: state (Empty or Stable), group
// and assignment epochs, the "simple" assignor, and every member with its
// subscription and assignment. GROUP_ID_NOT_FOUND for an unknown group or one
// that is not a share group; authorized operations are not reported.

func (b *Broker) handleShareGroupDescribe(r *kmsg.ShareGroupDescribeRequest) *kmsg.ShareGroupDescribeResponse {
	resp := r.ResponseKind().(*kmsg.ShareGroupDescribeResponse)
	for _, id := range r.GroupIDs {
		dg := kmsg.NewShareGroupDescribeResponseGroup()
		dg.GroupID = id
		if dg.ErrorCode = b.notCoordinator(id); dg.ErrorCode == 0 {
			b.describeShareGroup(&dg)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (b *Broker) describeShareGroup(dg *kmsg.ShareGroupDescribeResponseGroup) {
	if b.classicGroupExists(dg.GroupID) {
		dg.ErrorCode, dg.ErrorMessage = kerr.GroupIDNotFound.Code, strp("group "+dg.GroupID+" is not a share group")
		return
	}
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[dg.GroupID]
	if g == nil {
		dg.ErrorCode, dg.ErrorMessage = kerr.GroupIDNotFound.Code, strp("group "+dg.GroupID+" not found")
		return
	}
	dg.GroupState = "Stable"
	if len(g.members) == 0 {
		dg.GroupState = "Empty"
	}
	dg.GroupEpoch, dg.AssignmentEpoch, dg.Assignor = g.epoch, g.assignmentEpoch, shareAssignor
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	names := b.topicNamesByID()
	for _, id := range ids {
		m := g.members[id]
		dm := kmsg.NewShareGroupDescribeResponseGroupMember()
		dm.MemberID, dm.MemberEpoch, dm.ClientID, dm.ClientHost = m.id, m.epoch, m.clientID, m.clientHost
		if m.rack != "" {
			dm.RackID = strp(m.rack)
		}
		dm.SubscribedTopicNames = append([]string{}, m.topics...)
		for _, tid := range sortedIDs(m.assigned) {
			tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
			tp.TopicID, tp.Topic, tp.Partitions = tid, names[tid], m.assigned[tid]
			dm.Assignment.TopicPartitions = append(dm.Assignment.TopicPartitions, tp)
		}
		dg.Members = append(dg.Members, dm)
	}
}
