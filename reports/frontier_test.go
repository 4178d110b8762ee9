package reports

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

// TestFrontierGolden: the frontier chart's data and its reading for a real
// quick-profile run (see testdata/README.md), against
// testdata/frontier.golden.json.
func TestFrontierGolden(t *testing.T) {
	run, err := LoadRun(frontierRun)
	if err != nil {
		t.Fatal(err)
	}
	levels := frontierOutcomes(run.Points, run.Manifest.Profile.Frontier)
	if len(levels) < 3 {
		t.Fatalf("%d levels, want the quick profile's 3", len(levels))
	}
	got, err := json.MarshalIndent(struct {
		Levels  []LevelOutcome `json:"levels"`
		Reading []string       `json:"reading"`
	}{levels, frontierReading(levels)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "frontier.golden.json", append(got, '\n'))
	if f, _ := durabilityFrontierChart(levels); f == nil {
		t.Fatal("no frontier chart")
	} else if _, _, err := f.save(t.TempDir(), "frontier"); err != nil {
		t.Fatal(err)
	}
}

// frontierPoint is a finished frontier point: capacity figures, a steady
// run and one fault run with the given outcome.
func frontierPoint(id, acks string, rf, minISR int, mib, steadyP99 float64, lost, refused int64) *Point {
	line := &sweep.Line{Status: sweep.PointDone, Valid: true, SLO: sweep.Verdict{Pass: true},
		Figures: map[string]sweep.Stat{
			"produce_mib_per_sec":            {N: 1, Median: mib},
			"max_sustainable_achieved":       {N: 1, Median: mib * 1024},
			"steady_response_p50_ms":         {N: 1, Median: steadyP99 / 4},
			"steady_response_p99_ms":         {N: 1, Median: steadyP99},
			"steady_produce_records_per_sec": {N: 1, Median: 2000},
		},
		Runs: []sweep.RunSummary{
			{Name: "r1-probe01", Phase: sweep.PhaseCapacity, Valid: true, Counted: true, Figures: map[string]float64{"produce_mib_per_sec": mib, "response_p99_ms": 10}},
			{Name: "r1-steady", Phase: sweep.PhaseSteady, Valid: true, Figures: map[string]float64{"produce_mib_per_sec": 2, "response_p99_ms": steadyP99}},
			// The fault's own latency: seconds.
			{Name: "r1-fault1", Phase: sweep.PhaseFault, Scenario: "lag then kill", Valid: true, Figures: map[string]float64{"produce_mib_per_sec": 1.5, "response_p99_ms": 2100}},
		},
		Outcomes: []sweep.Outcome{{Scenario: "lag then kill", Run: "r1-fault1", Rate: 2000, Acknowledged: 5000 - refused, Lost: lost, Refused: refused, Unavailability: 1.5}},
	}
	return &Point{Def: profiles.Point{ID: id}, Line: line, Set: Settings{Acks: acks, RF: rf, MinISR: minISR}}
}

func TestFrontierOutcomes(t *testing.T) {
	f := &profiles.Frontier{Rate: 2000, Scenarios: []profiles.Scenario{{Name: "lag then kill", Faults: faults.Schedule{
		{Kind: faults.Delay, Broker: 1, Delay: 300e6}, {At: 1e9, Kind: faults.KillLeader}}}}}
	pts := []*Point{
		frontierPoint("p1", "1", 1, 1, 60, 5, 0, 20),
		frontierPoint("p2", "1", 3, 1, 30, 8, 161, 0),
		frontierPoint("p3", "all", 3, 2, 20, 12, 0, 0),
		frontierPoint("p4", "all", 3, 1, 10, 14, 0, 0), // slower than p3, no safer: off the front
	}
	levels := frontierOutcomes(pts, f)
	var names []string
	for _, l := range levels {
		if l.Front {
			names = append(names, l.Level)
		}
		// The fault run's 2100 ms never reaches the steady figures.
		if l.SteadyP99 >= 2100 || l.SteadyP99 == 0 {
			t.Errorf("%s: steady p99 %g", l.Level, l.SteadyP99)
		}
	}
	if want := []string{"acks=1 RF=1 min.insync=1"}; !slices.Equal(names, want) {
		t.Errorf("front %v, want %v (60 MiB/s and nothing lost beats every other level)", names, want)
	}
	p2 := levels[slices.IndexFunc(levels, func(l LevelOutcome) bool { return l.Point == "p2" })]
	if p2.Lost != 161 || p2.LostPerFault != 161 || p2.LagMs != 300 || p2.WorstScenario != "lag then kill" {
		t.Errorf("p2: %+v", p2)
	}
	reading := strings.Join(frontierReading(levels), "\n")
	for _, want := range []string{
		"acks=1 RF=1 min.insync=1 is the fastest level (60.00 MiB/s sustained) and lost nothing in 1 fault run(s); 20 records were refused",
		"acks=1 RF=3 min.insync=1 costs 50 % of throughput (30.00 against 60.00 MiB/s) and lost 161 acknowledged records in a 300 ms replication lag (lag then kill)",
		"acks=all RF=3 min.insync=2 costs 67 % of throughput (20.00 against 60.00 MiB/s) and lost nothing in 1 fault run(s)",
	} {
		if !strings.Contains(reading, want) {
			t.Errorf("reading lacks %q:\n%s", want, reading)
		}
	}
	// The throughput-latency chart's dots leave the fault run out too.
	for _, d := range frontierDots(pts, "acks=1 RF=3 min.insync=1") {
		if d.p99 >= 2100 {
			t.Errorf("fault run on the throughput-latency chart: %+v", d)
		}
	}
}

func TestParetoFrontIndices(t *testing.T) {
	x := []float64{10, 20, 15, 40, 5, 20}
	y := []float64{-2, -3, -5, -30, -2, -3} // minimise: negated
	got := paretoFront(len(x), func(i int) float64 { return x[i] }, func(i int) float64 { return y[i] })
	if want := []int{0, 1, 5, 3}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v (ties on both kept, dominated dropped, by x)", got, want)
	}
}

