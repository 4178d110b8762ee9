package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stableTwo builds a Stable group of a (leader, static "a" when static) and
// b, with assignments "pa"/"pb".
func stableTwo(t *testing.T, b *Broker, group string, static bool) (*rawMember, *rawMember) {
	t.Helper()
	a := newRawMember(t, b, group)
	if static {
		a.instance = strp("a")
	}
	if resp := a.join(); resp.LeaderID != a.id || resp.Generation != 1 || len(resp.Members) != 1 {
		t.Fatalf("first join: leader %q gen %d members %d, want self, 1, 1", resp.LeaderID, resp.Generation, len(resp.Members))
	}
	if r := a.sync(map[string]string{a.id: "solo"}); r.ErrorCode != 0 || string(r.MemberAssignment) != "solo" {
		t.Fatalf("leader sync: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
	}
	m := newRawMember(t, b, group)
	m.startJoin()
	if resp := m.finishJoin(); resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		t.Fatalf("v5 join without id: got %v id %q, want MEMBER_ID_REQUIRED with an id", kerr.ErrorForCode(resp.ErrorCode), resp.MemberID)
	}
	wantCode(t, "heartbeat before the newcomer rejoins", a.heartbeat(), nil)
	m.startJoin()
	awaitRebalance(t, a)
	m.stillParked(100 * time.Millisecond) // waits for a to rejoin
	a.startJoin()
	ra, rm := a.finishJoin(), m.finishJoin()
	if ra.ErrorCode != 0 || rm.ErrorCode != 0 || ra.Generation != 2 || rm.Generation != 2 {
		t.Fatalf("second round: %v/%v gen %d/%d", kerr.ErrorForCode(ra.ErrorCode), kerr.ErrorForCode(rm.ErrorCode), ra.Generation, rm.Generation)
	}
	if ra.LeaderID != a.id || len(ra.Members) != 2 || len(rm.Members) != 0 {
		t.Fatalf("leader %q (want %q) with %d members; follower sees %d members", ra.LeaderID, a.id, len(ra.Members), len(rm.Members))
	}
	m.send(m.syncRequest(nil))
	m.stillParked(100 * time.Millisecond) // followers wait for the leader's assignment
	if r := a.sync(map[string]string{a.id: "pa", m.id: "pb", "stranger": "x"}); r.ErrorCode != 0 || string(r.MemberAssignment) != "pa" {
		t.Fatalf("leader sync: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
	}
	if r := m.recv().(*kmsg.SyncGroupResponse); r.ErrorCode != 0 || string(r.MemberAssignment) != "pb" {
		t.Fatalf("follower sync: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
	}
	return a, m
}

// awaitRebalance heartbeats m until the broker reports a join round.
func awaitRebalance(t *testing.T, m *rawMember) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code := m.heartbeat()
		if code == kerr.RebalanceInProgress.Code {
			return
		}
		if code != 0 || time.Now().After(deadline) {
			t.Fatalf("waiting for a rebalance, heartbeat got %v", kerr.ErrorForCode(code))
		}
	}
}

// rejoinBoth has leader a open a round and m join it, in that order.
func rejoinBoth(t *testing.T, a, m *rawMember) {
	t.Helper()
	a.startJoin()
	awaitRebalance(t, m)
	m.startJoin()
	ra, rm := a.finishJoin(), m.finishJoin()
	if ra.ErrorCode != 0 || rm.ErrorCode != 0 || ra.Generation != rm.Generation {
		t.Fatalf("rejoin: %v/%v generations %d/%d", kerr.ErrorForCode(ra.ErrorCode), kerr.ErrorForCode(rm.ErrorCode), ra.Generation, rm.Generation)
	}
}

