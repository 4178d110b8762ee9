package agent

import (
	"encoding/json"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kbench/kbench/bench"
)

func TestParseAgents(t *testing.T) {
	for _, tc := range []struct {
		in    string
		count int
		names []string
		bad   bool
	}{
		{in: "3", count: 3},
		{in: "a1,a2", count: 2, names: []string{"a1", "a2"}},
		{in: "load-7", count: 1, names: []string{"load-7"}},
		{in: "0", bad: true},
		{in: "-2", bad: true},
		{in: "a1,,a2", bad: true},
		{in: "a1,a1", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			count, names, err := ParseAgents(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %d %v, want an error", count, names)
				}
				return
			}
			if err != nil || count != tc.count || len(names) != len(tc.names) {
				t.Fatalf("got %d %v %v, want %d %v", count, names, err, tc.count, tc.names)
			}
		})
	}
}

// TestShares checks the split: every producer, consumer and record/s is
// handed out once, consumer numbers tile 0..total-1, and stamps differ.
func TestShares(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		producers, consumers  int
		rate                  float64
		agents                int
		wantProds, wantConses int
	}{
		{"even", 6, 3, 30000, 3, 6, 3},
		{"uneven", 5, 4, 10000, 3, 5, 4},
		{"fewer clients than agents", 1, 1, 30000, 3, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := []string{"a", "b", "c", "d", "e"}[:tc.agents]
			cfg := bench.RunConfig{Mode: bench.ModeE2E, Producers: tc.producers, Consumers: tc.consumers, Rate: tc.rate, NumRecords: 9000,
				Client: map[string]string{"sasl.password": "secret", "security.protocol": "SASL_SSL", "ssl.ca.location": "/ca.pem", "bootstrap.servers": "k:9092", "metadata.max.age.ms": "500"}}
			start := time.Now()
			sh := shares(cfg, names, start)
			var prods, conses int
			var rate float64
			var records int64
			next := 0
			stamps := map[uint64]bool{}
			for _, n := range names {
				s := sh[n]
				prods += s.Producers
				conses += s.Consumers
				rate += s.Rate
				records += s.NumRecords
				if s.Share.FirstConsumer != next || s.Share.Consumers != tc.wantConses || !s.Share.Start.Equal(start) || s.Share.Agent != n {
					t.Errorf("%s: got share %+v, want consumers from %d of %d", n, s.Share, next, tc.wantConses)
				}
				next += s.Consumers
				stamps[s.Share.Stamp] = true
				// Connection and security properties are each agent's own.
				if len(s.Client) != 1 || s.Client["metadata.max.age.ms"] != "500" {
					t.Errorf("%s: got client properties %v, want only metadata.max.age.ms", n, s.Client)
				}
			}
			if prods != tc.wantProds || conses != tc.wantConses {
				t.Errorf("got %d producers, %d consumers, want %d, %d", prods, conses, tc.wantProds, tc.wantConses)
			}
			if rate < tc.rate-1e-6 || rate > tc.rate+1e-6 {
				t.Errorf("got total rate %v, want %v", rate, tc.rate)
			}
			if records > 9000 || records < 9000-int64(tc.agents) {
				t.Errorf("got %d records in all, want 9000 (less rounding)", records)
			}
			if len(stamps) != tc.agents {
				t.Errorf("got %d distinct stamps, want %d", len(stamps), tc.agents)
			}
		})
	}
}

// TestIntervalWireRoundTrip: an interval survives the control topic's
// encoding (JSON around HdrHistogram's compressed form) exactly.
func TestIntervalWireRoundTrip(t *testing.T) {
	h := func(vals ...int64) *hdr.Histogram {
		x := hdr.New(1000, int64(5*time.Minute), 3)
		for _, v := range vals {
			_ = x.RecordValue(v)
		}
		return x
	}
	in := &bench.Interval{
		Mode: bench.ModeE2E, Index: 4, RunStart: time.Unix(1700000000, 123456789), Start: 4 * time.Second, End: 5 * time.Second,
		Final: true, Sent: 10, Acked: 9, Failed: 1, AckedBytes: 900, Consumed: 8, ConsumedBytes: 800, CPUCores: 0.75,
		Service: h(1500, 2_000_000, 90_000_000), Response: h(1600), E2E: h(3_000_000, 3_100_000),
	}
	w, err := toWire(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(message{Kind: kindInterval, Interval: w})
	if err != nil {
		t.Fatal(err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out, err := m.Interval.interval()
	if err != nil {
		t.Fatal(err)
	}
	if out.Index != in.Index || !out.RunStart.Equal(in.RunStart) || out.Start != in.Start || out.End != in.End || !out.Final ||
		out.Sent != 10 || out.Acked != 9 || out.Failed != 1 || out.AckedBytes != 900 || out.Consumed != 8 || out.ConsumedBytes != 800 || out.CPUCores != 0.75 {
		t.Errorf("got %+v, want %+v", out, in)
	}
	for name, pair := range map[string][2]*hdr.Histogram{"service": {in.Service, out.Service}, "response": {in.Response, out.Response}, "e2e": {in.E2E, out.E2E}} {
		if !pair[0].Equals(pair[1]) {
			t.Errorf("%s histogram changed on the way", name)
		}
	}
	if _, err := (&wireInterval{Service: []byte("not a histogram")}).interval(); err == nil {
		t.Error("a corrupt histogram decoded without an error")
	}
}
