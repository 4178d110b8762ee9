package selfbench

import (
	"strings"
	"testing"
)

// A ratio target is judged on the median of the per-round ratios pooled
// over its workloads, with that median's 95 % interval: met when the whole
// interval clears the target, not met when it is all below, within noise
// when it straddles it. The lowest workload is named.
func TestChecksJudgeThePooledMedian(t *testing.T) {
	w1 := Workload{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"}
	w4 := Workload{RecordSize: 100, Producers: 4, Acks: "1", Compression: "none"}
	ratio := func(vs ...float64) *Stat {
		st := summarize(vs)
		st.Values = vs
		return &st
	}
	tests := []struct {
		name   string
		a, b   *Stat
		status string
		got    string
	}{
		{"all above", ratio(0.90, 0.93, 0.97), ratio(0.88, 0.86, 0.91), Met,
			"median 0.905, 95 % interval 0.86-0.97 over 6 workload rounds (2 workloads); lowest workload 0.880 (100B p4 acks=1 none)"},
		{"all below", ratio(0.70, 0.72, 0.80), ratio(0.60, 0.81, 0.75), NotMet, "median 0.735, 95 % interval 0.60-0.81"},
		{"straddles", ratio(0.80, 0.93, 0.97), ratio(0.72, 0.86, 0.91), WithinNoise, "median 0.885, 95 % interval 0.72-0.97"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Settings: Settings{Config: Config{Workloads: []Workload{w1, w4}}}}
			r.Produce = []Summary{
				{Phase: PhaseProduce, Workload: w1.Name(), Target: KbenchRF1, VsCeiling: tt.a},
				{Phase: PhaseProduce, Workload: w4.Name(), Target: KbenchRF1, VsCeiling: tt.b},
			}
			var got *Check
			for _, c := range Checks(r) {
				if c.Name == "kbench RF=1 acks=1, 100B records, vs ceiling (records/s)" {
					got = &c
				}
			}
			if got == nil {
				t.Fatalf("no RF=1 100B check in %+v", Checks(r))
			}
			if got.Status != tt.status || !strings.HasPrefix(got.Got, tt.got) {
				t.Fatalf("got %q (%s), want %q... (%s)", got.Got, got.Status, tt.got, tt.status)
			}
		})
	}
}

// Invalid runs stay visible: counted per row with every kind of reason,
// CPU saturation included, and printed in the table; a latency target
// measured on an invalid run is not judged met.
func TestInvalidRunsAreShown(t *testing.T) {
	w := Workload{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"}
	sat := "the load generator's CPU was saturated: 1.97 of 2 cores busy"
	samples := []Sample{
		{Phase: PhaseProduce, Workload: w.Name(), Target: KbenchRF1, Round: 0, RecordsPerSec: 100, Invalid: []string{sat}},
		{Phase: PhaseProduce, Workload: w.Name(), Target: KbenchRF1, Round: 1, RecordsPerSec: 110},
		{Phase: PhaseProduce, Workload: w.Name(), Target: KbenchRF1, Round: 2, RecordsPerSec: 105, Invalid: []string{"the load generator's CPU was saturated: 1.99 of 2 cores busy"}},
	}
	sums := Summarize(samples, PhaseProduce)
	if len(sums) != 1 || sums[0].InvalidRuns != 2 || len(sums[0].Invalid) != 1 ||
		sums[0].Invalid[0] != "the load generator's CPU was saturated (2 of 3 runs)" {
		t.Fatalf("got %+v, want 2 invalid runs and one reason kind counted twice", sums)
	}
	r := &Report{Produce: sums, Latency: []Sample{{Phase: PhaseLatency, Workload: w.Name(), Target: KbenchRF3, TargetRate: 1000, RecordsPerSec: 900,
		P99Ms: 1.5, P999Ms: 3, Invalid: []string{"achieved 900 records/s is 90.0 % of the 1000 records/s target (below 99 %)"}}}}
	r.Checks = Checks(r)
	var table strings.Builder
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INVALID 2 of 3 runs", "CPU was saturated (2 of 3 runs)", "INVALID: achieved 900"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	for _, c := range r.Checks {
		if strings.Contains(c.Name, "p99") && c.Status != InvalidRun {
			t.Errorf("check %q on an invalid run: status %q, want %q", c.Name, c.Status, InvalidRun)
		}
	}
}

// Too few workload rounds for an interval: the verdict says so and stays
// undecided, whatever the median.
func TestChecksTooFewRounds(t *testing.T) {
	w := Workload{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"}
	st := summarize([]float64{0.95, 0.97})
	st.Values = []float64{0.95, 0.97}
	r := &Report{Settings: Settings{Config: Config{Workloads: []Workload{w}}}}
	r.Produce = []Summary{{Phase: PhaseProduce, Workload: w.Name(), Target: KbenchRF1, VsCeiling: &st}}
	for _, c := range Checks(r) {
		if c.Name == "kbench RF=1 acks=1, 100B records, vs ceiling (records/s)" {
			if c.Status != WithinNoise || !strings.Contains(c.Got, "no 95 % interval (6 or more workload rounds needed)") {
				t.Fatalf("got %q (%s), want within noise and no interval", c.Got, c.Status)
			}
			return
		}
	}
	t.Fatal("no RF=1 100B check")
}