func TestGroupJoinSyncErrors(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a, m := stableTwo(t, b, "errs", false)

	t.Run("join validation", func(t *testing.T) {
		x := newRawMember(t, b, "errs")
		cases := []struct {
			name string
			mod  func(*kmsg.JoinGroupRequest)
			want *kerr.Error
		}{
			{"empty group id", func(r *kmsg.JoinGroupRequest) { r.Group = "" }, kerr.InvalidGroupID},
			{"session below min", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 10 }, kerr.InvalidSessionTimeout},
			{"session above max", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 1 << 30 }, kerr.InvalidSessionTimeout},
			{"negative rebalance timeout", func(r *kmsg.JoinGroupRequest) { r.RebalanceTimeoutMillis = -5 }, kerr.InvalidRequest},
			{"no protocols", func(r *kmsg.JoinGroupRequest) { r.Protocols = nil }, kerr.InconsistentGroupProtocol},
			{"no protocol type", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "" }, kerr.InconsistentGroupProtocol},
			{"other protocol type", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }, kerr.InconsistentGroupProtocol},
			{"no common protocol", func(r *kmsg.JoinGroupRequest) { r.Protocols = consumerProtocols("roundrobin", "t") }, kerr.InconsistentGroupProtocol},
			{"unknown member id", func(r *kmsg.JoinGroupRequest) { r.MemberID = "ghost" }, kerr.UnknownMemberID},
			{"member id for a group that does not exist", func(r *kmsg.JoinGroupRequest) { r.Group, r.MemberID = "nogroup", "ghost" }, kerr.UnknownMemberID},
			{"empty instance id", func(r *kmsg.JoinGroupRequest) { r.InstanceID = strp("") }, kerr.InvalidRequest},
		}
		for _, tc := range cases {
			r := x.joinRequest()
			tc.mod(r)
			got := x.do(r).(*kmsg.JoinGroupResponse)
			wantCode(t, tc.name, got.ErrorCode, tc.want)
			if got.Generation != -1 {
				t.Errorf("%s: generation %d in an error answer, want -1", tc.name, got.Generation)
			}
		}
	})

	t.Run("member id required only from v4", func(t *testing.T) {
		x := newRawMember(t, b, "v3-group")
		x.version = 3
		resp := x.do(x.joinRequest()).(*kmsg.JoinGroupResponse)
		if resp.ErrorCode != 0 || resp.MemberID == "" || resp.Generation != 1 {
			t.Fatalf("v3 join: %v id %q gen %d, want a member of generation 1", kerr.ErrorForCode(resp.ErrorCode), resp.MemberID, resp.Generation)
		}
		y := newRawMember(t, b, "v4-group")
		y.version = 4
		resp = y.do(y.joinRequest()).(*kmsg.JoinGroupResponse)
		wantCode(t, "v4 join without member id", resp.ErrorCode, kerr.MemberIDRequired)
		if d := describeGroup(t, b, "v4-group"); len(d.Members) != 0 {
			t.Fatalf("MEMBER_ID_REQUIRED left %d members behind, want 0", len(d.Members))
		}
	})

	t.Run("heartbeat sync commit on a stable group", func(t *testing.T) {
		stale := *a
		stale.gen = a.gen - 1
		wantCode(t, "heartbeat with old generation", stale.heartbeat(), kerr.IllegalGeneration)
		wantCode(t, "sync with old generation", stale.sync(nil).ErrorCode, kerr.IllegalGeneration)
		ghost := *a
		ghost.id = "ghost"
		wantCode(t, "heartbeat unknown member", ghost.heartbeat(), kerr.UnknownMemberID)
		wantCode(t, "sync unknown member", ghost.sync(nil).ErrorCode, kerr.UnknownMemberID)
		nogroup := *a
		nogroup.group = "never-created"
		wantCode(t, "heartbeat unknown group", nogroup.heartbeat(), kerr.UnknownMemberID)
		wantCode(t, "sync unknown group", nogroup.sync(nil).ErrorCode, kerr.UnknownMemberID)
		wantCode(t, "follower heartbeat", m.heartbeat(), nil)
		// A follower re-sync in Stable gets its assignment again.
		if r := m.sync(nil); r.ErrorCode != 0 || string(r.MemberAssignment) != "pb" {
			t.Fatalf("stable re-sync: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
		}
	})

	t.Run("commits", func(t *testing.T) {
		ctx := testCtx(t, 10*time.Second)
		createTopic(ctx, t, b, "t", 2)
		wantCode(t, "member commit", a.commit("t", 0, 7), nil)
		stale := *a
		stale.gen = a.gen - 1
		wantCode(t, "old generation", stale.commit("t", 0, 5), kerr.IllegalGeneration)
		ghost := *a
		ghost.id = "ghost"
		wantCode(t, "unknown member", ghost.commit("t", 0, 5), kerr.UnknownMemberID)
		simple := *a
		simple.id, simple.gen = "", -1
		wantCode(t, "simple commit into a live group", simple.commit("t", 0, 5), kerr.UnknownMemberID)
		wantCode(t, "unknown partition", a.commit("t", 9, 5), kerr.UnknownTopicOrPartition)
		nogroup := *a
		nogroup.group = "gone"
		wantCode(t, "generation for a group that does not exist", nogroup.commit("t", 0, 5), kerr.IllegalGeneration)
		simple.group = "manual"
		wantCode(t, "simple commit creates an empty group", simple.commit("t", 1, 11), nil)
		if d := describeGroup(t, b, "manual"); d.State != "Empty" || d.ProtocolType != "" {
			t.Fatalf("manual group: state %q type %q, want Empty and no protocol type", d.State, d.ProtocolType)
		}
		if got := b.groups.fetch("errs", topicPartition{"t", 0}, false); got.offset != 7 {
			t.Fatalf("committed offset: got %d, want 7", got.offset)
		}
	})

	t.Run("rebalance in progress", func(t *testing.T) {
		// a (the leader) rejoins: a new round opens until m rejoins too.
		a.startJoin()
		awaitRebalance(t, m)
		a.stillParked(100 * time.Millisecond)
		wantCode(t, "follower sync", m.sync(nil).ErrorCode, kerr.RebalanceInProgress)
		wantCode(t, "follower commit while revoking", m.commit("t", 1, 3), nil)
		m.startJoin()
		ra, rm := a.finishJoin(), m.finishJoin()
		if ra.Generation != 3 || rm.Generation != 3 {
			t.Fatalf("generations %d/%d, want 3", ra.Generation, rm.Generation)
		}
		wantCode(t, "commit before the leader's assignment", m.commit("t", 1, 4), kerr.RebalanceInProgress)
		wantCode(t, "heartbeat while completing", m.heartbeat(), nil)
	})
}

