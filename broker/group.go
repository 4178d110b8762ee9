package broker

import (
	"crypto/rand"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
)

// The classic group coordinator (Kafka's GroupCoordinator, before KIP-848):
// member ids, generations, protocol selection, leader-side assignment passed
// through SyncGroup, session and rebalance timeouts, static membership, and
// committed offsets (offsets.go).
//
// State changes happen under one mutex, driven by requests and by tick, which
// a goroutine calls every groupSettings.tick with the wall clock; every state
// function takes now explicitly so the timing rules read (and test) as data.
// JoinGroup and SyncGroup park on a buffered channel until the round ends;
// the connection answers when it fires.
//
// Only the leader of the group's __consumer_offsets partition serves a
// group (internal_topics.go); the handlers answer NOT_COORDINATOR elsewhere.
// Committed offsets are replicated through that partition and survive a
// coordinator change; membership is not written there, so after a change
// members rejoin (their generation is unknown to the new coordinator).
//
// Lock order: groupCoordinator.mu, then offsetStore.mu, then the broker's
// coordState.mu and the offsets partition's append lock (the journal). The
// transaction coordinator may call completeTxn (through a marker) with its
// own mutex held; completeTxn takes offsetStore.mu and the journal's locks
// only, never starting a load. Replication is waited for without
// groupCoordinator.mu, except by the admin requests DeleteGroups and
// OffsetDelete.

// groupSettings are the broker's group.* settings, named after Kafka's.
type groupSettings struct {
	minSession, maxSession time.Duration // group.min/max.session.timeout.ms: 6 s, 30 min
	initialDelay           time.Duration // group.initial.rebalance.delay.ms: 3 s
	maxMetadataBytes       int           // offset.metadata.max.bytes: 4096
	emptyRetention         time.Duration // how long an empty group without offsets stays listed: 10 min
	tick                   time.Duration // timer resolution: 50 ms
	// KIP-848 consumer groups: the coordinator sets their members' session
	// and heartbeat cadence (group.consumer.session.timeout.ms: 45 s,
	// group.consumer.heartbeat.interval.ms: 5 s).
	consumerSession, consumerHeartbeat time.Duration
}

func defaultGroupSettings() groupSettings {
	return groupSettings{
		minSession:       6 * time.Second,
		maxSession:       30 * time.Minute,
		initialDelay:     3 * time.Second,
		maxMetadataBytes: 4096,
		emptyRetention:   10 * time.Minute,
		tick:             50 * time.Millisecond,

		consumerSession:   45 * time.Second,
		consumerHeartbeat: 5 * time.Second,
	}
}

type groupState int8

const (
	groupEmpty groupState = iota
	groupPreparingRebalance
	groupCompletingRebalance
	groupStable
	groupDead
)

// String is the state name DescribeGroups and ListGroups report.
func (s groupState) String() string {
	switch s {
	case groupEmpty:
		return "Empty"
	case groupPreparingRebalance:
		return "PreparingRebalance"
	case groupCompletingRebalance:
		return "CompletingRebalance"
	case groupStable:
		return "Stable"
	}
	return "Dead"
}

type groupMember struct {
	id               string
	instanceID       *string // static membership (KIP-345)
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []kmsg.JoinGroupRequestProtocol
	assignment       []byte
	joinSeq          uint64    // order of joining: leader choice and member listing
	deadline         time.Time // session expiry, pushed by every request of the member
	join             *joinWait // set while the member waits for the join round to end
	sync             *syncWait // set while the member waits for the leader's assignment
	synced           bool      // sent SyncGroup in this generation
}

type joinWait struct {
	resp *kmsg.JoinGroupResponse
	ch   chan kmsg.Response
}

type syncWait struct {
	resp *kmsg.SyncGroupResponse
	ch   chan kmsg.Response
}

func (w *joinWait) finish() { w.ch <- w.resp }
func (w *syncWait) finish() { w.ch <- w.resp }

// failJoin answers a parked JoinGroup with an error.
func (m *groupMember) failJoin(code int16) {
	if m.join != nil {
		m.join.resp.ErrorCode = code
		m.join.resp.Generation = -1
		m.join.resp.MemberID = m.id
		m.join.finish()
		m.join = nil
	}
}

func (m *groupMember) failSync(code int16) {
	if m.sync != nil {
		m.sync.resp.ErrorCode = code
		m.sync.finish()
		m.sync = nil
	}
}

func (m *groupMember) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

