package broker

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer groups of the KIP-848 protocol (group.protocol=consumer): the
// coordinator owns the assignment. Members heartbeat their subscription and
// the partitions they own (ConsumerGroupHeartbeat); the coordinator keeps a
// group epoch, bumped whenever membership, a subscription, the assignor or
// the subscribed topics' metadata change, computes a target assignment for
// that epoch with a server-side assignor (uniform or range), and moves each
// member towards its target one heartbeat at a time:
//
//   - a member that owns partitions its target does not contain is told to
//     revoke them first; it keeps its member epoch until it reports (in a
//     later heartbeat) that it no longer owns them;
//   - only then does it advance to the target epoch and receive the new
//     partitions that nobody else owns any more; partitions still owned by a
//     member that has not revoked them yet stay pending (unreleased) and are
//     handed out on a later heartbeat.
//
// So a partition never has two owners: owners records, for every partition
// assigned or being revoked, the one member holding it.
//
// The group lives on the same coordinator as classic groups (group.go) and
// shares its mutex, timer and offsets; a group id is either classic or
// consumer. Membership and assignments are kept in memory only, as for
// classic groups: after a coordinator change members get UNKNOWN_MEMBER_ID
// and rejoin; committed offsets are replicated and survive.

// memberState is where a member is in its reconciliation.
type memberState int8

const (
	memberStable     memberState = iota // owns its whole target at the target epoch
	memberUnrevoked                     // must give up partitions before it advances
	memberUnreleased                    // at the target epoch, waiting for partitions others still own
)

// Member epochs with a meaning of their own (KIP-848).
const (
	epochJoin       = 0
	epochLeave      = -1
	epochStaticGone = -2 // a static member left temporarily and keeps its assignment
)

// serverAssignors are the assignors a member may name; the first is the default
// (Kafka's group.consumer.assignors).
var serverAssignors = []string{"uniform", "range"}

type partSet map[topicPartition]struct{}

func (s partSet) sorted() []topicPartition {
	out := make([]topicPartition, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

func sortTPs(tps []topicPartition) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
}

type consumerMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	epoch, prevEpoch int32
	state            memberState
	topics           []string // subscribed names, sorted
	regex            *string  // subscribed pattern (RE2, matched against whole names)
	re               *regexp.Regexp
	assignor         string
	rebalanceTimeout time.Duration

	assigned partSet // what the member has been told it owns
	revoking partSet // what it has been told to give up and still holds
	target   partSet // its part of the group's target assignment

	deadline       time.Time // session expiry
	revokeDeadline time.Time // while revoking: the rebalance timeout
}

func (m *consumerMember) subscribes(topic string) bool {
	if _, ok := slices.BinarySearch(m.topics, topic); ok {
		return true
	}
	return m.re != nil && m.re.MatchString(topic)
}

// consumerGroup is the KIP-848 state of a group.
type consumerGroup struct {
	epoch       int32 // group epoch
	assignEpoch int32 // epoch of the current target assignment
	assignor    string
	members     map[string]*consumerMember
	static      map[string]string         // group.instance.id → member id
	owners      map[topicPartition]string // partition → the member assigned it or revoking it
	metadata    string                    // the subscribed topics' metadata the target was computed from
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*consumerMember{}, static: map[string]string{}, owners: map[topicPartition]string{}}
}

// state is the group state ConsumerGroupDescribe and ListGroups report.
func (cg *consumerGroup) state() string {
	if len(cg.members) == 0 {
		return "Empty"
	}
	if cg.assignEpoch < cg.epoch {
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != epochStaticGone && (m.epoch != cg.assignEpoch || m.state != memberStable) {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (cg *consumerGroup) sortedMembers() []*consumerMember {
	ms := make([]*consumerMember, 0, len(cg.members))
	for _, m := range cg.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].id < ms[j].id })
	return ms
}

