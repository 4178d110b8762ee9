package bench

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func stamped(id uint64, intended time.Duration) *kgo.Record {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, id)
	binary.BigEndian.PutUint64(v[8:], uint64(intended))
	return &kgo.Record{Value: make([]byte, 10), Headers: []kgo.RecordHeader{{Key: StampHeader, Value: v}}}
}

// TestShareStamps: an agent times only its own records; the other agents'
// records count as consumed in the measured window by their send time,
// and foreign records (another run) by when they were read.
func TestShareStamps(t *testing.T) {
	const own, peer, foreign = 11, 22, 33
	r := &run{cfg: RunConfig{Mode: ModeE2E, Share: &Share{Stamp: own, Peers: []uint64{peer}}}, runID: own}
	warmup := time.Second
	for _, tc := range []struct {
		name            string
		rec             *kgo.Record
		now             time.Duration
		wantOurs, timed bool
		measured, e2e   int64
	}{
		{"own record after warmup", stamped(own, 2*time.Second), 2100 * time.Millisecond, true, true, 1, 1},
		{"own record sent in warmup", stamped(own, 900*time.Millisecond), 2 * time.Second, true, true, 0, 0},
		{"peer record after warmup", stamped(peer, 2*time.Second), 2100 * time.Millisecond, false, false, 1, 0},
		{"peer record sent in warmup, read after", stamped(peer, 900*time.Millisecond), 2 * time.Second, false, false, 0, 0},
		{"foreign record read after warmup", stamped(foreign, 100*time.Millisecond), 2 * time.Second, false, false, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			intended, ours, timed := r.stamp(tc.rec)
			if ours != tc.wantOurs || timed != tc.timed {
				t.Fatalf("got ours %v timed %v, want %v %v", ours, timed, tc.wantOurs, tc.timed)
			}
			m := newMeter(warmup)
			m.mu.Lock()
			m.consumed(intended, tc.now, 10, ours, timed)
			m.mu.Unlock()
			tot := newTally()
			m.total(tot)
			if tot.consumed != tc.measured || tot.e2e.TotalCount() != tc.e2e {
				t.Errorf("got %d measured, %d timed, want %d, %d", tot.consumed, tot.e2e.TotalCount(), tc.measured, tc.e2e)
			}
		})
	}
}

func TestShareOwnsPartitions(t *testing.T) {
	// Three agents' consumers 0..4 (2, 2, 1): the second agent has 2 and 3.
	r := &run{cfg: RunConfig{Consumers: 2, Share: &Share{FirstConsumer: 2, Consumers: 5}}, parts: 12}
	var got []int32
	for p := range int32(12) {
		if r.owns(p) {
			got = append(got, p)
		}
	}
	want := []int32{2, 3, 7, 8}
	if len(got) != len(want) {
		t.Fatalf("got partitions %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got partitions %v, want %v", got, want)
		}
	}
	if first, total, active := r.consumerSlots(""); first != 2 || total != 5 || active != 2 {
		t.Errorf("got slots %d %d %d, want 2 5 2", first, total, active)
	}
}

func TestShareStartsTogether(t *testing.T) {
	r := &run{cfg: RunConfig{Share: &Share{Start: time.Now().Add(150 * time.Millisecond)}}}
	began := time.Now()
	if late := r.waitStart(t.Context()); late != 0 {
		t.Errorf("got late %v, want 0 when the start lies ahead", late)
	}
	if waited := time.Since(began); waited < 140*time.Millisecond {
		t.Errorf("load began after %v, want it held until the common start", waited)
	}
	r.cfg.Share.Start = time.Now().Add(-time.Second)
	if late := r.waitStart(t.Context()); late < time.Second || late > 2*time.Second {
		t.Errorf("got late %v, want about 1 s", late)
	}
	res := &Result{Measured: 1, StartedLate: 1}
	res.judge()
	if res.Valid || !strings.Contains(strings.Join(res.Invalid, ";"), "after the common start time") {
		t.Errorf("a late agent's result: valid %v, reasons %q", res.Valid, res.Invalid)
	}
}
