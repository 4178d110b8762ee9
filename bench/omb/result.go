// Package omb writes a kbench run in the result shape of the OpenMessaging
// Benchmark (OMB), so chart scripts and dashboards built for OMB's JSON read
// kbench runs too.
//
// Field names and units follow OMB's TestResult: rates in messages/s per
// reporting period, publish and end-to-end latencies in milliseconds
// (doubles), the quantile maps keyed by percentile. The mapping:
//
//   - publishLatency*: kbench's service time (send → acknowledgement), as OMB
//     measures it.
//   - endToEndLatency*: kbench's end-to-end latency, from the intended send
//     time (OMB measures from the send; kbench's figure includes any
//     generator lag, so it is never lower).
//   - publishDelayLatency* (how late OMB's rate limiter sent) are left out:
//     kbench records that lateness inside its response time (intended send →
//     acknowledgement), written as kbenchResponseLatency*.
//   - backlog: records acknowledged minus records consumed since the end of
//     the warmup, at the end of each period.
//
// Warmup periods are left out, as OMB resets its statistics after warmup.
package omb

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/atomicfile"
)

// Result is OMB's TestResult, plus kbench's response time.
type Result struct {
	Workload          string `json:"workload"`
	Driver            string `json:"driver"`
	MessageSize       int64  `json:"messageSize"`
	Topics            int    `json:"topics"`
	Partitions        int    `json:"partitions"`
	ProducersPerTopic int    `json:"producersPerTopic"`
	ConsumersPerTopic int    `json:"consumersPerTopic"`

	PublishRate      []float64 `json:"publishRate"`
	PublishErrorRate []float64 `json:"publishErrorRate"`
	ConsumeRate      []float64 `json:"consumeRate"`
	Backlog          []int64   `json:"backlog"`

	Series
	Aggregated

	// Quantile maps: percentile (50.0, 99.9, ...) → milliseconds.
	AggregatedPublishLatencyQuantiles  map[string]float64 `json:"aggregatedPublishLatencyQuantiles"`
	AggregatedEndToEndLatencyQuantiles map[string]float64 `json:"aggregatedEndToEndLatencyQuantiles"`
	AggregatedResponseLatencyQuantiles map[string]float64 `json:"kbenchAggregatedResponseLatencyQuantiles"`
}

// Series are the per-period latency arrays, milliseconds.
type Series struct {
	PublishLatencyAvg      []float64 `json:"publishLatencyAvg"`
	PublishLatency50pct    []float64 `json:"publishLatency50pct"`
	PublishLatency75pct    []float64 `json:"publishLatency75pct"`
	PublishLatency95pct    []float64 `json:"publishLatency95pct"`
	PublishLatency99pct    []float64 `json:"publishLatency99pct"`
	PublishLatency999pct   []float64 `json:"publishLatency999pct"`
	PublishLatency9999pct  []float64 `json:"publishLatency9999pct"`
	PublishLatency99999pct []float64 `json:"publishLatency99999pct"`
	PublishLatencyMax      []float64 `json:"publishLatencyMax"`

	EndToEndLatencyAvg      []float64 `json:"endToEndLatencyAvg"`
	EndToEndLatency50pct    []float64 `json:"endToEndLatency50pct"`
	EndToEndLatency75pct    []float64 `json:"endToEndLatency75pct"`
	EndToEndLatency95pct    []float64 `json:"endToEndLatency95pct"`
	EndToEndLatency99pct    []float64 `json:"endToEndLatency99pct"`
	EndToEndLatency999pct   []float64 `json:"endToEndLatency999pct"`
	EndToEndLatency9999pct  []float64 `json:"endToEndLatency9999pct"`
	EndToEndLatency99999pct []float64 `json:"endToEndLatency99999pct"`
	EndToEndLatencyMax      []float64 `json:"endToEndLatencyMax"`

	ResponseLatency50pct []float64 `json:"kbenchResponseLatency50pct"`
	ResponseLatency99pct []float64 `json:"kbenchResponseLatency99pct"`
	ResponseLatencyMax   []float64 `json:"kbenchResponseLatencyMax"`
}