func TestGroupStaticRejoinWithoutRebalance(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a, m := stableTwo(t, b, "static", true)
	oldID, gen := a.id, a.gen

	// a restarts: a new connection, no member id, same instance id and subscription.
	a2 := newRawMember(t, b, "static")
	a2.instance = strp("a")
	resp := a2.do(a2.joinRequest()).(*kmsg.JoinGroupResponse)
	wantCode(t, "static rejoin", resp.ErrorCode, nil)
	if resp.MemberID == oldID || resp.MemberID == "" {
		t.Fatalf("static rejoin kept member id %q, want a new one", resp.MemberID)
	}
	if resp.Generation != gen || resp.LeaderID != oldID || len(resp.Members) != 0 {
		t.Fatalf("static rejoin: gen %d leader %q members %d, want gen %d, old leader id, none (no reassignment)", resp.Generation, resp.LeaderID, len(resp.Members), gen)
	}
	a2.id, a2.gen = resp.MemberID, resp.Generation
	if r := a2.sync(nil); r.ErrorCode != 0 || string(r.MemberAssignment) != "pa" {
		t.Fatalf("rejoined member's sync: %v %q, want its old assignment", kerr.ErrorForCode(r.ErrorCode), r.MemberAssignment)
	}
	wantCode(t, "other member's heartbeat (no rebalance)", m.heartbeat(), nil)
	if d := describeGroup(t, b, "static"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("after static rejoin: %s with %d members, want Stable with 2", d.State, len(d.Members))
	}

	// The old incarnation is fenced.
	wantCode(t, "old member heartbeat", a.heartbeat(), kerr.FencedInstanceID)
	wantCode(t, "old member commit", a.commit("t", 0, 1), kerr.FencedInstanceID)
	wantCode(t, "old member sync", a.sync(nil).ErrorCode, kerr.FencedInstanceID)
	wantCode(t, "old member join", a.do(a.joinRequest()).(*kmsg.JoinGroupResponse).ErrorCode, kerr.FencedInstanceID)
	noInst := *a
	noInst.instance = nil
	wantCode(t, "old member id without instance", noInst.heartbeat(), kerr.UnknownMemberID)

	// Restarting with another subscription does rebalance.
	a3 := newRawMember(t, b, "static")
	a3.instance = strp("a")
	a3.protocols = consumerProtocols("range", "t", "u")
	a3.startJoin()
	awaitRebalance(t, m)
	a3.stillParked(100 * time.Millisecond)
	wantCode(t, "replaced member heartbeat", a2.heartbeat(), kerr.FencedInstanceID)
	m.startJoin()
	r3, rm := a3.finishJoin(), m.finishJoin()
	if r3.ErrorCode != 0 || rm.ErrorCode != 0 || r3.Generation != gen+1 || r3.LeaderID != a3.id {
		t.Fatalf("rebalance after changed subscription: %v/%v gen %d leader %q, want gen %d led by the static member %q",
			kerr.ErrorForCode(r3.ErrorCode), kerr.ErrorForCode(rm.ErrorCode), r3.Generation, r3.LeaderID, gen+1, a3.id)
	}

	// LeaveGroup v3 by instance id removes the static member.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 3
	lr.Group = "static"
	lr.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: strp("a")}, {InstanceID: strp("nobody")}, {MemberID: "ghost"}, {MemberID: "wrong", InstanceID: strp("a")}}
	resp2 := newRawMember(t, b, "static").do(lr).(*kmsg.LeaveGroupResponse)
	want := []*kerr.Error{nil, kerr.UnknownMemberID, kerr.UnknownMemberID, kerr.UnknownMemberID}
	for i, w := range want {
		wantCode(t, "leave member "+string(rune('0'+i)), resp2.Members[i].ErrorCode, w)
	}
	wantCode(t, "survivor heartbeat after the leave", m.heartbeat(), kerr.RebalanceInProgress)
}