// TestPlanUsesMeasuredLoss: kbench plan's acks and min.insync.replicas
// recommendations carry what the frontier measured.
func TestPlanUsesMeasuredLoss(t *testing.T) {
	levels := []LevelOutcome{
		{Level: "acks=1 RF=3 min.insync=1", MaxMiBps: 30, Lost: 161, FaultRuns: 2, LagMs: 300},
		{Level: "acks=all RF=3 min.insync=1", MaxMiBps: 12, Lost: 0, FaultRuns: 2},
		{Level: "acks=all RF=3 min.insync=2", MaxMiBps: 15, Lost: 0, Refused: 900, FaultRuns: 2},
	}
	recs := durabilityEvidence(recommend(nil), levels, 3)
	i := slices.IndexFunc(recs, func(r Recommendation) bool { return r.Setting == "acks" })
	costs := strings.Join(recs[i].Costs, "\n")
	if want := "acks=all RF=3 min.insync=2 lost 0 acknowledged records in 2 fault run(s) (900 refused, the producer was told) at 15.00 MiB/s sustained; " +
		"acks=1 RF=3 min.insync=1 lost 161 in a 300 ms replication lag at 30.00 MiB/s (acks=all's capacity cost: -50 %)"; !strings.Contains(costs, want) {
		t.Errorf("acks costs lack %q:\n%s", want, costs)
	}
	j := slices.IndexFunc(recs, func(r Recommendation) bool { return r.Setting == "min.insync.replicas" })
	if j < 0 || recs[j].Value != "2" || len(recs[j].Costs) != 2 {
		t.Fatalf("min.insync.replicas recommendation: %+v", recs)
	}
	// A run without a frontier changes nothing.
	if got := durabilityEvidence(recommend(nil), nil, 3); len(got) != len(recommend(nil)) {
		t.Errorf("no frontier: %d recommendations, want %d", len(got), len(recommend(nil)))
	}
}
