package livemetrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kbench/kbench/bench"
)

func interval(acked, consumed int64, latencies ...time.Duration) *bench.Interval {
	h := hdr.New(1, int64(time.Minute), 3)
	for _, l := range latencies {
		h.RecordValue(int64(l))
	}
	return &bench.Interval{Mode: bench.ModeE2E, Sent: acked, Acked: acked, AckedBytes: acked * 100, Consumed: consumed,
		ConsumedBytes: consumed * 100, Service: h, Response: h, E2E: h, CPUCores: 0.5}
}

func TestExporterCountsAndHistograms(t *testing.T) {
	e := New("r1")
	e.SetPoint("p001")
	e.Interval(interval(1000, 900, time.Millisecond, 3*time.Millisecond))
	e.Interval(interval(1000, 1000, 20*time.Millisecond))
	e.SetPoint("p002")
	e.Interval(interval(10, 5, time.Second))

	want := `
# HELP kbench_produce_acked_records_total Records the cluster acknowledged.
# TYPE kbench_produce_acked_records_total counter
kbench_produce_acked_records_total{point="p001",run="r1"} 2000
kbench_produce_acked_records_total{point="p002",run="r1"} 10
# HELP kbench_consume_lag_records Records acknowledged but not yet consumed (end-to-end runs).
# TYPE kbench_consume_lag_records gauge
kbench_consume_lag_records{point="p001",run="r1"} 100
kbench_consume_lag_records{point="p002",run="r1"} 5
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "kbench_produce_acked_records_total", "kbench_consume_lag_records"); err != nil {
		t.Error(err)
	}
	// The histogram: 3 samples of p001's e2e latency, two of them within 5 ms.
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kbench_latency_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			lbl := map[string]string{}
			for _, l := range m.GetLabel() {
				lbl[l.GetName()] = l.GetValue()
			}
			if lbl["point"] != "p001" || lbl["kind"] != "e2e" {
				continue
			}
			h := m.GetHistogram()
			if h.GetSampleCount() != 3 {
				t.Errorf("e2e count %d, want 3", h.GetSampleCount())
			}
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == 0.005 && b.GetCumulativeCount() != 2 {
					t.Errorf("le=0.005: %d, want 2", b.GetCumulativeCount())
				}
				if b.GetUpperBound() == 0.025 && b.GetCumulativeCount() != 3 {
					t.Errorf("le=0.025: %d, want 3", b.GetCumulativeCount())
				}
			}
			if s := h.GetSampleSum(); s < 0.024 || s > 0.0245 {
				t.Errorf("sum %g s, want about 0.024", s)
			}
			return
		}
	}
	t.Fatal("no e2e latency histogram for p001")
}

// The Grafana dashboard is valid JSON and asks only for generator series
// the exporter writes.
func TestDashboardQueriesExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/kbench-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	e := New("r")
	e.Interval(interval(1, 1, time.Millisecond))
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	mfs, _ := reg.Gather()
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range regexp.MustCompile(`kbench_[a-z_]+`).FindAllString(string(raw), -1) {
		if strings.HasPrefix(name, "kbench_broker_") {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !have[base] {
			t.Errorf("the dashboard queries %s, which the exporter does not write", name)
		}
	}
}
