package measure

import (
	"testing"
	"time"
)

const ms = time.Millisecond

// steady: partitions 0,1 owned by member 0, partition 2 by member 1, each
// having delivered offsets up to 9.
func steady() state {
	s := newState(3)
	for _, e := range []entry{
		{0, assigned, 0, 0, 0, 0}, {0, assigned, 0, 1, 0, 0}, {0, assigned, 1, 2, 0, 0},
		{ms, delivered, 0, 0, 0, 9}, {ms, delivered, 0, 1, 0, 9}, {ms, delivered, 1, 2, 0, 9},
	} {
		s.apply(e)
	}
	return s
}

func TestCheckJoinCooperative(t *testing.T) {
	at := 100 * ms
	// Member 2 joins; partition 1 moves from 0 to 2 after 0 revoked it.
	// Partitions 0 and 2 keep delivering. Member 2 starts from offset 8,
	// the last commit, so offsets 8 and 9 are delivered again.
	h := []entry{
		{110 * ms, delivered, 0, 0, 10, 10},
		{120 * ms, delivered, 1, 2, 10, 10},
		{300 * ms, revoked, 0, 1, 0, 0},
		{500 * ms, assigned, 2, 1, 0, 0},
		{650 * ms, delivered, 2, 1, 8, 12},
		{700 * ms, delivered, 0, 0, 14, 15}, // 11..13 skipped
	}
	o := check(steady(), h, at)
	if !o.Done || o.Rebalance != 550*ms || o.Moved != 1 || o.LastChange != 500*ms {
		t.Fatalf("got %+v, want done, 550ms, 1 moved, last change at 500ms", o)
	}
}

func TestCheckNotDone(t *testing.T) {
	at := 100 * ms
	for name, h := range map[string][]entry{
		"unowned after revoke": {{110 * ms, delivered, 0, 0, 10, 10}, {120 * ms, delivered, 1, 2, 10, 10}, {300 * ms, revoked, 0, 1, 0, 0}},
		// Eager: everything revoked and reassigned; partition 0's delivery
		// before its reassignment does not count.
		"delivered only before reassignment": {
			{110 * ms, delivered, 0, 0, 10, 10}, {120 * ms, delivered, 1, 2, 10, 10}, {130 * ms, delivered, 0, 1, 10, 10},
			{200 * ms, revoked, 0, 0, 0, 0}, {400 * ms, assigned, 0, 0, 0, 0},
		},
		// A crashed member keeps "owning" in its own view; the partition
		// is done only when someone else delivers it.
		"crashed owner": {{110 * ms, delivered, 0, 0, 10, 10}, {120 * ms, delivered, 1, 2, 10, 10}, {130 * ms, delivered, 0, 1, 10, 10}, {200 * ms, assigned, 1, 1, 0, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			if o := check(steady(), h, at); o.Done {
				t.Fatalf("got done (%+v), want not done", o)
			}
		})
	}
}

func TestCheckUntouchedGroup(t *testing.T) {
	// Nothing moves: the rebalance time is the time to the slowest
	// partition's next delivery, nothing moved or delivered twice.
	h := []entry{{110 * ms, delivered, 0, 0, 10, 10}, {130 * ms, delivered, 0, 1, 10, 11}, {120 * ms, delivered, 1, 2, 10, 10}}
	o := check(steady(), h, 100*ms)
	if !o.Done || o.Rebalance != 30*ms || o.Moved != 0 || o.Again != 0 {
		t.Fatalf("got %+v, want done at 30ms, nothing moved or again", o)
	}
}

func TestRedelivery(t *testing.T) {
	at := 100 * ms
	h := []entry{
		{ms, delivered, 0, 0, 0, 9},
		{2 * ms, delivered, 1, 0, 5, 7}, // before the event: 3 again
		{ms, delivered, 0, 1, 0, 9},
		// After: the new owner of partition 1 re-reads 8..12 (2 again),
		// recorded before the old owner's 10..11 (2 more again, whatever
		// the arrival order); partition 0 jumps from 9 to 14 (4 skipped).
		{650 * ms, delivered, 2, 1, 8, 12},
		{660 * ms, delivered, 0, 1, 10, 11},
		{700 * ms, delivered, 0, 0, 14, 15},
	}
	if again, skipped := redelivery(h, at, 2); again != 4 || skipped != 4 {
		t.Fatalf("got %d again, %d skipped; want 4 and 4", again, skipped)
	}
	// Without the event's entries nothing is counted.
	if again, skipped := redelivery(h[:3], at, 2); again != 0 || skipped != 0 {
		t.Fatalf("before only: got %d again, %d skipped; want 0 and 0", again, skipped)
	}
}
