package bench

import (
	"fmt"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// AgentFigures is one agent's part of a run spread over load machines.
type AgentFigures struct {
	Name string `json:"name"`
	Host string `json:"host"`
	// Stamp is the run id this agent's records carry: end-to-end latency
	// is timed only by the agent whose stamp a record has.
	Stamp     uint64  `json:"stamp"`
	Producers int     `json:"producers"`
	Consumers int     `json:"consumers"`
	Target    float64 `json:"target_rate"`
	Produced  float64 `json:"records_per_sec"`
	Achieved  float64 `json:"achieved_pct"`
	Consumed  float64 `json:"consumed_per_sec"`
	// E2ESampled is how many of the records this agent consumed were its
	// own and so got an end-to-end latency; ConsumedRecords all it read.
	E2ESampled      int64          `json:"e2e_sampled"`
	ConsumedRecords int64          `json:"consumed"`
	CPU             CPUFigures     `json:"cpu"`
	Latency         LatencyFigures `json:"latency"`
	Errors          int64          `json:"errors"`
	Valid           bool           `json:"valid"`
	Invalid         []string       `json:"invalid_reasons,omitempty"`
}

// AgentResult is one agent's own result of its share.
type AgentResult struct {
	Name, Host string
	Result     *Result
}

// MergeIntervals adds up the same interval of several agents: counters
// are summed, histograms added exactly, and the CPU is the agents' total.
func MergeIntervals(ivs []*Interval) *Interval {
	out, sum := &Interval{}, newTally()
	for i, iv := range ivs {
		if i == 0 {
			out.Mode, out.Index, out.RunStart, out.Start, out.End = iv.Mode, iv.Index, iv.RunStart, iv.Start, iv.End
		}
		out.Start, out.End = min(out.Start, iv.Start), max(out.End, iv.End)
		out.Warmup = out.Warmup || iv.Warmup
		out.Final = out.Final || iv.Final
		out.CPUCores += iv.CPUCores
		sum.merge(tallyOf(iv))
	}
	sum.fill(out)
	return out
}

// MergeResults turns the agents' own results of their shares into the
// run's result: counts and rates summed, latency histograms added exactly
// (never percentiles averaged), and judged like a local run; an agent
// whose own result was invalid makes the run invalid, named. cfg is the
// whole run's config; intervals are the merged intervals streamed.
func MergeResults(cfg RunConfig, agents []AgentResult, intervals []*Interval) (*Result, error) {
	if len(agents) == 0 {
		return nil, fmt.Errorf("merge: no agent results")
	}
	cfg = cfg.withDefaults()
	first := agents[0].Result
	res := &Result{
		Mode: cfg.Mode, Settings: cfg, Manifest: first.Manifest, Partitions: first.Partitions,
		EffectiveProducer: first.EffectiveProducer,
	}
	res.Settings.Share = nil
	if cfg.Target != nil {
		res.Manifest.Target = cfg.Target.Describe()
	}
	hists := [3]*hdr.Histogram{newHist(), newHist(), newHist()}
	errs := map[errKey]int64{}
	var hosts []string
	var rawMiB, wireMiB float64
	for _, a := range agents {
		r := a.Result
		hosts = append(hosts, a.Name+"@"+a.Host)
		res.Elapsed = max(res.Elapsed, r.Elapsed)
		res.Measured = max(res.Measured, r.Measured)
		res.Interrupted = res.Interrupted || r.Interrupted
		res.CPU.Cores += r.CPU.Cores
		res.CPU.Available += r.CPU.Available
		res.CPU.Own += r.CPU.Own
		res.CPU.IncludesBroker = res.CPU.IncludesBroker || r.CPU.IncludesBroker
		for _, e := range r.Errors {
			errs[errKey{e.Code, e.Name}] += e.Count
		}
		for i, l := range []*Latency{r.Latency.Service, r.Latency.Response, r.Latency.E2E} {
			if l == nil {
				continue
			}
			h, err := l.Histogram()
			if err != nil {
				return nil, fmt.Errorf("agent %s: %w", a.Name, err)
			}
			hists[i].Merge(h)
		}
		if p := r.Produce; p != nil {
			if res.Produce == nil {
				res.Produce = &ProduceFigures{TargetRate: cfg.Rate}
			}
			f := res.Produce
			f.Sent += p.Sent
			f.Acked += p.Acked
			f.Failed += p.Failed
			f.Undelivered += p.Undelivered
			f.RecordsPerSec += p.RecordsPerSec
			f.MiBPerSec += p.MiBPerSec
			f.WireMiBPerSec += p.WireMiBPerSec
			if p.CompressionRatio > 0 {
				rawMiB += p.MiBPerSec
				wireMiB += p.MiBPerSec / p.CompressionRatio
			}
		}
		if c := r.Consume; c != nil {
			if res.Consume == nil {
				res.Consume = &ConsumeFigures{}
			}
			f := res.Consume
			f.Consumed += c.Consumed
			f.RecordsPerSec += c.RecordsPerSec
			f.MiBPerSec += c.MiBPerSec
			f.WireMiBPerSec += c.WireMiBPerSec
			f.LagAtEnd += c.LagAtEnd
			f.Unconsumed += c.Unconsumed
			f.Redelivered += c.Redelivered
			f.IdleConsumers += c.IdleConsumers
		}
		res.Agents = append(res.Agents, agentFigures(a))
	}
	res.Manifest.Hostname = strings.Join(hosts, ",")
	if f := res.Produce; f != nil {
		if f.TargetRate > 0 {
			f.AchievedPct = 100 * f.RecordsPerSec / f.TargetRate
		}
		if wireMiB > 0 {
			f.CompressionRatio = rawMiB / wireMiB
		}
		res.Latency.Service = summarize(hists[0])
		res.Latency.Response = summarize(hists[1])
	}
	if cfg.Mode == ModeE2E {
		res.Latency.E2E = summarize(hists[2])
	}
	res.Errors = errorCounts(errs)
	for _, iv := range intervals {
		res.Intervals = append(res.Intervals, intervalFigures(iv))
	}
	// Saturation is judged per agent (one agent's saturated CPU distorts
	// its own latencies), below, not on the sum over machines.
	res.CPU.Saturated = false
	res.judge()
	for _, a := range res.Agents {
		for _, why := range a.Invalid {
			res.Invalid = append(res.Invalid, fmt.Sprintf("agent %s: %s", a.Name, why))
		}
	}
	res.Valid = len(res.Invalid) == 0
	return res, nil
}

func agentFigures(a AgentResult) AgentFigures {
	r := a.Result
	f := AgentFigures{
		Name: a.Name, Host: a.Host, Producers: r.Settings.Producers, Consumers: r.Settings.Consumers,
		CPU: r.CPU, Latency: r.Latency, Errors: errorTotal(r.Errors), Valid: r.Valid, Invalid: r.Invalid,
	}
	if s := r.Settings.Share; s != nil {
		f.Stamp = s.Stamp
	}
	if p := r.Produce; p != nil {
		f.Target, f.Produced, f.Achieved = p.TargetRate, p.RecordsPerSec, p.AchievedPct
	} else {
		f.Producers = 0
	}
	if c := r.Consume; c != nil {
		f.Consumed, f.ConsumedRecords = c.RecordsPerSec, c.Consumed
		if l := r.Latency.E2E; l != nil {
			f.E2ESampled = l.Count
		}
	} else {
		f.Consumers = 0
	}
	return f
}

// writeAgents adds the per-agent table of a run spread over agents.
func writeAgents(b *strings.Builder, r *Result) {
	if len(r.Agents) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%-14s %-20s %5s %5s %12s %9s %12s %9s %7s  %s\n",
		"agent", "host", "prod", "cons", "records/s", "achieved", "consumed/s", "cpu", "errors", "valid")
	var sampled, consumed int64
	for _, a := range r.Agents {
		valid := "yes"
		if !a.Valid {
			valid = "NO: " + strings.Join(a.Invalid, "; ")
		}
		achieved := "-"
		if a.Target > 0 {
			achieved = fmt.Sprintf("%.2f %%", a.Achieved)
		}
		cpu := fmt.Sprintf("%.2f/%d", a.CPU.Cores, a.CPU.Available)
		if a.CPU.Saturated {
			cpu += "!"
		}
		fmt.Fprintf(b, "%-14s %-20s %5d %5d %12.1f %9s %12.1f %9s %7d  %s\n",
			a.Name, a.Host, a.Producers, a.Consumers, a.Produced, achieved, a.Consumed, cpu, a.Errors, valid)
		sampled += a.E2ESampled
		consumed += a.ConsumedRecords
	}
	if r.Mode == ModeE2E && consumed > 0 {
		fmt.Fprintf(b, "end-to-end latency sampled on %d of %d consumed records (%.1f %%): each agent times only the records its own producers wrote, on one clock\n",
			sampled, consumed, 100*float64(sampled)/float64(consumed))
	}
}