func TestGroupSessionTimeoutEvicts(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a, m := stableTwo(t, b, "expiry", false)
	_ = a
	// m keeps heartbeating with a 1 s session; a (10 s session) goes quiet.
	// Shorten a's session by rejoining it with 1 s.
	m.session, a.session = 1000, 1000
	rejoinBoth(t, a, m)
	a.sync(map[string]string{a.id: "pa", m.id: "pb"})
	m.sync(nil)
	start := time.Now()
	var code int16
	for time.Since(start) < 5*time.Second {
		if code = m.heartbeat(); code != 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantCode(t, "survivor heartbeat after the other's session expired", code, kerr.RebalanceInProgress)
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("member evicted after %v, before its 1 s session timeout", el)
	}
	resp := m.join()
	if resp.LeaderID != m.id || len(resp.Members) != 1 {
		t.Fatalf("after eviction: leader %q with %d members, want the survivor alone", resp.LeaderID, len(resp.Members))
	}
	wantCode(t, "evicted member heartbeat", a.heartbeat(), kerr.UnknownMemberID)
	t.Logf("member evicted %v after its last request (session timeout 1 s)", time.Since(start).Round(10*time.Millisecond))
}

func TestGroupRebalanceTimeoutBoundsJoin(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a, m := stableTwo(t, b, "laggard", false)
	a.rebalance, m.rebalance = 800, 800
	// Let both rejoin once so the group knows their 800 ms rebalance timeouts.
	rejoinBoth(t, a, m)
	a.sync(map[string]string{a.id: "pa", m.id: "pb"})
	m.sync(nil)

	// a rejoins; m keeps heartbeating (alive) but never rejoins.
	start := time.Now()
	a.startJoin()
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- a.finishJoin() }()
	for {
		select {
		case resp := <-done:
			el := time.Since(start)
			if resp.ErrorCode != 0 || len(resp.Members) != 1 || resp.LeaderID != a.id {
				t.Fatalf("round end: %v with %d members, want a alone", kerr.ErrorForCode(resp.ErrorCode), len(resp.Members))
			}
			if el < 700*time.Millisecond || el > 3*time.Second {
				t.Fatalf("join round ended after %v, want about the 800 ms rebalance timeout", el)
			}
			wantCode(t, "laggard heartbeat", m.heartbeat(), kerr.UnknownMemberID)
			return
		case <-time.After(100 * time.Millisecond):
			if code := m.heartbeat(); code != kerr.RebalanceInProgress.Code && code != kerr.UnknownMemberID.Code {
				t.Fatalf("laggard heartbeat during the round: %v", kerr.ErrorForCode(code))
			}
		}
	}
}