// topicMeta is what the coordinator knows of a topic to assign it.
type topicMeta struct {
	name       string
	id         [16]byte
	partitions int32
}

// subscribed lists the existing topics some member subscribes to, sorted by
// name, and a fingerprint of their metadata: a change of it (a topic created
// or deleted, partitions added) starts a new group epoch.
func (cg *consumerGroup) subscribed(all []topicMeta) ([]topicMeta, string) {
	var out []topicMeta
	var key strings.Builder
	for _, t := range all {
		for _, m := range cg.members {
			if m.subscribes(t.name) {
				out = append(out, t)
				key.WriteString(t.name)
				key.Write(t.id[:])
				key.WriteString(strconv.Itoa(int(t.partitions)))
				key.WriteByte(0)
				break
			}
		}
	}
	return out, key.String()
}

// bump starts a new group epoch and computes its target assignment.
func (cg *consumerGroup) bump(all []topicMeta) {
	cg.epoch++
	topics, key := cg.subscribed(all)
	cg.metadata = key
	cg.assignor = cg.chooseAssignor()
	ms := cg.sortedMembers()
	var target map[string]partSet
	if cg.assignor == "range" {
		target = assignRange(ms, topics)
	} else {
		target = assignUniform(ms, topics)
	}
	for _, m := range ms {
		m.target = target[m.id]
		if m.target == nil {
			m.target = partSet{}
		}
	}
	cg.assignEpoch = cg.epoch
}

// refresh starts a new epoch when the subscribed topics' metadata changed
// since the target was computed.
func (cg *consumerGroup) refresh(all []topicMeta) bool {
	if _, key := cg.subscribed(all); key != cg.metadata {
		cg.bump(all)
		return true
	}
	return false
}

// chooseAssignor is the assignor most members asked for (ties: the earlier
// in serverAssignors); members that name none count for the default.
func (cg *consumerGroup) chooseAssignor() string {
	votes := map[string]int{}
	for _, m := range cg.members {
		votes[m.assignor]++
	}
	best := serverAssignors[0]
	for _, a := range serverAssignors {
		if votes[a] > votes[best] {
			best = a
		}
	}
	return best
}

// assignUniform spreads the partitions evenly over the members subscribed to
// them and keeps as many partitions as balance allows with the member whose
// target held them before (sticky), so that a membership change moves few
// partitions.
func assignUniform(ms []*consumerMember, topics []topicMeta) map[string]partSet {
	out := make(map[string]partSet, len(ms))
	for _, m := range ms {
		out[m.id] = partSet{}
	}
	if len(ms) == 0 {
		return out
	}
	var parts []topicPartition
	for _, t := range topics {
		for p := int32(0); p < t.partitions; p++ {
			parts = append(parts, topicPartition{t.name, p})
		}
	}
	eligible := func(m *consumerMember, tp topicPartition) bool { return m.subscribes(tp.topic) }
	floor, extra := len(parts)/len(ms), len(parts)%len(ms)
	taken := make(map[topicPartition]bool, len(parts))
	// Keep up to floor of each member's previous target, then one more for
	// as many members as the remainder allows.
	prev := make(map[string][]topicPartition, len(ms))
	for _, m := range ms {
		for _, tp := range m.target.sorted() {
			if eligible(m, tp) && tp.partition < partitionsOf(topics, tp.topic) {
				prev[m.id] = append(prev[m.id], tp)
			}
		}
	}
	keep := func(m *consumerMember, tp topicPartition) {
		out[m.id][tp] = struct{}{}
		taken[tp] = true
	}
	for _, m := range ms {
		for _, tp := range prev[m.id] {
			if len(out[m.id]) >= floor {
				break
			}
			keep(m, tp)
		}
	}
	for _, m := range ms {
		if extra == 0 {
			break
		}
		for _, tp := range prev[m.id] {
			if !taken[tp] {
				keep(m, tp)
				extra--
				break
			}
		}
	}
	// Everything else goes to the least loaded member that can take it.
	for _, tp := range parts {
		if taken[tp] {
			continue
		}
		var best *consumerMember
		for _, m := range ms {
			if eligible(m, tp) && (best == nil || len(out[m.id]) < len(out[best.id])) {
				best = m
			}
		}
		if best != nil {
			keep(best, tp)
		}
	}
	// With different subscriptions the passes above can leave one member
	// two or more partitions ahead of another that could take one: move
	// partitions until no such pair remains.
	for moved := true; moved; {
		moved = false
		for _, from := range ms {
			for _, tp := range out[from.id].sorted() {
				for _, to := range ms {
					if len(out[to.id])+1 < len(out[from.id]) && eligible(to, tp) {
						delete(out[from.id], tp)
						out[to.id][tp] = struct{}{}
						moved = true
						break
					}
				}
			}
		}
	}
	return out
}

