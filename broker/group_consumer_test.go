package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fastConsumerGroups shortens the KIP-848 cadence so tests take seconds.
func fastConsumerGroups(b *Broker) {
	b.groups.configure(func(s *groupSettings) {
		s.consumerHeartbeat = 200 * time.Millisecond
		s.consumerSession = 3 * time.Second
	})
}

// ownerLog records, per partition, which client owns it, and fails on two
// owners at once.
type ownerLog struct {
	mu     sync.Mutex
	owner  map[int32]string
	double []string
	seen   map[string]int // records consumed per client
}

func (o *ownerLog) opts(name, topic string) []kgo.Opt {
	set := func(assign bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			defer o.mu.Unlock()
			for _, p := range m[topic] {
				switch {
				case assign && o.owner[p] != "" && o.owner[p] != name:
					o.double = append(o.double, fmt.Sprintf("partition %d assigned to %s while %s owns it", p, name, o.owner[p]))
				case assign:
					o.owner[p] = name
				case o.owner[p] == name:
					delete(o.owner, p)
				}
			}
		}
	}
	return []kgo.Opt{kgo.OnPartitionsAssigned(set(true)), kgo.OnPartitionsRevoked(set(false)), kgo.OnPartitionsLost(set(false))}
}

func (o *ownerLog) owners() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := map[string]int{}
	for _, c := range o.owner {
		n[c]++
	}
	return n
}

