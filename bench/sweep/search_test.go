package sweep

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/profiles"
)

// fakeTarget is a cluster with a known capacity, no clock and no broker:
// latency grows as 1/(1-utilisation) (a single-server queue), and producers
// that cannot keep up fall behind their open-loop schedule, so their
// response times explode.
type fakeTarget struct {
	capacity    float64 // broker records/s
	producerMax float64 // what the producers can do flat out; 0 = no limit
	baseMs      float64 // p99 at no load
	noise       float64 // ± share of random noise on latency and throughput
	rng         *rand.Rand
	rates       []float64
}

func (f *fakeTarget) limit() float64 {
	if f.producerMax > 0 {
		return math.Min(f.capacity, f.producerMax)
	}
	return f.capacity
}

func (f *fakeTarget) jitter() float64 {
	if f.noise == 0 {
		return 1
	}
	return 1 + f.noise*(2*f.rng.Float64()-1)
}

func (f *fakeTarget) Probe(_ context.Context, rate float64) (Observation, error) {
	f.rates = append(f.rates, rate)
	lim := f.limit()
	achieved := lim
	if rate > 0 {
		achieved = math.Min(rate, lim)
	}
	achieved *= math.Min(f.jitter(), 1)
	p99 := 60000.0 // behind schedule: the backlog's age
	if u := achieved / f.capacity; (rate == 0 || rate <= lim) && u < 1 {
		p99 = f.baseMs / (1 - u) * f.jitter()
	}
	return Observation{Target: rate, Achieved: achieved, Measured: true, Latency: &bench.Latency{P99: p99}, LagRecords: -1}, nil
}

// sustainable is the true answer for an SLO of p99 ≤ sloMs: below the
// producers' limit, where the queue's p99 stays within the bound.
func (f *fakeTarget) sustainable(sloMs float64) float64 {
	return math.Min(f.capacity*(1-f.baseMs/sloMs), f.limit())
}

func slo20() profiles.SLO {
	return profiles.SLO{Latency: "response", P99Ms: 20, ErrorFree: true, MaxLagSec: 1}
}

func TestSearchFindsKnownCapacity(t *testing.T) {
	tests := []struct {
		name   string
		target fakeTarget
		cfg    profiles.Search
	}{
		{"start far below", fakeTarget{capacity: 100000, baseMs: 2}, profiles.Search{Start: 1000, Factor: 2, Precision: 0.05, MaxProbes: 20}},
		{"start far above", fakeTarget{capacity: 100000, baseMs: 2}, profiles.Search{Start: 2e6, Factor: 2, Precision: 0.05, MaxProbes: 20}},
		{"start near", fakeTarget{capacity: 50000, baseMs: 5}, profiles.Search{Start: 40000, Factor: 2, Precision: 0.02, MaxProbes: 20}},
		{"calibrated", fakeTarget{capacity: 80000, baseMs: 2}, profiles.Search{Factor: 2, Precision: 0.05, MaxProbes: 10}},
		{"producer limited, calibrated", fakeTarget{capacity: 100000, producerMax: 30000, baseMs: 1}, profiles.Search{Factor: 2, Precision: 0.05, MaxProbes: 10}},
		{"producer limited, start above", fakeTarget{capacity: 100000, producerMax: 30000, baseMs: 1}, profiles.Search{Start: 90000, Factor: 2, Precision: 0.05, MaxProbes: 12}},
		{"big factor", fakeTarget{capacity: 7000, baseMs: 3}, profiles.Search{Start: 100, Factor: 8, Precision: 0.05, MaxProbes: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.target
			res, err := Search(context.Background(), tt.cfg, slo20(), &f)
			if err != nil {
				t.Fatal(err)
			}
			want := f.sustainable(20)
			if res.Stop != StopConverged || !res.Converged {
				t.Fatalf("stop %q after %d probes %v, want converged", res.Stop, len(res.Probes), f.rates)
			}
			if res.Found > want || res.Hi <= want {
				t.Fatalf("bracket [%.0f, %.0f] does not hold the sustainable rate %.0f", res.Lo, res.Hi, want)
			}
			if res.WidthPct > tt.cfg.Precision*100 {
				t.Fatalf("bracket width %.2f %%, want ≤ %.2f %%", res.WidthPct, tt.cfg.Precision*100)
			}
			if len(res.Probes) > tt.cfg.MaxProbes {
				t.Fatalf("%d probes, budget %d", len(res.Probes), tt.cfg.MaxProbes)
			}
			if res.Achieved < bench.MinAchieved*res.Found {
				t.Fatalf("achieved %.0f at the found %.0f", res.Achieved, res.Found)
			}
			t.Logf("found %.0f of %.0f in %d probes: %v", res.Found, want, len(res.Probes), f.rates)
		})
	}
}

