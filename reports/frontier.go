package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

// LevelOutcome is one durability level on the throughput-versus-durability
// frontier: its capacity without faults and what its fault runs did to
// acknowledged records. Figures are medians over the level's finished
// points' repetitions; loss is summed over every fault run.
type LevelOutcome struct {
	Level string `json:"level"`
	Point string `json:"point"` // the point measured (the first if several share the level)
	// Capacity, without faults: the max sustainable rate and what it
	// achieved, and p50/p99 response time at the common rate.
	MaxRate    float64 `json:"max_rate"`
	MaxMiBps   float64 `json:"max_mib_per_sec"`
	CommonRate float64 `json:"common_rate"`
	SteadyP50  float64 `json:"steady_p50_ms"`
	SteadyP99  float64 `json:"steady_p99_ms"`
	// SteadyMissed is set when the steady run fell short of the common
	// rate: its latency then includes queueing beyond capacity.
	SteadyMissed bool `json:"steady_missed,omitempty"`
	// Outcome under faults.
	FaultRuns    int     `json:"fault_runs"`
	Acknowledged int64   `json:"acknowledged"`
	Lost         int64   `json:"lost"`
	LostPerFault float64 `json:"lost_per_fault"`
	Duplicated   int64   `json:"duplicated"`
	Refused      int64   `json:"refused"`
	// Unavailability is the longest wait without an acknowledgement over
	// the fault runs, seconds.
	Unavailability float64 `json:"unavailability_s"`
	// WorstScenario is the scenario that lost the most (first on ties) and
	// LagMs its replication delay (0 when it injected none).
	WorstScenario string  `json:"worst_scenario,omitempty"`
	LagMs         float64 `json:"lag_ms,omitempty"`
	// Front is set for levels on the Pareto front: no other level has both
	// more capacity and less loss.
	Front bool `json:"pareto_front"`
	// Spread is the capacity and steady latency over the level's
	// repetitions, when it had two or more: charts draw their range.
	Spread *LevelSpread `json:"spread,omitempty"`
}

// LevelSpread is a level's figures over its repetitions: N, median, lowest
// and highest (N is 0 for a figure without two or more values).
type LevelSpread struct {
	MaxMiBps  sweep.Stat `json:"max_mib_per_sec"`
	SteadyP50 sweep.Stat `json:"steady_p50_ms"`
	SteadyP99 sweep.Stat `json:"steady_p99_ms"`
}

// levelSpread is p's LevelSpread, nil without repeats.
func levelSpread(p *Point) *LevelSpread {
	var s LevelSpread
	some := false
	for _, f := range []struct {
		name string
		to   *sweep.Stat
	}{
		{"produce_mib_per_sec", &s.MaxMiBps},
		{sweep.SteadyPrefix + "response_p50_ms", &s.SteadyP50},
		{sweep.SteadyPrefix + "response_p99_ms", &s.SteadyP99},
	} {
		if st, ok := spreadOf(p, f.name); ok {
			*f.to, some = st, true
		}
	}
	if !some {
		return nil
	}
	return &s
}

