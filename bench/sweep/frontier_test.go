package sweep

import (
	"strings"
	"testing"

	"github.com/kbench/kbench/profiles"
)

// TestFaultLatencyStaysOutOfSteadyFigures: a frontier point's fault runs
// have the fault's latency (seconds of a leader election); the point's
// figures are its capacity run's and its steady run's only, and the fault
// run is never counted.
func TestFaultLatencyStaysOutOfSteadyFigures(t *testing.T) {
	e := &engine{p: &profiles.Profile{Repeat: 1, Frontier: &profiles.Frontier{Rate: 2000}}}
	line := &Line{Runs: []RunSummary{
		{Name: "r1-probe01", Repeat: 1, Target: 8000, Phase: PhaseCapacity, Valid: true, SLO: Verdict{Pass: true},
			Figures: map[string]float64{"response_p99_ms": 12, "response_p50_ms": 3}},
		{Name: "r1-steady", Repeat: 1, Target: 2000, Phase: PhaseSteady, Valid: true, SLO: Verdict{Pass: true},
			Figures: map[string]float64{"response_p99_ms": 4, "response_p50_ms": 1}},
		{Name: "r1-fault1", Repeat: 1, Target: 2000, Phase: PhaseFault, Scenario: "leader kill", Valid: true,
			Figures: map[string]float64{"response_p99_ms": 2100, "response_p50_ms": 2}},
	}}
	line.Runs[0].Counted = true
	line.Search = []SearchResult{{Found: 8000, Achieved: 7990}}
	e.finishLine(line, nil, []string{"r1-probe01"}, []float64{8000})
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"response_p99_ms", 12},
		{"steady_response_p99_ms", 4},
		{"steady_response_p50_ms", 1},
	} {
		if got, ok := line.Figures[tc.name]; !ok || got.Median != tc.want || got.N != 1 {
			t.Errorf("%s: got %+v, want median %g over 1 run", tc.name, got, tc.want)
		}
	}
	for k, st := range line.Figures {
		if strings.HasSuffix(k, "_ms") && st.Max >= 2100 {
			t.Errorf("figure %s took the fault run's latency: %+v", k, st)
		}
	}
	if !line.SLO.Pass {
		t.Errorf("the fault run's latency failed the point's SLO: %v", line.SLO.Reasons)
	}
}