// TestConsumerGroupKgoRebalance: franz-go members on the KIP-848 protocol
// share a topic evenly, a partition never has two owners while members
// join and leave, and the survivor ends up with everything.
func TestConsumerGroupKgoRebalance(t *testing.T) {
	b := startBroker(t)
	fastConsumerGroups(b)
	ctx := testCtx(t, 60*time.Second)
	const topic, parts = "cg-kgo", 6
	createTopic(ctx, t, b, topic, parts)
	o := &ownerLog{owner: map[int32]string{}}
	member := func(name string) (leave func()) {
		opts := append([]kgo.Opt{kgo.ConsumerGroup("cg-kgo"), kgo.ConsumeTopics(topic), kgo.ServerSideBalancer(),
			kgo.Balancers(kgo.StickyBalancer()), kgo.FetchMaxWait(200 * time.Millisecond)}, o.opts(name, topic)...)
		cl := newClient(t, b, opts...)
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for mctx.Err() == nil {
				cl.PollFetches(mctx)
			}
		}()
		return func() { cancel(); <-done; cl.Close() }
	}
	waitOwners := func(want map[string]int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := o.owners()
			if fmt.Sprint(got) == fmt.Sprint(want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("owners: got %v, want %v", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a := member("a")
	waitOwners(map[string]int{"a": 6})
	member("b")
	waitOwners(map[string]int{"a": 3, "b": 3})
	member("c")
	waitOwners(map[string]int{"a": 2, "b": 2, "c": 2})
	a()
	waitOwners(map[string]int{"b": 3, "c": 3})
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.double) > 0 {
		t.Fatalf("double ownership: %v", o.double)
	}
}

// cgMember drives ConsumerGroupHeartbeat by hand over its own connection.
type cgMember struct {
	raw      *rawMember
	t        *testing.T
	group    string
	id       string
	epoch    int32
	instance *string
	topics   []string
	owned    map[int32]bool // partitions of topic "t" the member says it owns
	topicID  [16]byte
}

func newCGMember(t *testing.T, b *Broker, group, id string) *cgMember {
	tp := b.topics.get("t")
	if tp == nil {
		t.Fatal("topic t does not exist")
	}
	return &cgMember{raw: newRawMember(t, b, group), t: t, group: group, id: id, topics: []string{"t"}, owned: map[int32]bool{}, topicID: tp.id}
}

// request is a full heartbeat at the member's epoch reporting what it owns.
func (m *cgMember) request() *kmsg.ConsumerGroupHeartbeatRequest {
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = m.group, m.id, m.epoch, m.instance
	r.RebalanceTimeoutMillis = 5000
	r.SubscribedTopicNames = m.topics
	r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if len(m.owned) > 0 {
		rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
		rt.TopicID = m.topicID
		for p := range m.owned {
			rt.Partitions = append(rt.Partitions, p)
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func (m *cgMember) send(r *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	return m.raw.do(r).(*kmsg.ConsumerGroupHeartbeatResponse)
}

// beat sends a full heartbeat and, like a client, takes the epoch and the
// assignment it is given (revoking at once what it lost).
func (m *cgMember) beat() *kmsg.ConsumerGroupHeartbeatResponse {
	m.t.Helper()
	resp := m.send(m.request())
	if resp.ErrorCode != 0 {
		m.t.Fatalf("member %s heartbeat: error %d (%v)", m.id, resp.ErrorCode, resp.ErrorMessage)
	}
	m.epoch = resp.MemberEpoch
	if resp.Assignment != nil {
		m.owned = map[int32]bool{}
		for _, at := range resp.Assignment.Topics {
			for _, p := range at.Partitions {
				m.owned[p] = true
			}
		}
	}
	return resp
}

func ownedList(m map[int32]bool) []int32 {
	var out []int32
	for p := 0; p < 64; p++ {
		if m[int32(p)] {
			out = append(out, int32(p))
		}
	}
	return out
}

// TestConsumerGroupRevokeBeforeAssign: when a second member joins, the
// first is told to revoke half its partitions and keeps its epoch; the
// newcomer gets them only after the first reported letting them go.
func TestConsumerGroupRevokeBeforeAssign(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "t", 4)
	a := newCGMember(t, b, "g-revoke", "member-a")
	a.beat()
	if got := ownedList(a.owned); fmt.Sprint(got) != "[0 1 2 3]" || a.epoch != 1 {
		t.Fatalf("a after join: owns %v at epoch %d, want [0 1 2 3] at 1", got, a.epoch)
	}
	c := newCGMember(t, b, "g-revoke", "member-c")
	c.beat()
	if got := ownedList(c.owned); len(got) != 0 || c.epoch != 2 {
		t.Fatalf("c after join: owns %v at epoch %d, want nothing (a still owns all) at 2", got, c.epoch)
	}
	// a is told to revoke two partitions and stays at epoch 1.
	r := a.request()
	resp := a.send(r)
	if resp.MemberEpoch != 1 || resp.Assignment == nil || len(resp.Assignment.Topics[0].Partitions) != 2 {
		t.Fatalf("a told: epoch %d assignment %+v, want epoch 1 and two partitions", resp.MemberEpoch, resp.Assignment)
	}
	kept := resp.Assignment.Topics[0].Partitions
	// Until a says it let go, c gets nothing.
	c.beat()
	if len(c.owned) != 0 {
		t.Fatalf("c got %v before a revoked", ownedList(c.owned))
	}
	// a still reports all four (it has not revoked yet): no change.
	a.send(r)
	c.beat()
	if len(c.owned) != 0 {
		t.Fatalf("c got %v while a still owns them", ownedList(c.owned))
	}
	a.owned = map[int32]bool{kept[0]: true, kept[1]: true}
	a.beat()
	if a.epoch != 2 {
		t.Fatalf("a after revoking: epoch %d, want 2", a.epoch)
	}
	c.beat()
	got := ownedList(c.owned)
	if len(got) != 2 || a.owned[got[0]] || a.owned[got[1]] {
		t.Fatalf("c owns %v, a owns %v: want the two a revoked", got, ownedList(a.owned))
	}
	d := b.groups.describeConsumer("g-revoke", time.Now())
	if d.State != "Stable" || d.Epoch != 2 || d.AssignmentEpoch != 2 || d.AssignorName != "uniform" || len(d.Members) != 2 {
		t.Fatalf("describe: state %s epoch %d/%d assignor %s members %d, want Stable 2/2 uniform 2", d.State, d.Epoch, d.AssignmentEpoch, d.AssignorName, len(d.Members))
	}
}

// TestConsumerGroupErrors: what a client can get wrong gets Kafka's error
// code, and the broker keeps serving.
func TestConsumerGroupErrors(t *testing.T) {
	b := startBroker(t)
	b.groups.configure(func(s *groupSettings) { s.initialDelay = 0 })
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "t", 2)
	a := newCGMember(t, b, "g-err", "member-a")
	a.instance = strp("instance-a")
	a.beat()
	classic := newRawMember(t, b, "g-classic")
	classic.join() // a classic group with a member

	type tc struct {
		name string
		mod  func(r *kmsg.ConsumerGroupHeartbeatRequest)
		want error
	}
	for _, c := range []tc{
		{"empty group id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest},
		{"join owning partitions", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch = "member-new", 0
			rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			rt.TopicID, rt.Partitions = a.topicID, []int32{0}
			r.Topics = append(r.Topics, rt)
		}, kerr.InvalidRequest},
		{"join without subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch, r.SubscribedTopicNames = "member-new", 0, nil
		}, kerr.InvalidRequest},
		{"epoch below -2", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest},
		{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = strp("cooperative-sticky") }, kerr.UnsupportedAssignor},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicRegex = strp("t(") }, kerr.InvalidRegularExpression},
		{"unknown group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "g-none" }, kerr.GroupIDNotFound},
		{"classic group", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.Group, r.MemberID, r.MemberEpoch, r.Topics = "g-classic", "member-new", 0, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}, kerr.GroupIDNotFound},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.InstanceID = "member-x", nil }, kerr.UnknownMemberID},
		{"epoch from the future", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch += 5 }, kerr.FencedMemberEpoch},
		{"instance id of another member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = strp("instance-b") }, kerr.FencedInstanceID},
		{"instance id still held", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch, r.Topics = "member-b", 0, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}, kerr.UnreleasedInstanceID},
		{"leave unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.MemberID, r.MemberEpoch, r.InstanceID = "member-x", -1, nil
		}, kerr.UnknownMemberID},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := a.request()
			c.mod(r)
			resp := a.send(r)
			if got := kerr.ErrorForCode(resp.ErrorCode); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	// The member is unharmed by all of it.
	if resp := a.beat(); resp.MemberEpoch != 1 || len(a.owned) != 2 {
		t.Fatalf("after the errors: epoch %d owns %v, want 1 and both partitions", resp.MemberEpoch, ownedList(a.owned))
	}

	t.Run("describe", func(t *testing.T) {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"g-err", "g-none", "g-classic"}
		resp := a.raw.do(req).(*kmsg.ConsumerGroupDescribeResponse)
		want := []error{nil, kerr.GroupIDNotFound, kerr.GroupIDNotFound}
		for i, g := range resp.Groups {
			if got := kerr.ErrorForCode(g.ErrorCode); got != want[i] {
				t.Errorf("%s: got %v, want %v", g.Group, got, want[i])
			}
		}
		if g := resp.Groups[0]; len(g.Members) != 1 || g.Members[0].MemberEpoch != 1 || len(g.Members[0].Assignment.TopicPartitions) != 1 {
			t.Errorf("g-err described as %+v", g)
		}
	})
	t.Run("offset commit", func(t *testing.T) {
		for _, c := range []struct {
			member string
			epoch  int32
			want   error
		}{{"member-a", 0, kerr.StaleMemberEpoch}, {"member-a", 2, kerr.StaleMemberEpoch}, {"member-x", 1, kerr.UnknownMemberID}, {"member-a", 1, nil}} {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Version = 9
			req.Group, req.MemberID, req.Generation = "g-err", c.member, c.epoch
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = 0, 5
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := a.raw.do(req).(*kmsg.OffsetCommitResponse)
			if got := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); got != c.want {
				t.Errorf("commit as %s at epoch %d: got %v, want %v", c.member, c.epoch, got, c.want)
			}
		}
	})
	t.Run("offset fetch", func(t *testing.T) {
		for _, c := range []struct {
			epoch int32
			want  error
		}{{3, kerr.StaleMemberEpoch}, {1, nil}} {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version = 9
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group, rg.MemberID, rg.MemberEpoch = "g-err", strp("member-a"), c.epoch
			req.Groups = append(req.Groups, rg)
			resp := a.raw.do(req).(*kmsg.OffsetFetchResponse)
			if got := kerr.ErrorForCode(resp.Groups[0].ErrorCode); got != c.want {
				t.Errorf("fetch at epoch %d: got %v, want %v", c.epoch, got, c.want)
			}
		}
	})
	t.Run("list and describe", func(t *testing.T) {
		lreq := kmsg.NewPtrListGroupsRequest()
		lreq.Version, lreq.TypesFilter = 5, []string{"Consumer"}
		lresp := a.raw.do(lreq).(*kmsg.ListGroupsResponse)
		if len(lresp.Groups) != 1 || lresp.Groups[0].Group != "g-err" || lresp.Groups[0].GroupType != "consumer" || lresp.Groups[0].GroupState != "Stable" {
			t.Errorf("ListGroups types [Consumer]: got %+v, want g-err only, type consumer, Stable", lresp.Groups)
		}
		dreq := kmsg.NewPtrDescribeGroupsRequest()
		dreq.Groups = []string{"g-err"}
		d := a.raw.do(dreq).(*kmsg.DescribeGroupsResponse).Groups[0]
		if d.ErrorCode != 0 || d.ProtocolType != "consumer" || d.Protocol != "uniform" || d.State != "Stable" || len(d.Members) != 1 {
			t.Errorf("DescribeGroups: got %+v, want protocol type consumer, uniform, Stable, one member", d)
		}
	})
	t.Run("classic join", func(t *testing.T) {
		j := newRawMember(t, b, "g-err")
		req := j.joinRequest()
		resp := j.do(req).(*kmsg.JoinGroupResponse)
		if got := kerr.ErrorForCode(resp.ErrorCode); got != kerr.InconsistentGroupProtocol {
			t.Fatalf("got %v, want %v", got, kerr.InconsistentGroupProtocol)
		}
	})
}

