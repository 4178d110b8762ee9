package broker

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share groups (KIP-932) on the group coordinator: membership and
// server-side assignment. A member joins with epoch 0 and its client-made
// member id, heartbeats with the epoch it was given, and leaves with -1.
// Every change of membership, subscriptions or subscribed topics' partitions
// bumps the group epoch and recomputes the assignment; a member learns its
// new assignment (and the new epoch) on its next heartbeat. Unlike a
// consumer group, a share group has nothing to revoke: several members may
// hold the same partition, and the partition leader hands each record to one
// of them (share_partition.go).
//
// The assignor is Kafka's "simple" idea, made deterministic: per topic, the
// subscribed members in id order take the partitions round-robin; when a
// topic has fewer partitions than members, the members share them
// round-robin instead, so every member gets work and every partition is
// read.
//
// Membership lives in memory on the coordinator (the leader of the group's
// __consumer_offsets partition); after a coordinator move members get
// UNKNOWN_MEMBER_ID and join again, as they do after a session timeout.
//
// Lock order: shareState.mu alone (the classic coordinator's mutex is only
// taken before it, never while holding it).

// shareState is the broker's share-group state: groups it coordinates,
// share partitions it leads, share sessions open on it, group configs.
type shareState struct {
	mu       sync.Mutex
	groups   map[string]*shareGroup
	parts    map[sharePartKey]*sharePart
	sessions map[shareSessionKey]*shareSession

	cfgMu   sync.Mutex
	configs map[string]map[string]string // group → explicit configs
}

type shareGroup struct {
	id              string
	epoch           int32 // group epoch
	assignmentEpoch int32
	members         map[string]*shareMember
	topicsSig       string // subscribed topics' ids and partition counts when last assigned
	// stateTopics are the topics the group has share state on: every topic
	// it subscribed to or had its offsets altered on, until the offsets are
	// deleted (DescribeShareGroupOffsets without topics lists these).
	stateTopics map[string]bool
}

type shareMember struct {
	id, rack, clientID, clientHost string
	epoch                          int32
	topics                         []string // sorted subscription
	assigned                       map[[16]byte][]int32
	deadline                       time.Time
}

const shareAssignor = "simple"

func (s *shareState) initLocked() {
	if s.groups == nil {
		s.groups = map[string]*shareGroup{}
		s.parts = map[sharePartKey]*sharePart{}
		s.sessions = map[shareSessionKey]*shareSession{}
	}
}

// classicGroupExists says whether id names a classic group here.
func (b *Broker) classicGroupExists(id string) bool {
	b.groups.mu.Lock()
	defer b.groups.mu.Unlock()
	_, ok := b.groups.groups[id]
	return ok
}

func (b *Broker) shareGroupHeartbeat(r *kmsg.ShareGroupHeartbeatRequest, clientID, host string, now time.Time) *kmsg.ShareGroupHeartbeatResponse {
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

// reassignShareGroup recomputes the assignment when membership or
// subscriptions changed, or the subscribed topics' partitions did; either
// bumps the group epoch. Caller holds shareState.mu.
func (b *Broker) reassignShareGroup(g *shareGroup, changed bool) {
	topics := map[string]bool{}
	for _, m := range g.members {
		for _, t := range m.topics {
			topics[t] = true
			g.stateTopics[t] = true
		}
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	type meta struct {
		id [16]byte
		n  int
	}
	metas := make([]meta, len(names))
	sig := make([]byte, 0, 24*len(names))
	for i, name := range names {
		if t := b.topics.get(name); t != nil {
			metas[i] = meta{t.id, len(t.partitions)}
			sig = append(sig, t.id[:]...)
			sig = append(sig, byte(len(t.partitions)>>24), byte(len(t.partitions)>>16), byte(len(t.partitions)>>8), byte(len(t.partitions)))
		}
	}
	if !changed && string(sig) == g.topicsSig {
		return
	}
	g.topicsSig = string(sig)
	g.epoch++
	g.assignmentEpoch = g.epoch
	ids := make([]string, 0, len(g.members))
	for id, m := range g.members {
		ids = append(ids, id)
		m.assigned = map[[16]byte][]int32{}
	}
	sort.Strings(ids)
	for i, name := range names {
		if metas[i].n == 0 {
			continue
		}
		var subs []*shareMember
		for _, id := range ids {
			if m := g.members[id]; slices.Contains(m.topics, name) {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		id, n := metas[i].id, metas[i].n
		if len(subs) <= n {
			for p := 0; p < n; p++ {
				m := subs[p%len(subs)]
				m.assigned[id] = append(m.assigned[id], int32(p))
			}
			continue
		}
		for j, m := range subs {
			m.assigned[id] = append(m.assigned[id], int32(j%n))
		}
	}
	for _, m := range g.members {
		for id, ps := range m.assigned {
			if len(ps) == 0 {
				delete(m.assigned, id)
			}
		}
	}
}

// expireShareMembers removes members whose session timed out.
func (b *Broker) expireShareMembers(now time.Time) {
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		gone := false
		for id, m := range g.members {
			if now.After(m.deadline) {
				b.cfg.Logf("share group %s: member %s timed out", g.id, id)
				delete(g.members, id)
				gone = true
			}
		}
		if gone {
			b.reassignShareGroup(g, true)
		}
	}
}

func newShareGroup(id string) *shareGroup {
	return &shareGroup{id: id, members: map[string]*shareMember{}, stateTopics: map[string]bool{}}
}

func (b *Broker) shareGroupDescribe(r *kmsg.ShareGroupDescribeRequest) *kmsg.ShareGroupDescribeResponse {
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

// deleteShareGroup deletes an empty share group; ok is false when id is
// not a share group here.
func (b *Broker) deleteShareGroup(id string) (code int16, ok bool) {
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return 0, false
	}
	if len(g.members) > 0 {
		return kerr.NonEmptyGroup.Code, true
	}
	delete(s.groups, id)
	return 0, true
}

// topicByID finds a topic by its id (nil if there is none).
func (b *Broker) topicByID(id [16]byte) *topic {
	for _, t := range b.topics.snapshot() {
		if t.id == id {
			return t
		}
	}
	return nil
}

// topicNamesByID maps every topic id to its name.
func (b *Broker) topicNamesByID() map[[16]byte]string {
	ts := b.topics.snapshot()
	out := make(map[[16]byte]string, len(ts))
	for _, t := range ts {
		out[t.id] = t.name
	}
	return out
}

func sortedIDs[V any](m map[[16]byte]V) [][16]byte {
	ids := make([][16]byte, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}
