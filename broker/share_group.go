package broker

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
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

// deleteShareGroup deletes an empty share group and its share state on the
// partitions' leaders; ok is false when id is not a share group here.
func (b *Broker) deleteShareGroup(id string) (code int16, ok bool) {
	s := &b.share
	s.mu.Lock()
	g := s.groups[id]
	if g == nil {
		s.mu.Unlock()
		return 0, false
	}
	if len(g.members) > 0 {
		s.mu.Unlock()
		return kerr.NonEmptyGroup.Code, true
	}
	delete(s.groups, id)
	topics := make([]string, 0, len(g.stateTopics))
	for t := range g.stateTopics {
		topics = append(topics, t)
	}
	s.mu.Unlock()
	for _, t := range topics {
		parts, ok := b.sharePartsOf(t, nil)
		if !ok {
			continue // the topic is gone, and its state with it
		}
		b.shareState(id, shareStateDelete, parts)
		for _, p := range parts {
			if p.code != 0 && p.code != kerr.UnknownTopicOrPartition.Code {
				b.cfg.Logf("share group %s deleted; its state on %s-%d stays until that leader changes: %v", id, t, p.partition, kerr.ErrorForCode(p.code))
			}
		}
	}
	return 0, true
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
