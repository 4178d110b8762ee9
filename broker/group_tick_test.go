package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests drive the coordinator's core with explicit times (join, tick)
// instead of the wall clock: the timing rules become exact assertions.

func newTickCoordinator(t *testing.T) *groupCoordinator {
	t.Helper()
	return &groupCoordinator{logf: t.Logf, offsets: newOffsetStore((&memJournal{}).append), set: defaultGroupSettings(), groups: map[string]*group{},
		topicID: func(string, int32) ([16]byte, bool) { return [16]byte{}, true }}
}

func tickJoin(c *groupCoordinator, member string, session, rebalance time.Duration, now time.Time) (kmsg.Response, <-chan kmsg.Response) {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 3
	r.Group, r.MemberID = "g", member
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = int32(session/time.Millisecond), int32(rebalance/time.Millisecond)
	r.ProtocolType, r.Protocols = "consumer", consumerProtocols("range", "t")
	return c.join(r, "cid", "/127.0.0.1", now)
}

func answered(ch <-chan kmsg.Response) *kmsg.JoinGroupResponse {
	select {
	case r := <-ch:
		return r.(*kmsg.JoinGroupResponse)
	default:
		return nil
	}
}

// Kafka's group.initial.rebalance.delay.ms: the first round of an empty group
// waits the delay, again while newcomers keep arriving, but never past the
// rebalance timeout.
func TestGroupTickInitialDelay(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

	t.Run("extends once per newcomer window", func(t *testing.T) {
		c := newTickCoordinator(t) // 3 s delay
		_, w1 := tickJoin(c, "", 30*time.Second, 10*time.Second, at(0))
		c.tick(at(1))
		_, w2 := tickJoin(c, "", 30*time.Second, 10*time.Second, at(1))
		for _, s := range []float64{2.9, 3.0, 5.9} {
			c.tick(at(s))
			if answered(w1) != nil || answered(w2) != nil {
				t.Fatalf("round ended at %.1f s, want 6 s (3 s delay extended once for the newcomer)", s)
			}
		}
		c.tick(at(6.0))
		r1, r2 := answered(w1), answered(w2)
		if r1 == nil || r2 == nil || r1.Generation != 1 || r2.Generation != 1 {
			t.Fatalf("round did not end at 6 s: %v %v", r1, r2)
		}
	})

	t.Run("capped by the rebalance timeout", func(t *testing.T) {
		c := newTickCoordinator(t)
		var waits []<-chan kmsg.Response
		_, w := tickJoin(c, "", 30*time.Second, 7*time.Second, at(0))
		waits = append(waits, w)
		for s := 1.0; s < 7; s += 2 { // a newcomer in every window
			_, w := tickJoin(c, "", 30*time.Second, 7*time.Second, at(s))
			waits = append(waits, w)
			c.tick(at(s + 0.5))
		}
		c.tick(at(6.9))
		if answered(waits[0]) != nil {
			t.Fatalf("round ended before the 7 s rebalance timeout")
		}
		c.tick(at(7.0))
		for i, w := range waits {
			if r := answered(w); r == nil || r.ErrorCode != 0 {
				t.Fatalf("member %d not answered at the 7 s cap: %v", i, r)
			}
		}
	})
}

func TestGroupTickSessionExpiry(t *testing.T) {
	c := newTickCoordinator(t)
	c.set.initialDelay = 0
	t0 := time.Unix(1000, 0)
	_, w := tickJoin(c, "", 6*time.Second, 10*time.Second, t0)
	r := answered(w)
	if r == nil {
		t.Fatal("a lone member's first join did not end the round")
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", r.MemberID, r.Generation
	if resp, _ := c.sync(sync, t0.Add(time.Second)); resp != nil {
		t.Fatalf("leader sync answered directly: %+v", resp)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g", r.MemberID, r.Generation
	wantCode(t, "heartbeat at 5 s", c.heartbeat(hb, t0.Add(5*time.Second)).ErrorCode, nil)
	c.tick(t0.Add(10900 * time.Millisecond)) // 5.9 s after the heartbeat
	wantCode(t, "heartbeat at 10.95 s", c.heartbeat(hb, t0.Add(10950*time.Millisecond)).ErrorCode, nil)
	c.tick(t0.Add(16951 * time.Millisecond)) // 6.001 s after the last heartbeat
	wantCode(t, "heartbeat after expiry", c.heartbeat(hb, t0.Add(17*time.Second)).ErrorCode, kerr.UnknownMemberID)
	if g := c.groups["g"]; g.state != groupEmpty || g.generation != 2 {
		t.Fatalf("after the only member expired: %s generation %d, want Empty generation 2", g.state, g.generation)
	}
}