// Aggregated are the whole test's latency figures, milliseconds.
type Aggregated struct {
	AggregatedPublishLatencyAvg      float64 `json:"aggregatedPublishLatencyAvg"`
	AggregatedPublishLatency50pct    float64 `json:"aggregatedPublishLatency50pct"`
	AggregatedPublishLatency75pct    float64 `json:"aggregatedPublishLatency75pct"`
	AggregatedPublishLatency95pct    float64 `json:"aggregatedPublishLatency95pct"`
	AggregatedPublishLatency99pct    float64 `json:"aggregatedPublishLatency99pct"`
	AggregatedPublishLatency999pct   float64 `json:"aggregatedPublishLatency999pct"`
	AggregatedPublishLatency9999pct  float64 `json:"aggregatedPublishLatency9999pct"`
	AggregatedPublishLatency99999pct float64 `json:"aggregatedPublishLatency99999pct"`
	AggregatedPublishLatencyMax      float64 `json:"aggregatedPublishLatencyMax"`

	AggregatedEndToEndLatencyAvg      float64 `json:"aggregatedEndToEndLatencyAvg"`
	AggregatedEndToEndLatency50pct    float64 `json:"aggregatedEndToEndLatency50pct"`
	AggregatedEndToEndLatency75pct    float64 `json:"aggregatedEndToEndLatency75pct"`
	AggregatedEndToEndLatency95pct    float64 `json:"aggregatedEndToEndLatency95pct"`
	AggregatedEndToEndLatency99pct    float64 `json:"aggregatedEndToEndLatency99pct"`
	AggregatedEndToEndLatency999pct   float64 `json:"aggregatedEndToEndLatency999pct"`
	AggregatedEndToEndLatency9999pct  float64 `json:"aggregatedEndToEndLatency9999pct"`
	AggregatedEndToEndLatency99999pct float64 `json:"aggregatedEndToEndLatency99999pct"`
	AggregatedEndToEndLatencyMax      float64 `json:"aggregatedEndToEndLatencyMax"`
}

// Meta names what OMB's result names beside the figures.
type Meta struct {
	Workload          string
	Driver            string
	MessageSize       int64
	Partitions        int
	ProducersPerTopic int
	ConsumersPerTopic int
}

// FromRun builds the OMB result of one run from its result and its interval
// histograms (the run's hlog, read with bench.ReadHlog). Intervals and
// histograms are matched in order, one histogram per tag per interval.
func FromRun(meta Meta, res *bench.Result, hists []bench.LoggedHistogram) (*Result, error) {
	byTag := map[string][]*hdr.Histogram{}
	for _, h := range hists {
		byTag[h.Tag] = append(byTag[h.Tag], h.Hist)
	}
	n := len(res.Intervals)
	if n == 0 {
		return nil, errors.New("the run has no intervals")
	}
	for _, tag := range tagsOf(res.Mode) {
		if len(byTag[tag]) != n {
			return nil, fmt.Errorf("the run has %d intervals but %d %s histograms: the hlog is not this run's", n, len(byTag[tag]), tag)
		}
	}
	out := &Result{
		Workload: meta.Workload, Driver: meta.Driver, MessageSize: meta.MessageSize, Topics: 1,
		Partitions: meta.Partitions, ProducersPerTopic: meta.ProducersPerTopic, ConsumersPerTopic: meta.ConsumersPerTopic,
		PublishRate: []float64{}, PublishErrorRate: []float64{}, ConsumeRate: []float64{}, Backlog: []int64{},
	}
	var pub, e2e, resp *hdr.Histogram
	prevEnd, backlog := 0.0, 0.0
	for i, iv := range res.Intervals {
		end := float64(iv.End)
		dt := end - prevEnd
		prevEnd = end
		if iv.Warmup || dt <= 0 {
			continue
		}
		// OMB reports per period; kbench's last interval also holds the
		// drain after load stopped: it counts in the aggregates, and in the
		// series only when it is at least half a period long.
		inSeries := i < n-1 || dt >= res.Settings.Interval.Seconds()/2
		failedRate := float64(iv.Failed) / dt
		backlog += (iv.AckedPerSec - iv.ConsumedPer) * dt
		if res.Mode == bench.ModeProduce {
			backlog = 0
		}
		if inSeries {
			out.PublishRate = append(out.PublishRate, iv.AckedPerSec)
			out.PublishErrorRate = append(out.PublishErrorRate, failedRate)
			out.ConsumeRate = append(out.ConsumeRate, iv.ConsumedPer)
			out.Backlog = append(out.Backlog, int64(math.Round(max(backlog, 0))))
		}
		if h := at(byTag, "service", i); h != nil {
			pub = merge(pub, h)
			if inSeries {
				percentiles(h).appendTo(&out.PublishLatencyAvg, &out.PublishLatency50pct, &out.PublishLatency75pct,
					&out.PublishLatency95pct, &out.PublishLatency99pct, &out.PublishLatency999pct,
					&out.PublishLatency9999pct, &out.PublishLatency99999pct, &out.PublishLatencyMax)
			}
		}
		if h := at(byTag, "e2e", i); h != nil {
			e2e = merge(e2e, h)
			if inSeries {
				percentiles(h).appendTo(&out.EndToEndLatencyAvg, &out.EndToEndLatency50pct, &out.EndToEndLatency75pct,
					&out.EndToEndLatency95pct, &out.EndToEndLatency99pct, &out.EndToEndLatency999pct,
					&out.EndToEndLatency9999pct, &out.EndToEndLatency99999pct, &out.EndToEndLatencyMax)
			}
		}
		if h := at(byTag, "response", i); h != nil {
			resp = merge(resp, h)
			if inSeries {
				s := percentiles(h)
				out.ResponseLatency50pct = append(out.ResponseLatency50pct, s.p50)
				out.ResponseLatency99pct = append(out.ResponseLatency99pct, s.p99)
				out.ResponseLatencyMax = append(out.ResponseLatencyMax, s.max)
			}
		}
	}
	if pub != nil {
		a := &out.Aggregated
		percentiles(pub).setTo(&a.AggregatedPublishLatencyAvg, &a.AggregatedPublishLatency50pct, &a.AggregatedPublishLatency75pct,
			&a.AggregatedPublishLatency95pct, &a.AggregatedPublishLatency99pct, &a.AggregatedPublishLatency999pct,
			&a.AggregatedPublishLatency9999pct, &a.AggregatedPublishLatency99999pct, &a.AggregatedPublishLatencyMax)
		out.AggregatedPublishLatencyQuantiles = quantiles(pub)
	}
	if e2e != nil {
		a := &out.Aggregated
		percentiles(e2e).setTo(&a.AggregatedEndToEndLatencyAvg, &a.AggregatedEndToEndLatency50pct, &a.AggregatedEndToEndLatency75pct,
			&a.AggregatedEndToEndLatency95pct, &a.AggregatedEndToEndLatency99pct, &a.AggregatedEndToEndLatency999pct,
			&a.AggregatedEndToEndLatency9999pct, &a.AggregatedEndToEndLatency99999pct, &a.AggregatedEndToEndLatencyMax)
		out.AggregatedEndToEndLatencyQuantiles = quantiles(e2e)
	}
	if resp != nil {
		out.AggregatedResponseLatencyQuantiles = quantiles(resp)
	}
	return out, nil
}

