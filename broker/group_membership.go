package broker

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup, SyncGroup, Heartbeat and LeaveGroup against the group state
// machine (group.go). Each returns either an immediate response or a channel
// that delivers the response when the round ends.

// join handles one JoinGroup. Kafka's order of checks is kept so that clients
// see the errors they expect: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
// INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// MEMBER_ID_REQUIRED.
func (c *groupCoordinator) join(r *kmsg.JoinGroupRequest, clientID, clientHost string, now time.Time) (kmsg.Response, <-chan kmsg.Response) {
	resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	resp.MemberID = r.MemberID
	fail := func(code int16) (kmsg.Response, <-chan kmsg.Response) {
		resp.ErrorCode = code
		return resp, nil
	}
	session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	if r.Version == 0 {
		rebalance = session // v0 has one timeout for both
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.Group == "":
		return fail(kerr.InvalidGroupID.Code)
	case session < c.set.minSession || session > c.set.maxSession:
		return fail(kerr.InvalidSessionTimeout.Code)
	case rebalance <= 0:
		return fail(kerr.InvalidRequest.Code)
	case r.ProtocolType == "" || len(r.Protocols) == 0:
		return fail(kerr.InconsistentGroupProtocol.Code)
	case r.InstanceID != nil && *r.InstanceID == "":
		return fail(kerr.InvalidRequest.Code)
	}
	g := c.group(r.Group, now)
	if g == nil {
		if r.MemberID != "" {
			return fail(kerr.UnknownMemberID.Code)
		}
		g = c.newGroup(r.Group, now)
		c.groups[r.Group] = g
	}
	if g.consumer != nil {
		if !g.empty() {
			return fail(kerr.InconsistentGroupProtocol.Code) // members use the consumer protocol
		}
		g.consumer = nil // an empty consumer group becomes classic again
		g.protocolType = ""
	}
	if !g.supports(r.MemberID, r.ProtocolType, r.Protocols) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	w := &joinWait{resp: resp, ch: make(chan kmsg.Response, 1)}
	update := func(m *groupMember) {
		m.clientID, m.clientHost = clientID, clientHost
		m.sessionTimeout, m.rebalanceTimeout = session, rebalance
		m.protocolType, m.protocols = r.ProtocolType, r.Protocols
		m.deadline = now.Add(session)
	}
	// park makes m wait for the end of the round, starting one if needed.
	park := func(m *groupMember) (kmsg.Response, <-chan kmsg.Response) {
		if m.join != nil {
			// A retried JoinGroup replaces the one the client gave up on.
			m.failJoin(kerr.RebalanceInProgress.Code)
		}
		m.join = w
		if g.state != groupPreparingRebalance {
			g.prepareRebalance(now)
		} else {
			g.maybeCompleteJoin(now)
		}
		return nil, w.ch
	}

	if r.MemberID == "" {
		if r.InstanceID != nil {
			if oldID, ok := g.static[*r.InstanceID]; ok {
				return g.rejoinStatic(g.members[oldID], r, update, park, now)
			}
			m := &groupMember{id: newMemberID(*r.InstanceID), instanceID: r.InstanceID}
			update(m)
			g.addMember(m, now)
			return park(m)
		}
		id := newMemberID(clientID)
		if r.Version >= 4 {
			// KIP-394: hand out the id first so that a client that dies before
			// its real join leaves no member behind.
			g.pending[id] = now.Add(session)
			resp.MemberID = id
			return fail(kerr.MemberIDRequired.Code)
		}
		m := &groupMember{id: id}
		update(m)
		g.addMember(m, now)
		return park(m)
	}

	if _, ok := g.pending[r.MemberID]; ok && r.InstanceID == nil {
		delete(g.pending, r.MemberID)
		m := &groupMember{id: r.MemberID}
		update(m)
		g.addMember(m, now)
		return park(m)
	}
	if g.fenced(r.MemberID, r.InstanceID) {
		return fail(kerr.FencedInstanceID.Code)
	}
	m := g.members[r.MemberID]
	if m == nil || (r.InstanceID != nil && g.static[*r.InstanceID] != r.MemberID) {
		return fail(kerr.UnknownMemberID.Code)
	}
	same := sameProtocols(m.protocols, r.Protocols)
	switch g.state {
	case groupPreparingRebalance:
		update(m)
		return park(m)
	case groupCompletingRebalance:
		if same {
			// The member lost our answer: resend this generation's.
			update(m)
			g.fillJoin(resp, m)
			return resp, nil
		}
		update(m)
		return park(m)
	case groupStable:
		if same && m.id != g.leader {
			update(m)
			g.fillJoin(resp, m)
			return resp, nil
		}
		// A leader rejoins to reassign (e.g. it saw new partitions): rebalance.
		update(m)
		return park(m)
	}
	return fail(kerr.UnknownMemberID.Code)
}

// rejoinStatic handles a static member that restarted (empty member id, known
// instance id): it takes over the old member id's place. In a Stable group
// where the rejoin changes neither the selected protocol nor the member's
// subscription there is no rebalance — the member gets the current
// generation and re-reads its assignment with SyncGroup. The leader id
// returned is the old one, so a restarted leader does not reassign.
func (g *group) rejoinStatic(old *groupMember, r *kmsg.JoinGroupRequest, update func(*groupMember), park func(*groupMember) (kmsg.Response, <-chan kmsg.Response), now time.Time) (kmsg.Response, <-chan kmsg.Response) {
	old.failJoin(kerr.FencedInstanceID.Code)
	old.failSync(kerr.FencedInstanceID.Code)
	oldLeader := g.leader
	same := g.sameSelection(old, r.Protocols)
	m := old
	delete(g.members, m.id)
	if g.leader == m.id {
		g.leader = ""
	}
	m.id = newMemberID(*r.InstanceID)
	g.members[m.id] = m
	g.static[*r.InstanceID] = m.id
	if g.leader == "" && oldLeader != "" {
		g.leader = m.id // the replaced member was the leader
	}
	update(m)
	if g.state == groupStable && same {
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		g.fillJoin(resp, m)
		resp.LeaderID = oldLeader
		resp.Members = nil
		return resp, nil
	}
	// Changed protocols need a new assignment; in CompletingRebalance the
	// leader may be assigning to the old id. Either way: a new round.
	return park(m)
}

