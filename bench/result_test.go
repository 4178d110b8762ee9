package bench

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func histOf(values ...time.Duration) *hdr.Histogram {
	h := newHist()
	for _, v := range values {
		record(h, v)
	}
	return h
}

func TestHlogRoundTrip(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)
	ivs := []*Interval{
		{Mode: ModeE2E, RunStart: start, Start: 0, End: 5 * time.Second,
			Service: histOf(time.Millisecond, 2*time.Millisecond, 90*time.Millisecond), Response: histOf(3*time.Millisecond, 2*time.Second), E2E: histOf(4 * time.Millisecond)},
		{Mode: ModeE2E, RunStart: start, Start: 5 * time.Second, End: 10 * time.Second,
			Service: histOf(), Response: histOf(70 * time.Second), E2E: histOf(time.Microsecond, 5*time.Minute+time.Second)},
	}
	var buf bytes.Buffer
	s := NewHlogSink(&buf)
	for _, iv := range ivs {
		if err := s.Interval(iv); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(buf.String(), "#[Histogram log format version 1.3]") {
		t.Errorf("log does not start with the format version line:\n%s", buf.String())
	}
	got, err := ReadHlog(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("read %d interval histograms, want 6", len(got))
	}
	for i, lh := range got {
		iv := ivs[i/3]
		wantTag := []string{"service", "response", "e2e"}[i%3]
		wantHist := []*hdr.Histogram{iv.Service, iv.Response, iv.E2E}[i%3]
		if lh.Tag != wantTag {
			t.Errorf("histogram %d: tag %q, want %q", i, lh.Tag, wantTag)
		}
		if !lh.Hist.Equals(wantHist) {
			t.Errorf("histogram %d (%s): counts differ after the round trip (count %d, want %d)", i, lh.Tag, lh.Hist.TotalCount(), wantHist.TotalCount())
		}
		if !lh.Start.Equal(start.Add(iv.Start)) || !lh.End.Equal(start.Add(iv.End)) {
			t.Errorf("histogram %d: interval %v..%v, want %v..%v", i, lh.Start, lh.End, start.Add(iv.Start), start.Add(iv.End))
		}
	}
	// 70 s is kept (the range goes to 5 min) and values beyond it are clamped, not lost.
	if v := got[4].Hist.Max(); v < int64(70*time.Second)*999/1000 {
		t.Errorf("70 s response read back as max %v", time.Duration(v))
	}
	if c := got[5].Hist.TotalCount(); c != 2 {
		t.Errorf("e2e interval count %d, want 2 (the out-of-range value clamped)", c)
	}
	// The produce mode writes no e2e histograms.
	buf.Reset()
	s = NewHlogSink(&buf)
	iv := *ivs[0]
	iv.Mode = ModeProduce
	if err := s.Interval(&iv); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadHlog(&buf); len(got) != 2 {
		t.Errorf("produce interval wrote %d histograms, want 2", len(got))
	}
}

func TestLatencySummary(t *testing.T) {
	var vals []time.Duration
	for i := 1; i <= 1000; i++ {
		vals = append(vals, time.Duration(i)*time.Millisecond)
	}
	l := summarize(histOf(vals...))
	near := func(name string, got, want float64) {
		if got < want*0.999 || got > want*1.001 {
			t.Errorf("%s = %v ms, want %v ms (0.1 %%)", name, got, want)
		}
	}
	near("p50", l.P50, 500)
	near("p90", l.P90, 900)
	near("p99", l.P99, 990)
	near("p99.9", l.P999, 999)
	near("max", l.Max, 1000)
	near("min", l.Min, 1)
	if l.Count != 1000 {
		t.Errorf("count %d, want 1000", l.Count)
	}
	h, err := l.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	if !h.Equals(histOf(vals...)) {
		t.Error("the histogram kept in the summary differs from the original")
	}
	if summarize(newHist()) != nil {
		t.Error("an empty histogram should summarise to nil")
	}
}