type group struct {
	c            *groupCoordinator
	id           string
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*groupMember
	static       map[string]string    // group.instance.id → member id
	pending      map[string]time.Time // MEMBER_ID_REQUIRED ids → deadline to rejoin
	seq          uint64

	joinDeadline  time.Time // end of the current join round (rebalance timeout)
	delayUntil    time.Time // end of the initial rebalance delay, while it runs
	joinedInDelay bool      // a member joined during the current initial delay
	syncDeadline  time.Time // members that have not synced by then are removed
	emptySince    time.Time

	// subscribed are the topics the members' consumer-protocol subscriptions
	// name (OffsetDelete refuses them); nil when unknown.
	subscribed map[string]bool

	consumer *consumerGroup // the KIP-848 state of a consumer group; nil for a classic group
}

// empty says whether the group has no members under either protocol.
func (g *group) empty() bool {
	return g.state == groupEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
		(g.consumer == nil || len(g.consumer.members) == 0)
}

// groupCoordinator owns every group of this broker.
type groupCoordinator struct {
	logf    func(string, ...any)
	offsets *offsetStore
	// topicID resolves a partition to its topic's id; ok is false for a
	// partition that does not exist.
	topicID func(topic string, partition int32) (id [16]byte, ok bool)
	// topics lists the existing topics, sorted by name, for the
	// server-side assignors of consumer groups.
	topics func() []topicMeta

	mu     sync.Mutex
	set    groupSettings
	groups map[string]*group

	stop chan struct{}
	done chan struct{}
}

// newGroupCoordinator starts the timer goroutine; close stops it. journal
// appends a batch of offset records to a group's partition (offsets.go).
func newGroupCoordinator(set groupSettings, topicID func(string, int32) ([16]byte, bool), topics func() []topicMeta, journal func(string, []byte) (func() int16, int16), logf func(string, ...any)) *groupCoordinator {
	c := &groupCoordinator{logf: logf, topicID: topicID, topics: topics, set: set, groups: map[string]*group{}, stop: make(chan struct{}), done: make(chan struct{})}
	c.offsets = newOffsetStore(journal)
	go c.run()
	return c
}

// load takes over the groups of __consumer_offsets partition k from its
// records: their offsets, and Empty groups for those with offsets (members
// rejoin).
func (c *groupCoordinator) load(k int32, partitions int, recs []records.KV) {
	inPartition := func(g string) bool { return partitionFor(g, partitions) == k }
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropGroupsLocked(inPartition)
	if bad := c.offsets.load(recs, inPartition); bad > 0 {
		c.logf("%s-%d: %d malformed records skipped", offsetsTopic, k, bad)
	}
	now := time.Now()
	for _, name := range c.offsets.groupNames() {
		if inPartition(name) && c.groups[name] == nil {
			c.groups[name] = c.newGroup(name, now)
		}
	}
}

// unload forgets the groups of partition k (another broker coordinates
// them now); members waiting in JoinGroup or SyncGroup get NOT_COORDINATOR.
func (c *groupCoordinator) unload(k int32, partitions int) {
	inPartition := func(g string) bool { return partitionFor(g, partitions) == k }
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropGroupsLocked(inPartition)
	c.offsets.unload(inPartition)
}

func (c *groupCoordinator) dropGroupsLocked(inPartition func(string) bool) {
	for name, g := range c.groups {
		if !inPartition(name) {
			continue
		}
		for _, m := range g.members {
			m.failJoin(kerr.NotCoordinator.Code)
			m.failSync(kerr.NotCoordinator.Code)
		}
		g.state = groupDead
		delete(c.groups, name)
	}
}

// configure changes settings at run time (tests shorten timeouts with it).
func (c *groupCoordinator) configure(fn func(*groupSettings)) {
	c.mu.Lock()
	fn(&c.set)
	c.mu.Unlock()
}

func (c *groupCoordinator) run() {
	defer close(c.done)
	c.mu.Lock()
	every := c.set.tick
	c.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.tick(now)
		}
	}
}

func (c *groupCoordinator) close() {
	close(c.stop)
	<-c.done
}

// group returns the named group, bringing it back (Empty) if it is only known
// from offsets (a transaction's offsets can create one). Caller holds mu.
func (c *groupCoordinator) group(name string, now time.Time) *group {
	g := c.groups[name]
	if g == nil && c.offsets.has(name) {
		g = c.newGroup(name, now)
		c.groups[name] = g
	}
	return g
}

