package selftest

import (
	"strings"
	"testing"
)

// TestChecksDescribeTheLowestWorkload: a ratio target names its lowest
// workload with the rounds' range and how many workloads fall short, and is
// judged on the median alone.
func TestChecksDescribeTheLowestWorkload(t *testing.T) {
	w1 := Workload{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"}
	w4 := Workload{RecordSize: 100, Producers: 4, Acks: "1", Compression: "none"}
	r := &Report{Settings: Settings{Config: Config{Workloads: []Workload{w1, w4}}}}
	r.Produce = []Summary{
		{Phase: PhaseProduce, Workload: w1.Name(), Target: KbenchRF1, VsCeiling: &Stat{Median: 0.93, Min: 0.90, Max: 0.97, N: 3}},
		{Phase: PhaseProduce, Workload: w4.Name(), Target: KbenchRF1, VsCeiling: &Stat{Median: 0.81, Min: 0.72, Max: 0.86, N: 3}},
	}
	var got *Check
	for _, c := range Checks(r) {
		if strings.HasPrefix(c.Name, "kbench RF=1 acks=1, 100B") {
			got = &c
		}
	}
	if got == nil {
		t.Fatalf("no RF=1 100B check in %+v", Checks(r))
	}
	want := "lowest 0.810 (100B p4 acks=1 none; rounds 0.72-0.86), 1 of 2 workloads below"
	if got.Got != want || got.Status != NotMet {
		t.Fatalf("check: %q (%s), want %q (%s)", got.Got, got.Status, want, NotMet)
	}

	r.Produce[1].VsCeiling = &Stat{Median: 0.88, Min: 0.84, Max: 0.91, N: 3}
	for _, c := range Checks(r) {
		if strings.HasPrefix(c.Name, "kbench RF=1 acks=1, 100B") && (c.Status != Met || c.Got != "lowest 0.880 (100B p4 acks=1 none; rounds 0.84-0.91)") {
			t.Fatalf("all above the target: %q (%s)", c.Got, c.Status)
		}
	}
}