// TestConsumerGroupStaticRestart: a static member that leaves with epoch -2
// and comes back under a new member id gets its partitions back without a
// new group epoch; the other member is not disturbed.
func TestConsumerGroupStaticRestart(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "t", 4)
	a := newCGMember(t, b, "g-static", "member-a")
	a.instance = strp("instance-a")
	a.beat()
	c := newCGMember(t, b, "g-static", "member-c")
	c.beat()
	for range 3 { // settle: a revokes, c picks up
		a.beat()
		c.beat()
	}
	before, epoch := ownedList(a.owned), a.epoch
	if len(before) != 2 || len(c.owned) != 2 {
		t.Fatalf("settled: a owns %v, c owns %v, want two each", before, ownedList(c.owned))
	}
	r := a.request()
	r.MemberEpoch = -2
	if resp := a.send(r); resp.ErrorCode != 0 || resp.MemberEpoch != -2 {
		t.Fatalf("static leave: error %d epoch %d", resp.ErrorCode, resp.MemberEpoch)
	}
	c.beat()
	if len(c.owned) != 2 {
		t.Fatalf("c owns %v after a's static leave, want its two unchanged", ownedList(c.owned))
	}
	back := newCGMember(t, b, "g-static", "member-a2")
	back.instance = strp("instance-a")
	back.beat()
	if got := ownedList(back.owned); fmt.Sprint(got) != fmt.Sprint(before) || back.epoch != epoch {
		t.Fatalf("restarted instance owns %v at epoch %d, want %v at %d", got, back.epoch, before, epoch)
	}
	// The old member id is gone.
	if resp := a.send(a.request()); resp.ErrorCode != kerr.FencedInstanceID.Code && resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("old member id: error %d, want FENCED_INSTANCE_ID or UNKNOWN_MEMBER_ID", resp.ErrorCode)
	}
}