func (c *groupCoordinator) newGroup(id string, now time.Time) *group {
	return &group{c: c, id: id, members: map[string]*groupMember{}, static: map[string]string{}, pending: map[string]time.Time{}, emptySince: now}
}

// tick enforces every deadline: session expiry, MEMBER_ID_REQUIRED rejoin,
// the initial delay, the join round (rebalance timeout) and the sync phase.
func (c *groupCoordinator) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, g := range c.groups {
		if g.consumer != nil {
			g.tickConsumer(now, c.topics)
		} else {
			g.tick(now)
		}
		if g.empty() && now.Sub(g.emptySince) >= c.set.emptyRetention && !c.offsets.has(name) {
			g.state = groupDead
			delete(c.groups, name)
		}
	}
}

func (g *group) tick(now time.Time) {
	for id, dl := range g.pending {
		if now.After(dl) {
			delete(g.pending, id)
		}
	}
	for _, m := range g.sortedMembers() {
		// Members parked in JoinGroup or SyncGroup are alive by definition;
		// a member an earlier removal's round already dropped is skipped.
		if g.members[m.id] == m && m.join == nil && m.sync == nil && now.After(m.deadline) {
			g.c.logf("group %s: member %s session timeout (%v) expired", g.id, m.id, m.sessionTimeout)
			g.removeMember(m, now)
		}
	}
	switch g.state {
	case groupPreparingRebalance:
		g.maybeCompleteJoin(now)
	case groupCompletingRebalance, groupStable:
		if g.syncDeadline.IsZero() || now.Before(g.syncDeadline) {
			break
		}
		g.syncDeadline = time.Time{}
		for _, m := range g.sortedMembers() {
			if g.members[m.id] == m && !m.synced {
				g.c.logf("group %s: member %s did not sync within the rebalance timeout", g.id, m.id)
				g.removeMember(m, now)
			}
		}
	}
}

func newMemberID(prefix string) string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

func (g *group) sortedMembers() []*groupMember {
	ms := make([]*groupMember, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].joinSeq < ms[j].joinSeq })
	return ms
}

