package bench

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// agentResult builds an agent's result whose latencies are the given
// values, through the same summarize/encode path a run uses.
func agentResult(t *testing.T, rate float64, vals []time.Duration, mutate func(*Result)) *Result {
	t.Helper()
	tl := newTally()
	for _, v := range vals {
		tl.acked1(v, 0, 0, 100)
		tl.consumed1(0, v, 100)
	}
	r := &Result{
		Mode: ModeE2E, Settings: RunConfig{Mode: ModeE2E, Producers: 1, Consumers: 1, Rate: rate, Share: &Share{Stamp: 7}},
		Measured: 10, Elapsed: 11, Partitions: 6,
		Produce: &ProduceFigures{TargetRate: rate, Acked: int64(len(vals)), Sent: int64(len(vals)), RecordsPerSec: float64(len(vals)) / 10, MiBPerSec: 1, CompressionRatio: 2},
		Consume: &ConsumeFigures{Consumed: int64(len(vals)), RecordsPerSec: float64(len(vals)) / 10},
		CPU:     CPUFigures{Cores: 0.5, Available: 2},
		Latency: LatencyFigures{Service: summarize(tl.service), Response: summarize(tl.response), E2E: summarize(tl.e2e)},
	}
	if mutate != nil {
		mutate(r)
	}
	r.judge()
	return r
}

// TestMergeResultsIsTheUnion checks that merged percentiles are those of
// one histogram holding every agent's values (never averaged percentiles),
// on distributions far apart so averaging would show.
func TestMergeResultsIsTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, base, spread time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = base + time.Duration(rng.Int64N(int64(spread)))
		}
		return out
	}
	parts := [][]time.Duration{
		gen(10000, time.Millisecond, 2*time.Millisecond),
		gen(3000, 20*time.Millisecond, 80*time.Millisecond),
		gen(500, 400*time.Millisecond, time.Second),
	}
	union := newHist()
	var agents []AgentResult
	for i, vals := range parts {
		for _, v := range vals {
			record(union, v)
		}
		agents = append(agents, AgentResult{Name: string(rune('a' + i)), Host: "h", Result: agentResult(t, 1350, vals, nil)})
	}
	res, err := MergeResults(RunConfig{Mode: ModeE2E, Rate: 4050, Producers: 3, Consumers: 3}, agents, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := summarize(union)
	for name, got := range map[string]*Latency{"service": res.Latency.Service, "response": res.Latency.Response, "e2e": res.Latency.E2E} {
		if got.Count != want.Count || got.P50 != want.P50 || got.P99 != want.P99 || got.P999 != want.P999 || got.Max != want.Max {
			t.Errorf("%s: got count %d p50 %v p99 %v p99.9 %v max %v, want %d %v %v %v %v",
				name, got.Count, got.P50, got.P99, got.P999, got.Max, want.Count, want.P50, want.P99, want.P999, want.Max)
		}
	}
	if got, want := res.Produce.Acked, int64(13500); got != want {
		t.Errorf("acked: got %d, want %d", got, want)
	}
	if got, want := res.Produce.AchievedPct, 100*1350.0/4050; got != want {
		t.Errorf("achieved: got %v %%, want %v %%", got, want)
	}
	if len(res.Agents) != 3 || res.Agents[1].E2ESampled != 3000 || res.Agents[0].Stamp != 7 {
		t.Errorf("agents: got %+v", res.Agents)
	}
}

// TestMergeResultsNamesInvalidAgents: one saturated agent makes the run
// invalid, named, though the sum of cores is far from saturation.
func TestMergeResultsNamesInvalidAgents(t *testing.T) {
	vals := []time.Duration{time.Millisecond, 2 * time.Millisecond}
	ok := agentResult(t, 0, vals, nil)
	hot := agentResult(t, 0, vals, func(r *Result) {
		r.CPU = CPUFigures{Cores: 1.95, Available: 2, Saturated: true}
	})
	res, err := MergeResults(RunConfig{Mode: ModeE2E}, []AgentResult{{Name: "a1", Result: ok}, {Name: "a2", Result: hot}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid {
		t.Fatal("got a valid run, want invalid: agent a2's CPU was saturated")
	}
	joined := strings.Join(res.Invalid, "\n")
	if !strings.Contains(joined, "agent a2: ") || !strings.Contains(joined, "saturated") || strings.Contains(joined, "agent a1") {
		t.Errorf("invalid reasons: got %q, want agent a2 named for its saturated CPU and a1 not", joined)
	}
	var b strings.Builder
	writeAgents(&b, res)
	if !strings.Contains(b.String(), "a2") || !strings.Contains(b.String(), "1.95/2!") {
		t.Errorf("agent table: got\n%s", b.String())
	}
}

func TestMergeIntervals(t *testing.T) {
	mk := func(acked int64, v time.Duration, start, end time.Duration) *Interval {
		iv := &Interval{Mode: ModeE2E, Acked: acked, Start: start, End: end, CPUCores: 0.25, Service: newHist(), Response: newHist(), E2E: newHist()}
		for range acked {
			record(iv.Service, v)
		}
		return iv
	}
	m := MergeIntervals([]*Interval{mk(10, time.Millisecond, time.Second, 2*time.Second), mk(30, 9*time.Millisecond, 990*time.Millisecond, 2010*time.Millisecond)})
	if m.Acked != 40 || m.Service.TotalCount() != 40 || m.CPUCores != 0.5 {
		t.Errorf("got acked %d, %d service samples, cpu %v; want 40, 40, 0.5", m.Acked, m.Service.TotalCount(), m.CPUCores)
	}
	if m.Start != 990*time.Millisecond || m.End != 2010*time.Millisecond {
		t.Errorf("got window %v..%v, want 990ms..2.01s", m.Start, m.End)
	}
	if p := m.Service.ValueAtQuantile(50); p < int64(8*time.Millisecond) {
		t.Errorf("merged p50 %v: want the 9 ms majority", time.Duration(p))
	}
}