// TestConsumerGroupRegex: a member subscribed by pattern is assigned the
// topics whose whole names match, including one created later.
func TestConsumerGroupRegex(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 20*time.Second)
	createTopic(ctx, t, b, "t", 1)
	createTopic(ctx, t, b, "orders-eu", 2)
	createTopic(ctx, t, b, "orders-us", 1)
	createTopic(ctx, t, b, "old-orders-eu", 1)
	m := newCGMember(t, b, "g-regex", "member-a")
	assigned := func(resp *kmsg.ConsumerGroupHeartbeatResponse) int {
		n := 0
		for _, at := range resp.Assignment.Topics {
			n += len(at.Partitions)
		}
		return n
	}
	r := m.request()
	r.SubscribedTopicNames, r.SubscribedTopicRegex = nil, strp("orders-.*")
	resp := m.send(r)
	if resp.ErrorCode != 0 || assigned(resp) != 3 {
		t.Fatalf("join by regex: error %d, %d partitions, want orders-eu and orders-us (3)", resp.ErrorCode, assigned(resp))
	}
	createTopic(ctx, t, b, "orders-jp", 2)
	r = m.request()
	r.MemberEpoch, r.SubscribedTopicNames, r.SubscribedTopicRegex = resp.MemberEpoch, nil, strp("orders-.*")
	r.Topics = nil
	resp = m.send(r)
	if resp.ErrorCode != 0 || resp.Assignment == nil || assigned(resp) != 5 {
		t.Fatalf("after creating orders-jp: error %d, assignment %+v, want 5 partitions", resp.ErrorCode, resp.Assignment)
	}
}