// The known failure of other tools: a search that walks past what the
// producers can do. With calibration no probe goes above 1.1× flat out.
func TestSearchNeverOvershootsProducers(t *testing.T) {
	f := fakeTarget{capacity: 1e6, producerMax: 12000, baseMs: 0.5}
	res, err := Search(context.Background(), profiles.Search{Factor: 4, Precision: 0.01, MaxProbes: 30}, slo20(), &f)
	if err != nil {
		t.Fatal(err)
	}
	if f.rates[0] != 0 {
		t.Fatalf("first probe at %v, want the unthrottled calibration (0)", f.rates[0])
	}
	for _, r := range f.rates {
		if r > 1.1*12000+1e-9 {
			t.Fatalf("probed %.0f, above 1.1 × the producers' 12000: %v", r, f.rates)
		}
	}
	if res.Found > 12000 || res.Found < 12000*0.99 {
		t.Fatalf("found %.0f, want within 1 %% below 12000", res.Found)
	}
}

func TestSearchEnds(t *testing.T) {
	tests := []struct {
		name     string
		target   fakeTarget
		cfg      profiles.Search
		stop     string
		found    float64
		maxCalls int
	}{
		{"nothing passes", fakeTarget{capacity: 1e5, baseMs: 50}, profiles.Search{Start: 1000, Min: 100, Factor: 2, Precision: 0.05, MaxProbes: 20}, StopMinFailed, 0, 6},
		{"max passes", fakeTarget{capacity: 1e5, baseMs: 1}, profiles.Search{Start: 1000, Max: 5000, Factor: 2, Precision: 0.05, MaxProbes: 20}, StopMaxPassed, 5000, 5},
		{"budget", fakeTarget{capacity: 1e5, baseMs: 1}, profiles.Search{Start: 10, Max: 1e9, Factor: 2, Precision: 0.001, MaxProbes: 4}, StopMaxProbes, 80, 4},
		{"calibration empty", fakeTarget{capacity: 0, baseMs: 1}, profiles.Search{Factor: 2, Precision: 0.05, MaxProbes: 10}, StopCalibration, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.target
			res, err := Search(context.Background(), tt.cfg, slo20(), &f)
			if err != nil {
				t.Fatal(err)
			}
			if res.Stop != tt.stop || res.Found != tt.found {
				t.Fatalf("got stop %q found %v, want %q %v (probes %v)", res.Stop, res.Found, tt.stop, tt.found, f.rates)
			}
			if len(f.rates) > tt.maxCalls {
				t.Fatalf("%d probes, want at most %d: %v", len(f.rates), tt.maxCalls, f.rates)
			}
		})
	}
}

// Noise may make verdicts non-monotonic; the bracket must still only shrink
// and every probe stay inside it.
func TestSearchInvariantsUnderNoise(t *testing.T) {
	for seed := range uint64(200) {
		f := fakeTarget{capacity: 20000 + float64(seed)*700, baseMs: 2, noise: 0.3, rng: rand.New(rand.NewPCG(seed, 1))}
		cfg := profiles.Search{Start: float64(500 + 97*seed), Factor: 2, Precision: 0.05, MaxProbes: 12}
		if seed%3 == 0 {
			cfg.Start = 0
		}
		s := newSearch(cfg)
		lo, hi := 0.0, math.Inf(1)
		for {
			rate, ok := s.next()
			if !ok {
				break
			}
			if rate != 0 && (rate <= lo || rate >= hi) {
				t.Fatalf("seed %d: probe %.0f outside the bracket (%.0f, %.0f)", seed, rate, lo, hi)
			}
			o, _ := f.Probe(context.Background(), rate)
			s.record(rate, o, judge(o, slo20()))
			if s.lo < lo || (s.hi != 0 && s.hi > hi) {
				t.Fatalf("seed %d: bracket grew to [%.0f, %.0f] from [%.0f, %.0f]", seed, s.lo, s.hi, lo, hi)
			}
			lo = s.lo
			if s.hi != 0 {
				hi = s.hi
			}
		}
		if len(s.probes) > cfg.MaxProbes {
			t.Fatalf("seed %d: %d probes over the budget %d", seed, len(s.probes), cfg.MaxProbes)
		}
	}
}