// sync handles one SyncGroup: the leader's request carries everyone's
// assignment; followers wait for it.
func (c *groupCoordinator) sync(r *kmsg.SyncGroupRequest, now time.Time) (kmsg.Response, <-chan kmsg.Response) {
	resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
	fail := func(code int16) (kmsg.Response, <-chan kmsg.Response) {
		resp.ErrorCode = code
		return resp, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	g := c.groups[r.Group]
	if g == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	if g.fenced(r.MemberID, r.InstanceID) {
		return fail(kerr.FencedInstanceID.Code)
	}
	m := g.members[r.MemberID]
	switch {
	case m == nil:
		return fail(kerr.UnknownMemberID.Code)
	case r.Generation != g.generation:
		return fail(kerr.IllegalGeneration.Code)
	}
	m.deadline = now.Add(m.sessionTimeout)
	switch g.state {
	case groupPreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case groupStable:
		m.synced = true
		resp.MemberAssignment = m.assignment
		return resp, nil
	case groupCompletingRebalance:
		m.synced = true
		if m.sync != nil {
			m.failSync(kerr.RebalanceInProgress.Code)
		}
		m.sync = &syncWait{resp: resp, ch: make(chan kmsg.Response, 1)}
		ch := m.sync.ch
		if m.id == g.leader {
			byID := make(map[string][]byte, len(r.GroupAssignment))
			for _, a := range r.GroupAssignment {
				byID[a.MemberID] = a.MemberAssignment // ids not in the group are ignored, as in Kafka
			}
			g.state = groupStable
			for _, o := range g.members {
				o.assignment = byID[o.id]
				if o.sync != nil {
					o.sync.resp.MemberAssignment = o.assignment
					o.sync.finish()
					o.sync = nil
				}
			}
		}
		return nil, ch
	}
	return fail(kerr.UnknownMemberID.Code)
}

// heartbeat keeps a member's session alive and tells it about rebalances.
func (c *groupCoordinator) heartbeat(r *kmsg.HeartbeatRequest, now time.Time) *kmsg.HeartbeatResponse {
	resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	resp.ErrorCode = func() int16 {
		if r.Group == "" {
			return kerr.InvalidGroupID.Code
		}
		g := c.groups[r.Group]
		if g == nil {
			return kerr.UnknownMemberID.Code
		}
		if g.fenced(r.MemberID, r.InstanceID) {
			return kerr.FencedInstanceID.Code
		}
		m := g.members[r.MemberID]
		switch {
		case m == nil:
			return kerr.UnknownMemberID.Code
		case r.Generation != g.generation:
			return kerr.IllegalGeneration.Code
		}
		m.deadline = now.Add(m.sessionTimeout)
		if g.state == groupPreparingRebalance {
			return kerr.RebalanceInProgress.Code
		}
		return 0
	}()
	return resp
}

// leave removes members: one by id (v0-v2) or a batch by id or instance id (v3+).
func (c *groupCoordinator) leave(r *kmsg.LeaveGroupRequest, now time.Time) *kmsg.LeaveGroupResponse {
	resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	g := c.groups[r.Group]
	one := func(memberID string, instanceID *string) int16 {
		if g == nil {
			return kerr.UnknownMemberID.Code
		}
		if instanceID != nil {
			id, ok := g.static[*instanceID]
			switch {
			case !ok:
				return kerr.UnknownMemberID.Code
			case memberID != "" && memberID != id:
				return kerr.FencedInstanceID.Code
			}
			memberID = id
		}
		if _, ok := g.pending[memberID]; ok {
			delete(g.pending, memberID)
			g.maybeCompleteJoin(now)
			return 0
		}
		m := g.members[memberID]
		if m == nil {
			return kerr.UnknownMemberID.Code
		}
		g.removeMember(m, now)
		return 0
	}
	if r.Version < 3 {
		resp.ErrorCode = one(r.MemberID, nil)
		return resp
	}
	for _, lm := range r.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = lm.MemberID, lm.InstanceID
		rm.ErrorCode = one(lm.MemberID, lm.InstanceID)
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// sameSelection says whether replacing m's protocols with ps keeps the
// group's selected protocol and, for consumer groups, m's subscribed topics.
// Kafka checks only the former; the subscription check keeps a static
// member that restarts with different topics from being silently ignored.
// Owned partitions and user data may differ: a restarted client owns nothing.
func (g *group) sameSelection(m *groupMember, ps []kmsg.JoinGroupRequestProtocol) bool {
	oldProtocols := m.protocols
	m.protocols = ps
	next := g.selectProtocol()
	m.protocols = oldProtocols
	if next != g.protocol {
		return false
	}
	oldMeta := m.metadataFor(g.protocol)
	var newMeta []byte
	for _, p := range ps {
		if p.Name == g.protocol {
			newMeta = p.Metadata
		}
	}
	if g.protocolType != "consumer" {
		return true
	}
	var a, b kmsg.ConsumerMemberMetadata
	if a.ReadFrom(oldMeta) != nil || b.ReadFrom(newMeta) != nil {
		return string(oldMeta) == string(newMeta)
	}
	return slices.Equal(sortedCopy(a.Topics), sortedCopy(b.Topics))
}

func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}
