package bench

import (
	"testing"
	"time"
)

func TestPacerPace(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		p        Pacer
		elapsed  time.Duration
		sent     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first record is due at once", Pacer{Rate: 1000}, 0, 0, 0, false},
		{"on schedule waits for the next slot", Pacer{Rate: 1000}, 0, 1, ms, false},
		{"mid-gap waits the rest", Pacer{Rate: 1000}, 1500 * time.Microsecond, 2, 500 * time.Microsecond, false},
		{"behind schedule sends at once", Pacer{Rate: 1000}, 50 * ms, 10, 0, false},
		{"far behind still does not skip", Pacer{Rate: 1000}, 2 * time.Second, 3, 0, false},
		{"exactly due", Pacer{Rate: 100}, 30 * ms, 3, 0, false},
		{"offset shifts the schedule", Pacer{Rate: 1000, Offset: 250 * time.Microsecond}, 0, 0, 250 * time.Microsecond, false},
		{"stops when the next slot is past the duration", Pacer{Rate: 1000, Duration: time.Second}, 999 * ms, 1000, 0, true},
		{"last slot inside the duration still goes", Pacer{Rate: 1000, Duration: time.Second}, 999 * ms, 999, 0, false},
		{"behind schedule at the end still sends what was due", Pacer{Rate: 1000, Duration: time.Second}, 1500 * ms, 500, 0, false},
		{"record budget stops", Pacer{Rate: 1000, Records: 10}, 0, 10, 0, true},
		{"record budget not reached", Pacer{Rate: 1000, Records: 10}, 9 * ms, 9, 0, false},
		{"unthrottled never waits", Pacer{}, 0, 1_000_000, 0, false},
		{"unthrottled stops at the duration", Pacer{Duration: time.Second}, time.Second, 5, 0, true},
		{"unthrottled runs before the duration", Pacer{Duration: time.Second}, 999 * ms, 5, 0, false},
		{"unthrottled stops at the budget", Pacer{Records: 5}, 0, 5, 0, true},
		{"fractional rate", Pacer{Rate: 3}, 0, 1, 333333333, false},
		{"high rate rounds to the nanosecond", Pacer{Rate: 3e6}, 0, 1, 333, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := tt.p.Pace(tt.elapsed, tt.sent)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Errorf("Pace(%v, %d) = (%v, %v), want (%v, %v)", tt.elapsed, tt.sent, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
}

func TestPacerIntended(t *testing.T) {
	p := Pacer{Rate: 20000}
	// No drift: record n is due exactly n/rate after the start, even far out.
	for _, n := range []uint64{0, 1, 7, 20000, 199999, 1 << 32} {
		want := time.Duration(float64(n) / 20000 * 1e9)
		if got := p.Intended(n); got != want {
			t.Errorf("Intended(%d) = %v, want %v", n, got, want)
		}
	}
	if got := (Pacer{}).Intended(5); got != -1 {
		t.Errorf("unthrottled Intended = %v, want -1", got)
	}
}

// TestPacerCount walks a pacer through a simulated clock: a constant-rate
// schedule over a duration yields rate × duration records, no more, no less.
func TestPacerCount(t *testing.T) {
	tests := []struct {
		p    Pacer
		want uint64
	}{
		{Pacer{Rate: 20000, Duration: 10 * time.Second}, 200000},
		{Pacer{Rate: 3, Duration: time.Second}, 3},
		{Pacer{Rate: 1000, Duration: time.Second, Records: 10}, 10},
		{Pacer{Rate: 7, Duration: 1500 * time.Millisecond}, 11},
	}
	for _, tt := range tests {
		var clock time.Duration
		var sent uint64
		for {
			wait, stop := tt.p.Pace(clock, sent)
			if stop {
				break
			}
			clock += wait
			sent++
			if sent > 10*tt.want+10 {
				t.Fatalf("%+v: runaway schedule", tt.p)
			}
		}
		if sent != tt.want {
			t.Errorf("%+v sent %d records, want %d", tt.p, sent, tt.want)
		}
	}
}

func TestPacerSplit(t *testing.T) {
	total := Pacer{Rate: 3000, Duration: time.Second, Records: 10}
	parts := total.Split(3)
	if len(parts) != 3 {
		t.Fatalf("got %d pacers, want 3", len(parts))
	}
	var records uint64
	var slots []time.Duration
	for _, p := range parts {
		if p.Rate != 1000 {
			t.Errorf("rate %v, want 1000", p.Rate)
		}
		records += p.Records
		for n := range p.Records {
			slots = append(slots, p.Intended(n))
		}
	}
	if records != 10 {
		t.Errorf("split records sum to %d, want 10", records)
	}
	// Merged, the producers' slots are the total schedule: k/3000 s apart.
	seen := map[time.Duration]bool{}
	for _, s := range slots {
		seen[s] = true
	}
	for k := range uint64(10) {
		if want := total.Intended(k); !seen[want] {
			t.Errorf("slot %v of the total schedule is missing from the split", want)
		}
	}
	if got := (Pacer{Records: 2}).Split(5); len(got) != 2 {
		t.Errorf("2 records over 5 producers gave %d pacers, want 2", len(got))
	}
	if got := (Pacer{Rate: 10}).Split(0); len(got) != 1 || got[0].Rate != 10 {
		t.Errorf("Split(0) = %+v, want one pacer at rate 10", got)
	}
}