func partitionsOf(topics []topicMeta, name string) int32 {
	i := sort.Search(len(topics), func(i int) bool { return topics[i].name >= name })
	if i < len(topics) && topics[i].name == name {
		return topics[i].partitions
	}
	return 0
}

// assignRange gives each member a contiguous range of every topic it
// subscribes to; members are ordered by instance id (else member id), so
// equally partitioned topics are co-partitioned.
func assignRange(ms []*consumerMember, topics []topicMeta) map[string]partSet {
	out := make(map[string]partSet, len(ms))
	for _, m := range ms {
		out[m.id] = partSet{}
	}
	key := func(m *consumerMember) string {
		if m.instanceID != nil {
			return *m.instanceID
		}
		return m.id
	}
	for _, t := range topics {
		var subs []*consumerMember
		for _, m := range ms {
			if m.subscribes(t.name) {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		sort.Slice(subs, func(i, j int) bool { return key(subs[i]) < key(subs[j]) })
		n := int(t.partitions)
		q, r := n/len(subs), n%len(subs)
		start := 0
		for i, m := range subs {
			size := q
			if i < r {
				size++
			}
			for p := start; p < start+size; p++ {
				out[m.id][topicPartition{t.name, int32(p)}] = struct{}{}
			}
			start += size
		}
	}
	return out
}

// release frees every partition m holds.
func (cg *consumerGroup) release(m *consumerMember) {
	for tp := range m.assigned {
		if cg.owners[tp] == m.id {
			delete(cg.owners, tp)
		}
	}
	for tp := range m.revoking {
		if cg.owners[tp] == m.id {
			delete(cg.owners, tp)
		}
	}
}

// remove drops m from the group and starts a new epoch without it.
func (cg *consumerGroup) remove(m *consumerMember, all []topicMeta) {
	cg.release(m)
	delete(cg.members, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	cg.bump(all)
}

// ownedFrom decodes the partitions a heartbeat reports as owned; nil when
// the request does not report them. Topics the broker does not know are
// skipped.
func ownedFrom(ts []kmsg.ConsumerGroupHeartbeatRequestTopic, byID map[[16]byte]string) partSet {
	if ts == nil {
		return nil
	}
	s := partSet{}
	for _, t := range ts {
		name, ok := byID[t.TopicID]
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			s[topicPartition{name, p}] = struct{}{}
		}
	}
	return s
}

// reconcile moves m one step towards its target; owned is what the member
// reports owning (nil: not reported). It reports whether m's assignment or
// epoch changed, so the response must carry them.
func (cg *consumerGroup) reconcile(m *consumerMember, owned partSet, now time.Time) bool {
	if m.state == memberUnrevoked {
		if owned == nil || overlaps(owned, m.revoking) {
			return false // still revoking
		}
		for tp := range m.revoking {
			if cg.owners[tp] == m.id {
				delete(cg.owners, tp)
			}
		}
		m.revoking = nil
		m.revokeDeadline = time.Time{}
		m.state = memberStable
	}
	if m.epoch == cg.assignEpoch && m.state == memberStable {
		return false
	}
	// Revoke first: the member keeps its epoch until it has let go.
	revoke := partSet{}
	for tp := range m.assigned {
		if _, ok := m.target[tp]; !ok {
			revoke[tp] = struct{}{}
		}
	}
	if len(revoke) > 0 {
		for tp := range revoke {
			delete(m.assigned, tp)
		}
		m.revoking = revoke
		m.state = memberUnrevoked
		m.revokeDeadline = now.Add(m.rebalanceTimeout)
		return true
	}
	changed := m.epoch != cg.assignEpoch
	if changed {
		m.prevEpoch, m.epoch = m.epoch, cg.assignEpoch
	}
	m.state = memberStable
	for tp := range m.target {
		if _, ok := m.assigned[tp]; ok {
			continue
		}
		if owner, held := cg.owners[tp]; held && owner != m.id {
			m.state = memberUnreleased
			continue
		}
		cg.owners[tp] = m.id
		m.assigned[tp] = struct{}{}
		changed = true
	}
	return changed
}

func overlaps(a, b partSet) bool {
	for tp := range b {
		if _, ok := a[tp]; ok {
			return true
		}
	}
	return false
}

func subset(a, b partSet) bool {
	for tp := range a {
		if _, ok := b[tp]; !ok {
			return false
		}
	}
	return true
}

// assignmentOf encodes s for a heartbeat response, by topic id.
func assignmentOf(s partSet, ids map[string][16]byte) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	for _, tp := range s.sorted() {
		id, ok := ids[tp.topic]
		if !ok {
			continue
		}
		if n := len(a.Topics); n == 0 || a.Topics[n-1].TopicID != id {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID = id
			a.Topics = append(a.Topics, t)
		}
		t := &a.Topics[len(a.Topics)-1]
		t.Partitions = append(t.Partitions, tp.partition)
	}
	return &a
}

// describedAssignment encodes s for ConsumerGroupDescribe.
func describedAssignment(s partSet, ids map[string][16]byte) kmsg.Assignment {
	var a kmsg.Assignment
	for _, tp := range s.sorted() {
		if n := len(a.TopicPartitions); n == 0 || a.TopicPartitions[n-1].Topic != tp.topic {
			t := kmsg.NewAssignmentTopicPartition()
			t.Topic, t.TopicID = tp.topic, ids[tp.topic]
			a.TopicPartitions = append(a.TopicPartitions, t)
		}
		t := &a.TopicPartitions[len(a.TopicPartitions)-1]
		t.Partitions = append(t.Partitions, tp.partition)
	}
	return a
}

// validHeartbeat is Kafka's request validation for ConsumerGroupHeartbeat;
// a non-empty message means INVALID_REQUEST.
func validHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest) string {
	switch {
	case r.Group == "":
		return "GroupId can't be empty."
	case r.InstanceID != nil && *r.InstanceID == "":
		return "InstanceId can't be empty."
	case r.RackID != nil && *r.RackID == "":
		return "RackId can't be empty."
	case r.MemberEpoch < epochStaticGone:
		return "MemberEpoch is invalid."
	case r.MemberEpoch == epochStaticGone && r.InstanceID == nil:
		return "InstanceId can't be null when leaving as a static member."
	case r.MemberID == "" && (r.MemberEpoch != epochJoin || r.Version >= 1):
		return "MemberId can't be empty."
	}
	if r.MemberEpoch == epochJoin {
		switch {
		case r.RebalanceTimeoutMillis <= 0:
			return "RebalanceTimeoutMs must be provided when joining."
		case r.SubscribedTopicNames == nil && r.SubscribedTopicRegex == nil:
			return "SubscribedTopicNames or SubscribedTopicRegex must be set when joining."
		case r.Topics == nil || len(r.Topics) > 0:
			return "TopicPartitions must be empty when (re-)joining."
		}
	}
	return ""
}