func sampleResult() *Result {
	lat := summarize(histOf(time.Millisecond, 3*time.Millisecond, time.Second))
	r := &Result{
		Mode: ModeE2E,
		Settings: RunConfig{
			Mode:      ModeE2E,
			Client:    map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "[redacted]"},
			Producer:  map[string]string{"linger.ms": "10"},
			Consumer:  map[string]string{"fetch.min.bytes": "1"},
			Topic:     TopicConfig{Name: "t", Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "60000"}, Recreate: true},
			Workload:  Workload{RecordSize: "uniform:10:20", Keys: "zipf:100:1.5", Payload: "json", Compressibility: 0.25, Seed: 99},
			Producers: 2, Consumers: 3, Rate: 1234.5, Warmup: 2 * time.Second, Duration: 10 * time.Second,
			NumRecords: 7, Prefill: 8, Interval: time.Second, DrainTimeout: 3 * time.Second,
		},
		EffectiveProducer: map[string]string{"acks": "all"},
		Manifest: Manifest{Kbench: "v1", Go: "go1.26", OS: "linux", Arch: "amd64", CPUModel: "cpu", CPUs: 2, GoMaxProcs: 2,
			Hostname: "h", Started: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Target: "external", Bootstrap: []string{"a:1"},
			ClusterID: "c", Brokers: 3, Controller: 1, BrokerVersionGuess: "v3.7", APIVersions: map[string]int16{"Produce": 9}},
		Partitions: 3, Elapsed: 12.5, Measured: 10.25, Interrupted: true,
		Produce: &ProduceFigures{TargetRate: 1234.5, Sent: 10, Acked: 9, Failed: 1, Undelivered: 0, RecordsPerSec: 1.5, AchievedPct: 99.5,
			MiBPerSec: 0.25, WireMiBPerSec: 0.125, CompressionRatio: 3.5},
		Consume: &ConsumeFigures{Consumed: 9, RecordsPerSec: 1.5, MiBPerSec: 0.25, WireMiBPerSec: 0.5, LagAtEnd: 4, Unconsumed: 1, Redelivered: 2, IdleConsumers: 1},
		Latency: LatencyFigures{Service: lat, Response: lat, E2E: lat},
		CPU:     CPUFigures{Cores: 1.25, Available: 2, Saturated: true, IncludesBroker: true},
		Errors:  []ErrorCount{{Code: 7, Name: "REQUEST_TIMED_OUT", Count: 3}, {Name: "client: canceled", Count: 1}},
		Intervals: []IntervalFigures{{End: 1, Warmup: true, AckedPerSec: 2, ConsumedPer: 3, ServiceP99: 4, ResponseP99: 5, E2EP99: 6,
			Failed: 1, CPUCores: 0.5, ResponseCount: 9}},
	}
	r.judge()
	return r
}

func TestResultJSONRoundTrip(t *testing.T) {
	r := sampleResult()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, back) {
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(back)
		t.Errorf("round trip changed the result:\n got %s\nwant %s", b, a)
	}
	if back.Valid || len(back.Invalid) < 4 {
		t.Errorf("invalid reasons lost: valid %v, reasons %q", back.Valid, back.Invalid)
	}
}

func TestResultRedactsSecrets(t *testing.T) {
	cfg := RunConfig{Client: map[string]string{"sasl.password": "hunter2", "sasl.jaas.config": `x required password="hunter2";`, "ssl.key.password": "hunter2", "sasl.username": "u"}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("secret in JSON: %s", b)
	}
	if !strings.Contains(string(b), `"sasl.username":"u"`) {
		t.Errorf("non-secret property lost: %s", b)
	}
	if cfg.Client["sasl.password"] != "hunter2" {
		t.Error("redaction modified the caller's map")
	}
}

func TestJudge(t *testing.T) {
	base := func() *Result {
		return &Result{Measured: 10, CPU: CPUFigures{Available: 2, Cores: 0.5},
			Produce: &ProduceFigures{TargetRate: 1000, RecordsPerSec: 995, AchievedPct: 99.5}}
	}
	tests := []struct {
		name   string
		mutate func(r *Result)
		want   string // "" = valid
	}{
		{"valid", func(*Result) {}, ""},
		{"slow", func(r *Result) { r.Produce.RecordsPerSec, r.Produce.AchievedPct = 980, 98 }, "98.0 % of the 1000 records/s target"},
		{"unthrottled never misses", func(r *Result) { r.Produce.TargetRate, r.Produce.RecordsPerSec = 0, 1 }, ""},
		{"cpu", func(r *Result) { r.CPU.Cores, r.CPU.Saturated = 1.9, true }, "CPU was saturated: 1.90 of 2 cores"},
		{"errors", func(r *Result) { r.Errors = []ErrorCount{{Code: 19, Name: "NOT_ENOUGH_REPLICAS", Count: 5}} }, "5 errors occurred: 5 × NOT_ENOUGH_REPLICAS (19)"},
		{"interrupted", func(r *Result) { r.Interrupted, r.Elapsed = true, 3 }, "interrupted after 3.0 s"},
		{"nothing measured", func(r *Result) { r.Measured = 0 }, "nothing was measured"},
		{"undelivered", func(r *Result) { r.Produce.Undelivered = 4 }, "4 records were never acknowledged"},
		{"unconsumed", func(r *Result) { r.Consume = &ConsumeFigures{Unconsumed: 2} }, "2 acknowledged records were not consumed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.mutate(r)
			r.judge()
			got := strings.Join(r.Invalid, "; ")
			if tt.want == "" {
				if !r.Valid || got != "" {
					t.Errorf("got invalid (%s), want valid", got)
				}
				return
			}
			if r.Valid || !strings.Contains(got, tt.want) {
				t.Errorf("got valid=%v reasons %q, want invalid mentioning %q", r.Valid, got, tt.want)
			}
		})
	}
}