// frontierOutcomes builds one LevelOutcome per durability level that has a
// finished frontier point, weakest first. Empty when the run has none.
func frontierOutcomes(points []*Point, f *profiles.Frontier) []LevelOutcome {
	if f == nil {
		return nil
	}
	var out []LevelOutcome
	for _, lv := range durabilityLevels(points) {
		var lo *LevelOutcome
		for _, p := range points {
			if !p.Done() || p.Set.Durability() != lv || len(p.Line.Outcomes) == 0 {
				continue
			}
			if lo == nil {
				lo = &LevelOutcome{Level: lv, Point: p.Def.ID, CommonRate: f.Rate}
				lo.MaxRate, _ = p.Fig("max_sustainable_achieved")
				lo.MaxMiBps, _ = p.Fig("produce_mib_per_sec")
				lo.SteadyP50, _ = p.Fig(sweep.SteadyPrefix + "response_p50_ms")
				lo.SteadyP99, _ = p.Fig(sweep.SteadyPrefix + "response_p99_ms")
				lo.Spread = levelSpread(p)
				// 5 % slack: a steady run lasts seconds, and its rate jitters by
				// a few per cent on a busy machine without queueing building up.
				if got, ok := p.Fig(sweep.SteadyPrefix + "produce_records_per_sec"); ok && got < 0.95*f.Rate {
					lo.SteadyMissed = true
				}
			}
			worst := int64(-1)
			for _, o := range p.Line.Outcomes {
				lo.FaultRuns++
				lo.Acknowledged += o.Acknowledged
				lo.Lost += o.Lost
				lo.Duplicated += o.Duplicated
				lo.Refused += o.Refused
				lo.Unavailability = max(lo.Unavailability, float64(o.Unavailability))
				if o.Lost > worst {
					worst, lo.WorstScenario, lo.LagMs = o.Lost, o.Scenario, scenarioLagMs(f, o.Scenario)
				}
			}
		}
		if lo == nil {
			continue
		}
		lo.LostPerFault = float64(lo.Lost) / float64(lo.FaultRuns)
		out = append(out, *lo)
	}
	front := paretoFront(len(out), func(i int) float64 { return out[i].MaxMiBps }, func(i int) float64 { return -out[i].LostPerFault })
	for _, i := range front {
		out[i].Front = true
	}
	return out
}

// scenarioLagMs is the largest replication delay a scenario injects, ms.
func scenarioLagMs(f *profiles.Frontier, name string) float64 {
	lag := 0.0
	for _, sc := range f.Scenarios {
		if sc.Name != name {
			continue
		}
		for _, a := range sc.Faults {
			if a.Kind == faults.Delay {
				lag = max(lag, float64(a.Delay.Milliseconds()))
			}
		}
	}
	return lag
}

// frontierReading says in plain words what the frontier shows: what each
// level costs in throughput against the fastest, and what it lost.
func frontierReading(levels []LevelOutcome) []string {
	if len(levels) == 0 {
		return nil
	}
	fastest := slices.MaxFunc(levels, func(a, b LevelOutcome) int { return cmp.Compare(a.MaxMiBps, b.MaxMiBps) })
	var out []string
	for _, l := range levels {
		var b strings.Builder
		b.WriteString(l.Level)
		if l.MaxMiBps <= 0 {
			b.WriteString(" met the SLO at no rate tried")
		} else if l.Level == fastest.Level {
			fmt.Fprintf(&b, " is the fastest level (%s MiB/s sustained)", formatFig(l.MaxMiBps))
		} else if fastest.MaxMiBps > 0 {
			fmt.Fprintf(&b, " costs %.0f %% of throughput (%s against %s MiB/s)", 100*(1-l.MaxMiBps/fastest.MaxMiBps), formatFig(l.MaxMiBps), formatFig(fastest.MaxMiBps))
		}
		switch {
		case l.Lost == 0:
			fmt.Fprintf(&b, " and lost nothing in %d fault run(s)", l.FaultRuns)
		case l.LagMs > 0:
			fmt.Fprintf(&b, " and lost %d acknowledged records in a %g ms replication lag (%s)", l.Lost, l.LagMs, l.WorstScenario)
		default:
			fmt.Fprintf(&b, " and lost %d acknowledged records (%s)", l.Lost, l.WorstScenario)
		}
		if l.Refused > 0 {
			fmt.Fprintf(&b, "; %d records were refused or timed out, which the producer was told", l.Refused)
		}
		if l.Duplicated > 0 {
			fmt.Fprintf(&b, "; %d were written twice", l.Duplicated)
		}
		fmt.Fprintf(&b, "; longest wait without an acknowledgement %s s.", formatFig(l.Unavailability))
		out = append(out, b.String())
	}
	return out
}

// paretoFront returns the indices of the n items no other item beats on
// both x and y (both maximised; negate a figure to minimise it), in
// increasing x. Items equal on both are all kept.
func paretoFront(n int, x, y func(int) float64) []int {
	var front []int
	for i := range n {
		dominated := false
		for j := range n {
			if j != i && x(j) >= x(i) && y(j) >= y(i) && (x(j) > x(i) || y(j) > y(i)) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, i)
		}
	}
	slices.SortStableFunc(front, func(a, b int) int { return cmp.Compare(x(a), x(b)) })
	return front
}