// compileSubscription compiles a subscribed pattern; Kafka matches it
// against whole topic names with RE2 syntax, which is Go's.
func compileSubscription(p string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + p + ")$")
}

// consumerHeartbeat handles one ConsumerGroupHeartbeat.
func (c *groupCoordinator) consumerHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string, now time.Time) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	fail := func(code int16, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	if msg := validHeartbeat(r); msg != "" {
		return fail(kerr.InvalidRequest.Code, msg)
	}
	if r.ServerAssignor != nil && !slices.Contains(serverAssignors, *r.ServerAssignor) {
		return fail(kerr.UnsupportedAssignor.Code, "ServerAssignor "+*r.ServerAssignor+" is not supported; supported: "+strings.Join(serverAssignors, ", ")+".")
	}
	var re *regexp.Regexp
	if r.SubscribedTopicRegex != nil {
		var err error
		if re, err = compileSubscription(*r.SubscribedTopicRegex); err != nil {
			return fail(kerr.InvalidRegularExpression.Code, err.Error())
		}
	}
	all := c.topics()
	ids := make(map[string][16]byte, len(all))
	byID := make(map[[16]byte]string, len(all))
	for _, t := range all {
		ids[t.name] = t.id
		byID[t.id] = t.name
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	resp.HeartbeatIntervalMillis = int32(c.set.consumerHeartbeat.Milliseconds())
	g := c.group(r.Group, now)
	if g == nil {
		if r.MemberEpoch != epochJoin {
			return fail(kerr.GroupIDNotFound.Code, "Group "+r.Group+" not found.")
		}
		g = c.newGroup(r.Group, now)
		c.groups[r.Group] = g
	}
	if g.consumer == nil {
		if !g.empty() {
			return fail(kerr.GroupIDNotFound.Code, "Group "+r.Group+" is not a consumer group.")
		}
		if r.MemberEpoch != epochJoin {
			return fail(kerr.UnknownMemberID.Code, "")
		}
		g.consumer = newConsumerGroup()
		g.protocolType = "consumer"
	}
	cg := g.consumer
	switch r.MemberEpoch {
	case epochJoin:
		return c.consumerJoin(g, r, re, clientID, clientHost, all, ids, now, resp)
	case epochLeave, epochStaticGone:
		m := cg.members[r.MemberID]
		switch {
		case m == nil:
			return fail(kerr.UnknownMemberID.Code, "")
		case r.InstanceID != nil && cg.static[*r.InstanceID] != m.id:
			return fail(kerr.FencedInstanceID.Code, "")
		}
		resp.MemberID, resp.MemberEpoch = &m.id, r.MemberEpoch
		if r.MemberEpoch == epochStaticGone && m.instanceID != nil {
			// Kept with its assignment until it comes back or its
			// session expires: a restart moves no partition.
			for tp := range m.revoking {
				if cg.owners[tp] == m.id {
					delete(cg.owners, tp)
				}
			}
			m.revoking, m.revokeDeadline = nil, time.Time{}
			if m.epoch != epochStaticGone {
				m.prevEpoch, m.epoch = m.epoch, epochStaticGone
			}
			return resp
		}
		cg.remove(m, all)
		g.emptySince = now
		return resp
	}

	m := cg.members[r.MemberID]
	if m == nil {
		if r.InstanceID != nil {
			if owner, ok := cg.static[*r.InstanceID]; ok && owner != r.MemberID {
				return fail(kerr.FencedInstanceID.Code, "")
			}
		}
		return fail(kerr.UnknownMemberID.Code, "")
	}
	if r.InstanceID != nil && cg.static[*r.InstanceID] != m.id {
		return fail(kerr.FencedInstanceID.Code, "")
	}
	owned := ownedFrom(r.Topics, byID)
	if r.MemberEpoch != m.epoch {
		// The previous epoch is accepted from a member that lost the
		// response that moved it on, if what it owns is still its.
		if r.MemberEpoch != m.prevEpoch || owned == nil || !subset(owned, m.assigned) {
			return fail(kerr.FencedMemberEpoch.Code, "The member epoch is fenced; the member must rejoin.")
		}
	}
	m.deadline = now.Add(c.set.consumerSession)
	m.clientID, m.clientHost = clientID, clientHost
	if c.updateSubscription(m, r, re) {
		cg.bump(all)
	} else {
		cg.refresh(all)
	}
	changed := cg.reconcile(m, owned, now)
	full := r.RebalanceTimeoutMillis != -1 && (r.SubscribedTopicNames != nil || r.SubscribedTopicRegex != nil) && r.Topics != nil
	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	if full || changed {
		resp.Assignment = assignmentOf(m.assigned, ids)
	}
	return resp
}

// updateSubscription applies the optional fields of a heartbeat to m and
// says whether the group needs a new target assignment.
func (c *groupCoordinator) updateSubscription(m *consumerMember, r *kmsg.ConsumerGroupHeartbeatRequest, re *regexp.Regexp) bool {
	changed := false
	if r.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	}
	if r.RackID != nil {
		m.rackID = r.RackID
	}
	if r.SubscribedTopicNames != nil {
		topics := sortedCopy(r.SubscribedTopicNames)
		topics = slices.Compact(topics)
		if !slices.Equal(topics, m.topics) {
			m.topics, changed = topics, true
		}
	}
	if r.SubscribedTopicRegex != nil && (m.regex == nil || *m.regex != *r.SubscribedTopicRegex) {
		p := *r.SubscribedTopicRegex
		m.regex, m.re, changed = &p, re, true
		if p == "" {
			m.regex, m.re = nil, nil
		}
	}
	if r.ServerAssignor != nil && *r.ServerAssignor != m.assignor {
		m.assignor, changed = *r.ServerAssignor, true
	}
	return changed
}

