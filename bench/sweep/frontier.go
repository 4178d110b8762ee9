package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/durability"
	"github.com/kbench/kbench/profiles"
)

// Run phases of a frontier point (RunSummary.Phase). Capacity runs are the
// search's probes; the steady run and the fault runs are at the frontier's
// common rate. Only capacity and steady runs make latency figures: a fault
// run's latency is the fault's, reported as unavailability by its audit.
const (
	PhaseCapacity = "capacity"
	PhaseSteady   = "steady"
	PhaseFault    = "fault"
)

// SteadyPrefix marks the steady run's figures in Line.Figures:
// steady_response_p99_ms and so on, one value per repetition.
const SteadyPrefix = "steady_"

// Outcome is one fault scenario's audited run of a frontier point.
type Outcome struct {
	Scenario string `json:"scenario"`
	Repeat   int    `json:"repeat"`
	// Run names the run in the point's runs list; its faults and audit
	// are there in full.
	Run  string  `json:"run"`
	Rate float64 `json:"rate"`
	// Acknowledged, Lost, Duplicated and Unavailability are the audit's.
	Acknowledged   int64         `json:"acknowledged"`
	Lost           int64         `json:"lost"`
	Duplicated     int64         `json:"duplicated"`
	Unavailability bench.Seconds `json:"unavailability_s"`
	// Refused counts records whose send failed (the audit's failed: the
	// broker said NOT_ENOUGH_REPLICAS, or the record timed out): the
	// producer was told, unlike for a lost record. Errors are the run's
	// client errors by Kafka error code, the reasons.
	Refused int64              `json:"refused"`
	Errors  []bench.ErrorCount `json:"errors,omitempty"`
}

// faultRunOverhead is what a fault run adds to its warmup and duration:
// healing (a killed broker restarts and catches up) and the audit's
// read-back, measured on the embedded cluster.
const faultRunOverhead = 6 * time.Second

// frontierRunsPer is how many runs a frontier adds to each repetition of
// a point: the steady run and one per scenario.
func frontierRunsPer(p *profiles.Profile) int {
	if p.Frontier == nil {
		return 0
	}
	return 1 + len(p.Frontier.Scenarios)
}

// frontierExtra is what a frontier's fault runs add to a point beyond
// their warmup and duration: healing and the audit.
func frontierExtra(p *profiles.Profile) time.Duration {
	if p.Frontier == nil {
		return 0
	}
	return time.Duration(p.Repeat*len(p.Frontier.Scenarios)) * faultRunOverhead
}

// frontierRuns runs, after repetition rep's capacity search, the steady
// run and one audited run per scenario, all at the common rate.
func (e *engine) frontierRuns(ctx context.Context, tg bench.Target, gen int, pt *profiles.Point, rep int, line *Line, results map[string]*bench.Result) error {
	f := e.p.Frontier
	sum, res, err := e.run(ctx, tg, gen, pt, f.Rate, fmt.Sprintf("r%d-steady", rep), rep, durability.Options{})
	if err != nil {
		return err
	}
	sum.Phase = PhaseSteady
	results[sum.Name] = res
	line.Runs = append(line.Runs, *sum)
	for i, sc := range f.Scenarios {
		name := fmt.Sprintf("r%d-fault%d", rep, i+1)
		// Each scenario starts on a fresh topic: leaders spread as at the
		// start, and the audit reads only this run's records.
		e.lastTopic = ""
		sum, res, err := e.run(ctx, tg, gen, pt, f.Rate, name, rep, durability.Options{Faults: sc.Faults, Audit: true})
		if err != nil {
			return fmt.Errorf("scenario %q: %w", sc.Name, err)
		}
		sum.Phase, sum.Scenario = PhaseFault, sc.Name
		results[name] = res
		line.Runs = append(line.Runs, *sum)
		line.Outcomes = append(line.Outcomes, outcomeOf(sc.Name, rep, sum, res))
	}
	return nil
}

// outcomeOf reduces a fault run to its outcome.
func outcomeOf(scenario string, rep int, sum *RunSummary, res *bench.Result) Outcome {
	o := Outcome{Scenario: scenario, Repeat: rep, Run: sum.Name, Rate: sum.Target}
	if a := sum.Audit; a != nil {
		o.Acknowledged, o.Lost, o.Duplicated, o.Refused, o.Unavailability = a.Acknowledged, a.Lost, a.Duplicated, a.Failed, a.Unavailability
	}
	o.Errors = res.Errors
	return o
}

// steadyFigures adds each repetition's steady run figures to figs, named
// with SteadyPrefix. Fault runs never contribute.
func steadyFigures(runs []RunSummary, figs map[string]Stat) {
	vals := map[string][]float64{}
	for _, r := range runs {
		if r.Phase != PhaseSteady {
			continue
		}
		for k, v := range r.Figures {
			vals[SteadyPrefix+k] = append(vals[SteadyPrefix+k], v)
		}
	}
	for k, xs := range vals {
		figs[k] = stat(xs)
	}
}
