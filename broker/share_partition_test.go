package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kbench/kbench/broker/records"
)

// hdr is a header of a batch of n records at base.
func hdr(base int64, n int32, control bool) records.Header {
	h := records.Header{BaseOffset: base, LastOffsetDelta: n - 1}
	if control {
		h.Attributes = 0x20
	}
	return h
}

func TestSharePartitionStates(t *testing.T) {
	lim := shareLimits{lock: time.Second, deliveryLimit: 2, maxLocks: 10}
	t0 := time.Unix(1000, 0)
	sp := newSharePartition()
	sp.start(10)

	// Offsets 10-12 and 15-16 hold records; 13-14 were compacted away and
	// 17 is a transaction marker.
	got, n := sp.extend(hdr(10, 3, false), "a", -1, t0, lim, nil)
	got, k := sp.extend(hdr(15, 2, false), "a", 1, t0, lim, got)
	_, _ = sp.extend(hdr(17, 1, true), "a", -1, t0, lim, got)
	if n != 3 || k != 1 || len(got) != 2 || got[0].FirstOffset != 10 || got[0].LastOffset != 12 || got[1].FirstOffset != 15 || got[1].LastOffset != 15 {
		t.Fatalf("acquired %+v (%d, %d), want 10-12 and 15", got, n, k)
	}
	if sp.speo() != 18 {
		t.Fatalf("end offset %d, want 18", sp.speo())
	}

	for _, tc := range []struct {
		name   string
		member string
		acks   []shareAck
		code   error
	}{
		{"another member's record", "b", []shareAck{{10, 10, []int8{ackAccept}}}, kerr.InvalidRecordState},
		{"an available record", "a", []shareAck{{16, 16, []int8{ackAccept}}}, kerr.InvalidRecordState},
		{"an archived gap", "a", []shareAck{{13, 13, []int8{ackAccept}}}, kerr.InvalidRecordState},
		{"past the end", "a", []shareAck{{18, 18, []int8{ackAccept}}}, kerr.InvalidRecordState},
		{"one bad batch spoils all", "a", []shareAck{{10, 10, []int8{ackAccept}}, {16, 16, []int8{ackAccept}}}, kerr.InvalidRecordState},
	} {
		code, _ := sp.ack(tc.member, tc.acks, t0, lim)
		if err := kerr.ErrorForCode(code); err != tc.code {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.code)
		}
	}
	if sp.spso != 10 {
		t.Fatalf("a refused acknowledgement moved the start offset to %d", sp.spso)
	}

	// Accept 10, release 11, reject 12: the start moves past 10 only.
	code, released := sp.ack("a", []shareAck{{10, 12, []int8{ackAccept, ackRelease, ackReject}}}, t0, lim)
	if code != 0 || !released || sp.spso != 11 {
		t.Fatalf("ack: code %d released %v start %d, want 0 true 11", code, released, sp.spso)
	}
	// b takes 11 (second delivery) and 16; 15 is still a's.
	got, n = sp.acquireAvailable("b", 10, t0, lim, nil)
	if n != 2 || got[0].FirstOffset != 11 || got[0].DeliveryCount != 2 || got[1].FirstOffset != 16 || got[1].DeliveryCount != 1 {
		t.Fatalf("b acquired %+v, want 11 (delivery 2) and 16 (delivery 1)", got)
	}
	// a's lock on 15 runs out: available again; b's renewed lock on 16 does not.
	if code, _ := sp.ack("b", []shareAck{{16, 16, []int8{ackRenew}}}, t0.Add(900*time.Millisecond), lim); code != 0 {
		t.Fatalf("renew: %v", kerr.ErrorForCode(code))
	}
	if !sp.expire(t0.Add(time.Second), lim) {
		t.Fatal("no lock expired at the lock duration")
	}
	avail, acq := sp.inFlight()
	if avail != 1 || acq != 1 {
		t.Fatalf("after expiry: %d available, %d acquired, want 1 (15) and 1 (16)", avail, acq)
	}
	// 11 is at the delivery limit: released, it is archived, not offered again.
	sp.ack("b", []shareAck{{11, 11, []int8{ackRelease}}}, t0, lim)
	if sp.spso != 15 {
		t.Fatalf("start offset %d, want 15 (11 archived, 12 rejected, 13-14 gaps)", sp.spso)
	}
	// b's session closes: 16 goes back; a takes 15 and 16.
	if !sp.releaseMember("b", lim) {
		t.Fatal("closing b's session released nothing")
	}
	if _, n := sp.acquireAvailable("a", 10, t0, lim, nil); n != 2 {
		t.Fatalf("a acquired %d records, want 2", n)
	}
	sp.ack("a", []shareAck{{15, 16, []int8{ackAccept}}}, t0, lim)
	if sp.spso != 18 || len(sp.recs) != 0 {
		t.Fatalf("all done: start %d, %d in flight, want 18 and 0", sp.spso, len(sp.recs))
	}
	// Retention removed everything below 30.
	sp.truncateTo(30)
	if sp.spso != 30 {
		t.Fatalf("after retention: start %d, want 30", sp.spso)
	}
}

func TestShareAckShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		acks []shareAck
		ok   bool
	}{
		{"one type", []shareAck{{0, 3, []int8{1}}}, true},
		{"one type per offset", []shareAck{{0, 2, []int8{1, 2, 3}}}, true},
		{"ascending batches", []shareAck{{0, 1, []int8{1}}, {5, 6, []int8{3}}}, true},
		{"types do not match the range", []shareAck{{0, 2, []int8{1, 2}}}, false},
		{"no types", []shareAck{{0, 2, nil}}, false},
		{"last before first", []shareAck{{3, 2, []int8{1}}}, false},
		{"overlapping batches", []shareAck{{0, 3, []int8{1}}, {3, 4, []int8{1}}}, false},
		{"renew without IsRenewAck", []shareAck{{0, 0, []int8{4}}}, false},
		{"negative type", []shareAck{{0, 0, []int8{-1}}}, false},
	} {
		if got := validAcks(tc.acks, ackReject); got != tc.ok {
			t.Errorf("%s: valid %v, want %v", tc.name, got, tc.ok)
		}
	}
}