// consumerJoin handles member epoch 0: a new member, a member that lost its
// state (it rejoins in place and is sent its assignment again), or a static
// member coming back under a new member id.
func (c *groupCoordinator) consumerJoin(g *group, r *kmsg.ConsumerGroupHeartbeatRequest, re *regexp.Regexp, clientID, clientHost string, all []topicMeta, ids map[string][16]byte, now time.Time, resp *kmsg.ConsumerGroupHeartbeatResponse) *kmsg.ConsumerGroupHeartbeatResponse {
	cg := g.consumer
	id := r.MemberID
	if id == "" { // v0: the coordinator names the member
		id = newMemberID(clientID)
	}
	m := cg.members[id]
	bump := m == nil
	if r.InstanceID != nil {
		if oldID, ok := cg.static[*r.InstanceID]; ok && oldID != id {
			old := cg.members[oldID]
			if old != nil && old.epoch != epochStaticGone {
				resp.ErrorCode = kerr.UnreleasedInstanceID.Code
				return resp
			}
			if old != nil {
				// The instance is back: the new member id takes over its
				// epoch and partitions, without a rebalance.
				delete(cg.members, oldID)
				old.id = id
				for tp, owner := range cg.owners {
					if owner == oldID {
						cg.owners[tp] = id
					}
				}
				if m != nil {
					cg.release(m)
				}
				m, bump = old, false
			}
		}
	}
	if m == nil {
		m = &consumerMember{id: id, instanceID: r.InstanceID, assignor: serverAssignors[0], assigned: partSet{}, target: partSet{}}
	}
	if m.epoch == epochStaticGone {
		m.epoch = m.prevEpoch
	}
	m.instanceID = r.InstanceID
	cg.members[id] = m
	if r.InstanceID != nil {
		cg.static[*r.InstanceID] = id
	}
	m.clientID, m.clientHost = clientID, clientHost
	m.deadline = now.Add(c.set.consumerSession)
	if c.updateSubscription(m, r, re) || bump {
		cg.bump(all)
	} else {
		cg.refresh(all)
	}
	cg.reconcile(m, partSet{}, now)
	resp.MemberID, resp.MemberEpoch = &m.id, m.epoch
	resp.Assignment = assignmentOf(m.assigned, ids)
	return resp
}