func TestGroupSyncTimeoutRemovesSilentLeader(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	a, m := stableTwo(t, b, "silent", false)
	a.rebalance, m.rebalance = 600, 600
	rejoinBoth(t, a, m)
	// The leader never syncs; the follower's sync must not hang forever.
	start := time.Now()
	r := m.sync(nil)
	wantCode(t, "follower sync when the leader never assigns", r.ErrorCode, kerr.RebalanceInProgress)
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("follower waited %v", el)
	}
	resp := m.join()
	if resp.LeaderID != m.id || len(resp.Members) != 1 {
		t.Fatalf("after the silent leader's removal: leader %q, %d members; want the follower alone", resp.LeaderID, len(resp.Members))
	}
}

func TestGroupProtocolSelection(t *testing.T) {
	b := startBroker(t)
	fastGroups(b)
	proto := func(names ...string) []kmsg.JoinGroupRequestProtocol {
		var ps []kmsg.JoinGroupRequestProtocol
		for _, n := range names {
			ps = append(ps, consumerProtocols(n, "t")...)
		}
		return ps
	}
	cases := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"single", [][]string{{"range", "roundrobin"}}, "range"},
		{"only common one", [][]string{{"range", "sticky"}, {"sticky", "roundrobin"}}, "sticky"},
		{"majority preference", [][]string{{"range", "sticky"}, {"sticky", "range"}, {"sticky", "range"}}, "sticky"},
		{"tie goes to the first member", [][]string{{"roundrobin", "range"}, {"range", "roundrobin"}}, "roundrobin"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			group := "sel-" + string(rune('a'+i))
			var ms []*rawMember
			for _, names := range tc.members {
				x := newRawMember(t, b, group)
				x.version = 3 // no MEMBER_ID_REQUIRED round trip
				x.protocols = proto(names...)
				ms = append(ms, x)
			}
			// The first member makes a group of one; the rest join one round.
			ms[0].join()
			ms[0].sync(nil)
			for _, x := range ms[1:] {
				x.startJoin()
			}
			// Newcomers are members (parked) once the broker has read them.
			for deadline := time.Now().Add(5 * time.Second); len(describeGroup(t, b, group).Members) < len(ms); {
				if time.Now().After(deadline) {
					t.Fatalf("newcomers never joined")
				}
				time.Sleep(10 * time.Millisecond)
			}
			ms[0].startJoin()
			for _, x := range ms {
				resp := x.finishJoin()
				if resp.ErrorCode != 0 || resp.Protocol == nil || *resp.Protocol != tc.want {
					t.Fatalf("member got %v protocol %v, want %q", kerr.ErrorForCode(resp.ErrorCode), resp.Protocol, tc.want)
				}
			}
		})
	}
}