type failingProber struct{ after int }

func (p *failingProber) Probe(_ context.Context, rate float64) (Observation, error) {
	if p.after == 0 {
		return Observation{}, errors.New("broker went away")
	}
	p.after--
	return Observation{Target: rate, Achieved: rate, Measured: true, Latency: &bench.Latency{P99: 1}}, nil
}

func TestSearchStopsOnProberError(t *testing.T) {
	res, err := Search(context.Background(), profiles.Search{Start: 100, Factor: 2, Precision: 0.05, MaxProbes: 10}, slo20(), &failingProber{after: 2})
	if err == nil || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("got %v, want the prober's error", err)
	}
	if len(res.Probes) != 2 || res.Found != 200 {
		t.Fatalf("got %d probes, found %v; want the 2 probes before the error, found 200", len(res.Probes), res.Found)
	}
}

func TestJudge(t *testing.T) {
	lat := &bench.Latency{P50: 1, P99: 15, P999: 40}
	ok := Observation{Target: 1000, Achieved: 995, Measured: true, Latency: lat, LagRecords: 100}
	slo := profiles.SLO{Latency: "response", P99Ms: 20, P999Ms: 50, ErrorFree: true, MaxLagSec: 1}
	tests := []struct {
		name    string
		mutate  func(o *Observation, s *profiles.SLO)
		pass    bool
		limited bool
		reason  string
	}{
		{"meets everything", func(*Observation, *profiles.SLO) {}, true, false, ""},
		{"p99 over", func(_ *Observation, s *profiles.SLO) { s.P99Ms = 10 }, false, false, "p99 15.00 ms > 10 ms"},
		{"p99.9 over", func(_ *Observation, s *profiles.SLO) { s.P999Ms = 30 }, false, false, "p99.9 40.00 ms > 30 ms"},
		{"short of target", func(o *Observation, _ *profiles.SLO) { o.Achieved = 980 }, false, true, "98.0 % of the 1000 target"},
		{"errors", func(o *Observation, _ *profiles.SLO) { o.Errors, o.ErrorDetail = 3, "3 × NOT_ENOUGH_REPLICAS" }, false, false, "NOT_ENOUGH_REPLICAS"},
		{"errors allowed", func(o *Observation, s *profiles.SLO) { o.Errors, s.ErrorFree = 3, false }, true, false, ""},
		{"lag", func(o *Observation, _ *profiles.SLO) { o.LagRecords = 5000 }, false, false, "5.00 s of production"},
		{"lag unthrottled uses achieved", func(o *Observation, _ *profiles.SLO) { o.Target, o.LagRecords = 0, 900 }, true, false, ""},
		{"no latency", func(o *Observation, _ *profiles.SLO) { o.Latency = nil }, false, false, "no response latency"},
		{"nothing measured", func(o *Observation, _ *profiles.SLO) { o.Measured = false }, false, false, "nothing was measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, s := ok, slo
			tt.mutate(&o, &s)
			v := judge(o, s)
			if v.Pass != tt.pass || v.Limited != tt.limited {
				t.Fatalf("got pass %v limited %v (%v), want %v %v", v.Pass, v.Limited, v.Reasons, tt.pass, tt.limited)
			}
			if tt.reason != "" && !strings.Contains(strings.Join(v.Reasons, "; "), tt.reason) {
				t.Fatalf("reasons %q, want one containing %q", v.Reasons, tt.reason)
			}
		})
	}
}