// WriteFile writes r as indented JSON.
func (r *Result) WriteFile(path string) error {
	return atomicfile.WriteJSON(path, r, false)
}

func tagsOf(m bench.Mode) []string {
	switch m {
	case bench.ModeProduce:
		return []string{"service", "response"}
	case bench.ModeE2E:
		return []string{"service", "response", "e2e"}
	}
	return nil
}

func at(byTag map[string][]*hdr.Histogram, tag string, i int) *hdr.Histogram {
	if hs := byTag[tag]; i < len(hs) {
		return hs[i]
	}
	return nil
}

func merge(into, h *hdr.Histogram) *hdr.Histogram {
	if into == nil {
		into = hdr.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
	}
	into.Merge(h)
	return into
}

// nsToMs converts kbench's nanosecond histogram values to milliseconds.
func nsToMs(v float64) float64 { return v / 1e6 }

type summary struct{ avg, p50, p75, p95, p99, p999, p9999, p99999, max float64 }

func (s summary) values() [9]float64 {
	return [9]float64{s.avg, s.p50, s.p75, s.p95, s.p99, s.p999, s.p9999, s.p99999, s.max}
}

// appendTo appends avg, p50 … p99.999 and max to OMB's per-period series.
func (s summary) appendTo(series ...*[]float64) {
	for i, v := range s.values() {
		*series[i] = append(*series[i], v)
	}
}

// setTo sets OMB's aggregated figures, in the same order.
func (s summary) setTo(figures ...*float64) {
	for i, v := range s.values() {
		*figures[i] = v
	}
}

func percentiles(h *hdr.Histogram) summary {
	q := func(p float64) float64 { return nsToMs(float64(h.ValueAtQuantile(p))) }
	return summary{
		avg: nsToMs(h.Mean()), p50: q(50), p75: q(75), p95: q(95), p99: q(99), p999: q(99.9),
		p9999: q(99.99), p99999: q(99.999), max: nsToMs(float64(h.Max())),
	}
}

// quantiles is the histogram's cumulative distribution, keyed as Java
// writes a double (50.0, 99.9).
func quantiles(h *hdr.Histogram) map[string]float64 {
	out := map[string]float64{}
	for _, b := range h.CumulativeDistribution() {
		k := strconv.FormatFloat(b.Quantile, 'f', -1, 64)
		if !strings.ContainsAny(k, ".e") {
			k += ".0"
		}
		out[k] = nsToMs(float64(b.ValueAt))
	}
	return out
}
