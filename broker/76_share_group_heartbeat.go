package broker

import (
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareGroupHeartbeat v1 (flexible; v0 was Kafka 4.0's early access and is
// not served). Join with epoch 0 and a client-generated member id, leave with
// -1; UNKNOWN_MEMBER_ID for a member the group does not know,
// FENCED_MEMBER_EPOCH for a stale epoch, INVALID_REQUEST for a missing
// group id, member id or first subscription. See share_group.go.

func (b *Broker) handleShareGroupHeartbeat(c *conn, h *reqHeader, r *kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
	clientID, host, now := h.clientID, clientHost(c), time.Now()
	resp := r.ResponseKind().(*kmsg.ShareGroupHeartbeatResponse)
	fail := func(code int16, msg string) *kmsg.ShareGroupHeartbeatResponse {
		resp.ErrorCode, resp.ErrorMessage = code, strp(msg)
		return resp
	}
	switch {
	case r.GroupID == "":
		return fail(kerr.InvalidRequest.Code, "GroupId can't be empty")
	case r.MemberID == "" || len(r.MemberID) > 36:
		return fail(kerr.InvalidRequest.Code, "MemberId must be a client-generated id of 1-36 characters")
	case r.MemberEpoch < -1:
		return fail(kerr.InvalidRequest.Code, "MemberEpoch must be -1, 0 or positive")
	case r.MemberEpoch == 0 && len(r.SubscribedTopicNames) == 0:
		return fail(kerr.InvalidRequest.Code, "SubscribedTopicNames must be set in the first request")
	}
	if code := b.notCoordinator(r.GroupID); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if b.classicGroupExists(r.GroupID) {
		return fail(kerr.GroupIDNotFound.Code, "group "+r.GroupID+" is not a share group")
	}
	cfg := b.shareConfig(r.GroupID)
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	g := s.groups[r.GroupID]
	var m *shareMember
	if g != nil {
		m = g.members[r.MemberID]
	}
	resp.MemberID = strp(r.MemberID)
	switch {
	case r.MemberEpoch == -1:
		if m == nil {
			return fail(kerr.UnknownMemberID.Code, "member "+r.MemberID+" is not in the group")
		}
		delete(g.members, m.id)
		b.reassignShareGroup(g, true)
		resp.MemberEpoch = -1
		return resp
	case r.MemberEpoch == 0:
		if g == nil {
			g = newShareGroup(r.GroupID)
			s.groups[r.GroupID] = g
		}
		if m == nil {
			m = &shareMember{id: r.MemberID}
			g.members[m.id] = m
		}
		m.clientID, m.clientHost, m.epoch = clientID, host, 0
		m.assigned = nil
	case m == nil:
		return fail(kerr.UnknownMemberID.Code, "member "+r.MemberID+" is not in the group")
	case r.MemberEpoch != m.epoch:
		return fail(kerr.FencedMemberEpoch.Code, "member epoch does not match the coordinator's")
	}
	m.deadline = now.Add(cfg.sessionTimeout)
	if r.RackID != nil {
		m.rack = *r.RackID
	}
	changed := m.epoch == 0
	if r.SubscribedTopicNames != nil {
		topics := append([]string(nil), r.SubscribedTopicNames...)
		sort.Strings(topics)
		topics = slices.Compact(topics)
		if !slices.Equal(topics, m.topics) {
			m.topics, changed = topics, true
		}
	}
	b.reassignShareGroup(g, changed)
	resp.HeartbeatIntervalMillis = int32(cfg.heartbeatInterval.Milliseconds())
	if m.epoch != g.epoch {
		m.epoch = g.epoch
		a := kmsg.NewShareGroupHeartbeatResponseAssignment()
		for _, id := range sortedIDs(m.assigned) {
			tp := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = id, m.assigned[id]
			a.TopicPartitions = append(a.TopicPartitions, tp)
		}
		resp.Assignment = &a
	}
	resp.MemberEpoch = m.epoch
	return resp
}