func memberOf(id string, topics ...string) *consumerMember {
	return &consumerMember{id: id, topics: topics, target: partSet{}, assigned: partSet{}}
}

func counts(out map[string]partSet, ms []*consumerMember) []int {
	var n []int
	for _, m := range ms {
		n = append(n, len(out[m.id]))
	}
	return n
}

// TestAssignUniform: balanced, sticky across a membership change, and
// balanced with different subscriptions.
func TestAssignUniform(t *testing.T) {
	topics := []topicMeta{{name: "a", partitions: 7}, {name: "b", partitions: 5}}
	ms := []*consumerMember{memberOf("m1", "a", "b"), memberOf("m2", "a", "b"), memberOf("m3", "a", "b")}
	out := assignUniform(ms, topics)
	if got := counts(out, ms); fmt.Sprint(got) != "[4 4 4]" {
		t.Fatalf("three members: counts %v, want [4 4 4]", got)
	}
	for _, m := range ms {
		m.target = out[m.id]
	}
	ms4 := append(ms, memberOf("m4", "a", "b"))
	out4 := assignUniform(ms4, topics)
	moved := 0
	for _, m := range ms {
		for tp := range m.target {
			if _, ok := out4[m.id][tp]; !ok {
				moved++
			}
		}
	}
	if got := counts(out4, ms4); fmt.Sprint(got) != "[3 3 3 3]" || moved != 3 {
		t.Fatalf("fourth member: counts %v, %d moved; want [3 3 3 3] and 3 moved", got, moved)
	}
	// m1 subscribes to a only, m2 to both: b goes to m2, a is shared so that
	// the two end up level.
	het := []*consumerMember{memberOf("m1", "a"), memberOf("m2", "a", "b")}
	outH := assignUniform(het, topics)
	if got := counts(outH, het); fmt.Sprint(got) != "[6 6]" {
		t.Fatalf("different subscriptions: counts %v, want [6 6]", got)
	}
	for tp := range outH["m1"] {
		if tp.topic != "a" {
			t.Fatalf("m1 got %v, which it does not subscribe to", tp)
		}
	}
}

// TestAssignRange: contiguous ranges, co-partitioned across topics.
func TestAssignRange(t *testing.T) {
	topics := []topicMeta{{name: "a", partitions: 5}, {name: "b", partitions: 5}}
	ms := []*consumerMember{memberOf("m2", "a", "b"), memberOf("m1", "a", "b")}
	out := assignRange(ms, topics)
	got := fmt.Sprint(out["m1"].sorted(), out["m2"].sorted())
	want := "[{a 0} {a 1} {a 2} {b 0} {b 1} {b 2}] [{a 3} {a 4} {b 3} {b 4}]"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
