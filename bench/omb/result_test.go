package omb

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kbench/kbench/bench"
)

// run builds a two-second e2e run at 1000 records/s with 1 s periods after a
// 1 s warmup: the warmup's service times are 100 ms (to be left out), the
// measured ones 1-2 ms and 3-4 ms, end to end 5 ms, and a short final
// interval (the drain) that counts in the aggregates only.
func run(t *testing.T) (*bench.Result, []bench.LoggedHistogram) {
	t.Helper()
	res := &bench.Result{Mode: bench.ModeE2E, Settings: bench.RunConfig{Mode: bench.ModeE2E, Interval: time.Second}}
	var log bytes.Buffer
	sink := bench.NewHlogSink(&log)
	start := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	for i, iv := range []struct {
		end          time.Duration
		warmup       bool
		acked, cons  int64
		failed       int64
		svcMs, e2eMs []float64
	}{
		{time.Second, true, 1000, 1000, 0, []float64{100}, []float64{100}},
		{2 * time.Second, false, 1000, 900, 5, []float64{1, 2}, []float64{5}},
		{3 * time.Second, false, 1000, 1000, 0, []float64{3, 4}, []float64{5}},
		{3*time.Second + 100*time.Millisecond, false, 0, 100, 0, []float64{50}, []float64{5}},
	} {
		hist := func(ms []float64) *hdr.Histogram {
			h := hdr.New(1, int64(time.Minute), 3)
			for _, v := range ms {
				if err := h.RecordValues(int64(v*1e6), 500); err != nil {
					t.Fatal(err)
				}
			}
			return h
		}
		prev := time.Duration(0)
		if i > 0 {
			prev = res.Intervals[i-1].End.Dur()
		}
		dt := (iv.end - prev).Seconds()
		res.Intervals = append(res.Intervals, bench.IntervalFigures{
			End: bench.Seconds(iv.end.Seconds()), Warmup: iv.warmup,
			AckedPerSec: float64(iv.acked) / dt, ConsumedPer: float64(iv.cons) / dt, Failed: iv.failed,
		})
		svc := hist(iv.svcMs)
		if err := sink.Interval(&bench.Interval{Mode: bench.ModeE2E, Index: i, RunStart: start, Start: prev, End: iv.end,
			Warmup: iv.warmup, Service: svc, Response: svc, E2E: hist(iv.e2eMs)}); err != nil {
			t.Fatal(err)
		}
	}
	hists, err := bench.ReadHlog(&log)
	if err != nil {
		t.Fatal(err)
	}
	return res, hists
}

func TestFromRun(t *testing.T) {
	res, hists := run(t)
	r, err := FromRun(Meta{Workload: "w", Driver: "Kafka", MessageSize: 1024, Partitions: 16, ProducersPerTopic: 1, ConsumersPerTopic: 1}, res, hists)
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.01+1e-9 {
			t.Errorf("%s: got %g, want %g", what, got, want)
		}
	}
	if len(r.PublishRate) != 2 || len(r.PublishLatency99pct) != 2 || len(r.EndToEndLatency50pct) != 2 {
		t.Fatalf("series: %d rates, %d publish p99s, %d e2e p50s; want 2 periods each (warmup and the drain left out)",
			len(r.PublishRate), len(r.PublishLatency99pct), len(r.EndToEndLatency50pct))
	}
	near("publishRate[0]", r.PublishRate[0], 1000)
	near("consumeRate[0]", r.ConsumeRate[0], 900)
	near("publishErrorRate[0]", r.PublishErrorRate[0], 5)
	if r.Backlog[0] != 100 || r.Backlog[1] != 100 {
		t.Errorf("backlog %v, want [100 100] (acknowledged minus consumed since the warmup)", r.Backlog)
	}
	near("publishLatency50pct[0] (ms)", r.PublishLatency50pct[0], 1)
	near("publishLatencyMax[0] (ms)", r.PublishLatencyMax[0], 2)
	near("publishLatency50pct[1] (ms)", r.PublishLatency50pct[1], 3)
	near("endToEndLatency99pct[1] (ms)", r.EndToEndLatency99pct[1], 5)
	// Aggregates span every measured interval, the drain included, never the warmup.
	near("aggregatedPublishLatencyMax (ms)", r.AggregatedPublishLatencyMax, 50)
	near("aggregatedPublishLatency50pct (ms)", r.AggregatedPublishLatency50pct, 3)
	if q := r.AggregatedPublishLatencyQuantiles["100.0"]; math.Abs(q-50) > 0.5 {
		t.Errorf("aggregatedPublishLatencyQuantiles[100.0] = %g, want 50 ms; map %v", q, r.AggregatedPublishLatencyQuantiles)
	}

	// A mismatched hlog is refused.
	if _, err := FromRun(Meta{}, res, hists[:3]); err == nil {
		t.Error("a short hlog was accepted")
	}
}

// The written JSON has every field OMB's result carries, with OMB's types.
func TestResultFieldsMatchOMB(t *testing.T) {
	res, hists := run(t)
	r, err := FromRun(Meta{Workload: "w", Driver: "Kafka", MessageSize: 1024, Partitions: 16, ProducersPerTopic: 1, ConsumersPerTopic: 1}, res, hists)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/omb.json"
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	schemaRaw, err := os.ReadFile("testdata/omb-result-fields.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]string
	if err := json.Unmarshal(schemaRaw, &schema); err != nil {
		t.Fatal(err)
	}
	delete(schema, "_about")
	for field, typ := range schema {
		v, ok := got[field]
		if !ok {
			t.Errorf("%s: missing", field)
			continue
		}
		switch typ {
		case "string":
			_, ok = v.(string)
		case "number":
			_, ok = v.(float64)
		case "numbers":
			var arr []any
			if arr, ok = v.([]any); ok {
				for _, x := range arr {
					if _, isNum := x.(float64); !isNum {
						ok = false
					}
				}
			}
		case "quantiles":
			var m map[string]any
			if m, ok = v.(map[string]any); ok {
				for k, x := range m {
					if _, err := strconv.ParseFloat(k, 64); err != nil {
						ok = false
					}
					if _, isNum := x.(float64); !isNum {
						ok = false
					}
				}
				ok = ok && len(m) > 0
			}
		default:
			t.Fatalf("schema type %q", typ)
		}
		if !ok {
			t.Errorf("%s: %v is not of OMB's type %s", field, v, typ)
		}
	}
}