// tickConsumer expires sessions and revocations that took longer than the
// member's rebalance timeout.
func (g *group) tickConsumer(now time.Time, all func() []topicMeta) {
	cg := g.consumer
	for _, m := range cg.sortedMembers() {
		expired := now.After(m.deadline)
		slow := m.state == memberUnrevoked && !m.revokeDeadline.IsZero() && now.After(m.revokeDeadline)
		if !expired && !slow {
			continue
		}
		if expired {
			g.c.logf("group %s: member %s session timeout (%v) expired", g.id, m.id, g.c.set.consumerSession)
		} else {
			g.c.logf("group %s: member %s did not revoke within its rebalance timeout (%v)", g.id, m.id, m.rebalanceTimeout)
		}
		cg.remove(m, all())
		if len(cg.members) == 0 {
			g.emptySince = now
		}
	}
}

// consumerCommitCheck is OffsetCommit's validation for a consumer group
// (KIP-848: the generation is the member epoch). Caller holds c.mu.
func (g *group) consumerCommitCheck(generation int32, memberID string) int16 {
	cg := g.consumer
	if generation < 0 && memberID == "" && len(cg.members) == 0 {
		return 0 // a commit from outside the group (admin or manual assignment)
	}
	return cg.checkEpoch(memberID, generation)
}