// fenced is Kafka's static-member fencing: the instance id belongs to another member id.
func (g *group) fenced(memberID string, instanceID *string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

func (g *group) addMember(m *groupMember, now time.Time) {
	g.seq++
	m.joinSeq = g.seq
	g.members[m.id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if !g.delayUntil.IsZero() {
		g.joinedInDelay = true
	}
	if g.protocolType == "" {
		g.protocolType = m.protocolType
	}
}

// removeMember drops m, answering its parked requests with UNKNOWN_MEMBER_ID,
// and rebalances the rest.
func (g *group) removeMember(m *groupMember, now time.Time) {
	m.failJoin(kerr.UnknownMemberID.Code)
	m.failSync(kerr.UnknownMemberID.Code)
	delete(g.members, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
	}
	switch g.state {
	case groupStable, groupCompletingRebalance:
		g.prepareRebalance(now)
	case groupPreparingRebalance:
		g.maybeCompleteJoin(now)
	}
}

func (g *group) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// prepareRebalance starts a join round: members learn of it from heartbeats
// (REBALANCE_IN_PROGRESS) and must rejoin within the rebalance timeout.
func (g *group) prepareRebalance(now time.Time) {
	if g.state == groupCompletingRebalance {
		// The leader's assignment for this generation will never be used.
		for _, m := range g.members {
			m.assignment = nil
			m.failSync(kerr.RebalanceInProgress.Code)
		}
	}
	initial := g.state == groupEmpty
	g.state = groupPreparingRebalance
	g.syncDeadline = time.Time{}
	g.joinDeadline = now.Add(g.maxRebalanceTimeout())
	if initial && g.c.set.initialDelay > 0 {
		// group.initial.rebalance.delay.ms: let a starting fleet join one round.
		g.delayUntil = now.Add(min(g.c.set.initialDelay, g.maxRebalanceTimeout()))
		g.joinedInDelay = false
	}
	g.maybeCompleteJoin(now)
}

// maybeCompleteJoin ends the join round when every member (and every
// MEMBER_ID_REQUIRED newcomer) has joined, or the rebalance timeout passed.
func (g *group) maybeCompleteJoin(now time.Time) {
	if g.state != groupPreparingRebalance {
		return
	}
	if !g.delayUntil.IsZero() {
		if now.Before(g.delayUntil) {
			return
		}
		if g.joinedInDelay && now.Before(g.joinDeadline) {
			// Someone arrived during the delay: wait another delay, within the
			// rebalance timeout, as Kafka's InitialDelayedJoin does.
			g.delayUntil = minTime(now.Add(g.c.set.initialDelay), g.joinDeadline)
			g.joinedInDelay = false
			return
		}
		g.delayUntil = time.Time{}
	}
	all := len(g.pending) == 0
	for _, m := range g.members {
		all = all && m.join != nil
	}
	if all || !now.Before(g.joinDeadline) {
		g.completeJoin(now)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// completeJoin starts the next generation: members that did not rejoin are
// removed (static ones stay, Kafka keeps them until their session expires), a
// protocol is chosen, and every parked JoinGroup is answered — the leader's
// with the members' metadata.
func (g *group) completeJoin(now time.Time) {
	for _, m := range g.sortedMembers() {
		if m.join == nil && m.instanceID == nil {
			g.c.logf("group %s: member %s did not rejoin within the rebalance timeout", g.id, m.id)
			delete(g.members, m.id)
			if g.leader == m.id {
				g.leader = ""
			}
		}
	}
	g.generation++
	g.delayUntil = time.Time{}
	if len(g.members) == 0 {
		g.state = groupEmpty
		g.protocol, g.leader = "", ""
		g.emptySince = now
		g.subscribed = nil
		return
	}
	g.state = groupCompletingRebalance
	g.protocol = g.selectProtocol()
	ms := g.sortedMembers()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = ms[0].id
		for _, m := range ms {
			if m.join != nil { // prefer a member that is listening
				g.leader = m.id
				break
			}
		}
	}
	g.subscribed = g.subscriptions()
	g.syncDeadline = now.Add(g.maxRebalanceTimeout())
	for _, m := range ms {
		m.synced = false
		m.assignment = nil
		m.deadline = now.Add(m.sessionTimeout)
		if m.join != nil {
			g.fillJoin(m.join.resp, m)
			m.join.finish()
			m.join = nil
		}
	}
}

// fillJoin writes the current generation into a JoinGroup response for m.
func (g *group) fillJoin(resp *kmsg.JoinGroupResponse, m *groupMember) {
	resp.ErrorCode = 0
	resp.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &p
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	resp.Members = nil
	if m.id != g.leader {
		return
	}
	for _, o := range g.sortedMembers() {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = o.id
		jm.InstanceID = o.instanceID
		jm.ProtocolMetadata = o.metadataFor(g.protocol)
		resp.Members = append(resp.Members, jm)
	}
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer (each votes for its first supported choice); ties go
// to the earliest member's preference.
func (g *group) selectProtocol() string {
	cands := g.candidates("")
	votes := map[string]int{}
	ms := g.sortedMembers()
	for _, m := range ms {
		for _, p := range m.protocols {
			if cands[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, p := range ms[0].protocols {
		if cands[p.Name] && votes[p.Name] > bestVotes {
			best, bestVotes = p.Name, votes[p.Name]
		}
	}
	return best
}

// candidates are the protocols every member except skip supports.
func (g *group) candidates(skip string) map[string]bool {
	var set map[string]bool
	for _, m := range g.members {
		if m.id == skip {
			continue
		}
		mine := map[string]bool{}
		for _, p := range m.protocols {
			if set == nil || set[p.Name] {
				mine[p.Name] = true
			}
		}
		set = mine
	}
	return set
}

// supports is Kafka's supportsProtocols: an empty group takes anything
// well-formed; otherwise the type must match and one protocol must be common
// to the joiner and every other member.
func (g *group) supports(memberID, protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	others := len(g.members)
	if _, ok := g.members[memberID]; ok {
		others--
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	cands := g.candidates(memberID)
	for _, p := range protocols {
		if cands[p.Name] {
			return true
		}
	}
	return false
}

// subscriptions decodes the consumer-protocol subscriptions of the chosen
// protocol; nil if the group is not a consumer group or one cannot be read.
func (g *group) subscriptions() map[string]bool {
	if g.protocolType != "consumer" {
		return nil
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics
}

// topicID resolves a partition for the coordinator.
func (b *Broker) topicID(topic string, p int32) ([16]byte, bool) {
	t := b.topics.get(topic)
	if t == nil || p < 0 || int(p) >= len(t.partitions) {
		return [16]byte{}, false
	}
	return t.id, true
}

// generationOf reports a group's generation (-1 if unknown); for tests and metrics.
func (c *groupCoordinator) generationOf(name string) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[name]; g != nil {
		return g.generation
	}
	return -1
}