// checkEpoch accepts a member only at its current epoch (KIP-848's
// offset commit and fetch rule).
func (cg *consumerGroup) checkEpoch(memberID string, epoch int32) int16 {
	m := cg.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// checkFetchMember is OffsetFetch v9's member validation: a member of a
// consumer group reads offsets only at its current epoch.
func (c *groupCoordinator) checkFetchMember(group string, memberID *string, epoch int32) int16 {
	if memberID == nil && epoch < 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[group]
	if g == nil || g.consumer == nil {
		return 0 // classic groups do not validate fetches
	}
	var id string
	if memberID != nil {
		id = *memberID
	}
	return g.consumer.checkEpoch(id, epoch)
}

// describeConsumer answers ConsumerGroupDescribe for one group.
func (c *groupCoordinator) describeConsumer(id string, now time.Time) kmsg.ConsumerGroupDescribeResponseGroup {
	all := c.topics()
	ids := make(map[string][16]byte, len(all))
	for _, t := range all {
		ids[t.name] = t.id
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := kmsg.NewConsumerGroupDescribeResponseGroup()
	d.Group = id
	d.AuthorizedOperations = -2147483648 // not computed
	g := c.group(id, now)
	if g == nil || g.consumer == nil {
		d.ErrorCode = kerr.GroupIDNotFound.Code
		msg := "Group " + id + " is not a consumer group."
		if g == nil {
			msg = "Group " + id + " not found."
		}
		d.ErrorMessage = &msg
		return d
	}
	cg := g.consumer
	d.State = cg.state()
	d.Epoch, d.AssignmentEpoch, d.AssignorName = cg.epoch, cg.assignEpoch, cg.assignor
	for _, m := range cg.sortedMembers() {
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.RackID = m.id, m.instanceID, m.rackID
		dm.MemberEpoch, dm.ClientID, dm.ClientHost = m.epoch, m.clientID, m.clientHost
		dm.SubscribedTopics = slices.Clone(m.topics)
		dm.SubscribedTopicRegex = m.regex
		dm.Assignment = describedAssignment(m.assigned, ids)
		dm.TargetAssignment = describedAssignment(m.target, ids)
		dm.MemberType = 1 // consumer (KIP-1099); classic members do not join these groups here
		d.Members = append(d.Members, dm)
	}
	return d
}
