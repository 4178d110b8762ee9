package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteP is the exact two-sided p-value by enumerating every way of
// labelling m of the pooled values as A: an independent check of the
// distribution MannWhitney computes.
func bruteP(a, b []float64) float64 {
	pool := append(append([]float64{}, a...), b...)
	m, N := len(a), len(pool)
	ranks, _ := midranks(pool, nil)
	mu := float64(m*(N+1)) / 2
	var w float64
	for _, r := range ranks[:m] {
		w += r
	}
	dev := math.Abs(w - mu)
	var hit, all float64
	for mask := 0; mask < 1<<N; mask++ {
		if popcount(mask) != m {
			continue
		}
		var s float64
		for i := range N {
			if mask&(1<<i) != 0 {
				s += ranks[i]
			}
		}
		all++
		if math.Abs(s-mu) >= dev-1e-9 {
			hit++
		}
	}
	return hit / all
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestMannWhitney(t *testing.T) {
	tests := []struct {
		name  string
		a, b  []float64
		u     float64
		p     float64
		exact bool
	}{
		// Every B above every A: the most extreme of C(8,4) = 70 splits, on either side.
		{"4+4 separated", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 0, 2.0 / 70, true},
		{"4+4 reversed", []float64{5, 6, 7, 8}, []float64{1, 2, 3, 4}, 16, 2.0 / 70, true},
		{"3+3 separated cannot reach 0.05", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1, true},
		{"identical", []float64{1, 1, 1}, []float64{1, 1, 1}, 4.5, 1, true},
		{"interleaved", []float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, 6, 0.6857142857142857, true},
		{"empty side", nil, []float64{1}, 0, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MannWhitney(tt.a, tt.b)
			if got.U != tt.u || math.Abs(got.P-tt.p) > 1e-12 || got.Exact != tt.exact {
				t.Fatalf("got U %v p %v exact %v, want U %v p %v exact %v", got.U, got.P, got.Exact, tt.u, tt.p, tt.exact)
			}
		})
	}
}

// The exact distribution, ties included, matches brute-force enumeration.
func TestMannWhitneyExactMatchesEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		m, n := 2+rng.IntN(5), 2+rng.IntN(5)
		a, b := make([]float64, m), make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(6)) // few distinct values: many ties
		}
		for i := range b {
			b[i] = float64(rng.IntN(6) + rng.IntN(2))
		}
		got, want := MannWhitney(a, b).P, bruteP(a, b)
		if math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d a %v b %v: p %v, want %v", trial, a, b, got, want)
		}
	}
}

// Beyond MaxExact runs the normal approximation takes over and agrees
// with the exact answer it replaces closely.
func TestMannWhitneyNormalApproximation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := make([]float64, 25), make([]float64, 25)
	for i := range a {
		a[i], b[i] = rng.NormFloat64(), rng.NormFloat64()+0.7
	}
	exact := MannWhitney(a, b)
	big := MannWhitney(append(a, a...), append(b, b...)) // 100 runs: approximate, doubled ties
	if !exact.Exact || big.Exact {
		t.Fatalf("exact flags: %v (50 runs), %v (100 runs); want true, false", exact.Exact, big.Exact)
	}
	// The same data doubled is far more significant; both must be small.
	if exact.P > 0.05 || big.P > exact.P {
		t.Fatalf("p %v (25+25), %v (50+50 doubled); want < 0.05 and smaller when doubled", exact.P, big.P)
	}
	// At the boundary the approximation (computed directly) is close to exact.
	mn := 25.0 * 25
	z := (math.Abs(exact.U-mn/2) - 0.5) / math.Sqrt(mn*51/12)
	if approx := math.Erfc(z / math.Sqrt2); math.Abs(approx-exact.P) > 0.01 {
		t.Fatalf("normal approximation %v vs exact %v: differ by more than 0.01", approx, exact.P)
	}
}

func TestMinP(t *testing.T) {
	for _, tt := range []struct {
		m, n int
		want float64
	}{{3, 3, 0.1}, {4, 4, 2.0 / 70}, {6, 6, 2.0 / 924}, {0, 4, 1}, {1, 1, 1}} {
		if got := MinP(tt.m, tt.n); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("MinP(%d, %d) = %v, want %v", tt.m, tt.n, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	a := []float64{100, 102, 98, 101, 99, 100}
	b := []float64{110, 112, 108, 111, 109, 110}
	c := Compare(a, b, 0.05)
	if !c.Significant || c.Test.P > 0.01 {
		t.Fatalf("clear 10%% shift: significant %v p %v, want significant with p < 0.01", c.Significant, c.Test.P)
	}
	if math.Abs(c.Delta-0.10) > 0.01 || !(c.Lo > 0 && c.Lo < c.Delta && c.Delta < c.Hi) {
		t.Fatalf("delta %v [%v, %v], want about +0.10 inside a positive interval", c.Delta, c.Lo, c.Hi)
	}
	if c.A.Median != 100 || c.B.Median != 110 {
		t.Fatalf("medians %v, %v; want 100, 110", c.A.Median, c.B.Median)
	}
	same := Compare(a, a, 0.05)
	if same.Significant || same.Delta != 0 || !(same.Lo < 0 && same.Hi > 0) {
		t.Fatalf("A against itself: %+v, want not significant, delta 0 inside the interval", same)
	}
	few := Compare([]float64{1, 2, 3}, []float64{10, 20, 30}, 0.05)
	if few.Significant || !math.IsInf(few.Lo, -1) || !math.IsInf(few.Hi, 1) {
		t.Fatalf("3+3 runs: %+v, want not significant and an unbounded interval", few)
	}
	// Figures with zeros (lag, errors) compare by differences over A's median.
	z := Compare([]float64{0, 10, 10, 10}, []float64{20, 20, 30, 20}, 0.05)
	if math.Abs(z.Delta-1.0) > 1e-9 {
		t.Fatalf("with zeros: delta %v, want 1.0 (median difference 10 over A's median 10)", z.Delta)
	}
}

// The rank test's false-positive rate on A/A data (both sides from one
// distribution: a log-normal spread like run-to-run throughput) stays
// within its level over many trials, and the interval covers "no change"
// at least as often as it claims.
func TestFalsePositiveRate(t *testing.T) {
	const trials, alpha = 1000, 0.05
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{4, 6, 10} {
		var reject, missed int
		for range trials {
			a, b := noisy(rng, n, 1, 0.12), noisy(rng, n, 1, 0.12)
			c := Compare(a, b, alpha)
			if c.Significant {
				reject++
			}
			if c.Lo > 0 || c.Hi < 0 {
				missed++
			}
		}
		rate, miss := float64(reject)/trials, float64(missed)/trials
		t.Logf("%d+%d runs: %d/%d A/A trials significant (%.3f), interval missed 0 in %.3f", n, n, reject, trials, rate, miss)
		// The exact test's size is at most alpha; allow 2 standard errors of the trial count.
		if limit := alpha + 2*math.Sqrt(alpha*(1-alpha)/trials); rate > limit || miss > limit {
			t.Fatalf("%d+%d: false-positive rate %.3f, interval miss rate %.3f; want both ≤ %.3f", n, n, rate, miss, limit)
		}
	}
}

// noisy draws n runs around centre with log-normal noise of the given
// standard deviation (0.12: runs typically within ±25 % of each other).
func noisy(rng *rand.Rand, n int, centre, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = centre * math.Exp(sd*rng.NormFloat64())
	}
	return out
}

// Power: how often a real shift is found with 6+6 runs. Per-run noise is
// log-normal; sd 0.04 keeps runs within about ±8 % of each other (quiet
// machine, fixed-rate figures), sd 0.15 within about ±30 % (a shared
// machine, unthrottled throughput). A 10 % shift is found reliably only at
// the first; at ±30 % the same 12 runs reliably find about 40 %, which the
// help says in plain words.
func TestPower(t *testing.T) {
	const trials = 1000
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tt := range []struct {
		sd, shift, min float64
	}{
		{0.04, 1.10, 0.90},
		{0.15, 1.40, 0.85},
	} {
		hit := 0
		for range trials {
			a, b := noisy(rng, 6, 1, tt.sd), noisy(rng, 6, tt.shift, tt.sd)
			c := Compare(a, b, 0.05)
			if c.Significant && c.Delta > 0 {
				hit++
			}
		}
		power := float64(hit) / trials
		t.Logf("6+6 runs, noise sd %.2f, shift %+.0f%%: found in %.3f of %d trials", tt.sd, 100*(tt.shift-1), power, trials)
		if power < tt.min {
			t.Fatalf("noise sd %.2f, shift %+.0f%%: found in %.3f of trials, want at least %.2f", tt.sd, 100*(tt.shift-1), power, tt.min)
		}
	}
}

// TestDetectableChange: at the change DetectableChange names, simulated
// runs with that noise are found about 9 times in 10, and RunsFor's count
// of runs finds a 10 % change about as often; a quarter of the change is
// found far less often, so the figure means what the help says.
func TestDetectableChange(t *testing.T) {
	const trials = 1000
	rng := rand.New(rand.NewPCG(11, 12))
	power := func(n int, shift, sd float64) float64 {
		hit := 0
		for range trials {
			if c := Compare(noisy(rng, n, 1, sd), noisy(rng, n, 1+shift, sd), 0.05); c.Significant && c.Delta > 0 {
				hit++
			}
		}
		return float64(hit) / trials
	}
	for _, sd := range []float64{0.04, 0.1, 0.2} {
		for _, n := range []int{6, 10} {
			d := DetectableChange(sd, n, n, 0.05, 0.9)
			p := power(n, d, sd)
			t.Logf("noise %.2f, %d+%d runs: detectable change %+.1f%%, found in %.3f of %d trials", sd, n, n, 100*d, p, trials)
			if p < 0.82 || p > 0.97 {
				t.Errorf("noise %.2f, %d+%d runs: a %.1f%% change is found in %.3f of trials, want about 0.9", sd, n, n, 100*d, p)
			}
			if q := power(n, d/4, sd); q > 0.4 {
				t.Errorf("noise %.2f, %d+%d runs: a quarter of the detectable change is found in %.3f of trials, want far fewer", sd, n, n, q)
			}
		}
		n := RunsFor(0.10, sd, 0.05, 0.9)
		if n > 12 {
			continue // slow to check with the exact test; shown above for 6 and 10 runs
		}
		p := power(n, 0.10, sd)
		t.Logf("noise %.2f: %d runs a side find a 10%% change in %.3f of trials", sd, n, p)
		if p < 0.82 {
			t.Errorf("noise %.2f: RunsFor says %d runs a side, which find a 10%% change in only %.3f of trials", sd, n, p)
		}
	}
	if !math.IsInf(DetectableChange(0.1, 3, 3, 0.05, 0.9), 1) {
		t.Error("3+3 runs can never be significant at 0.05: the detectable change should be infinite")
	}
	// LogNoise ignores the difference between the sides.
	if got := LogNoise([]float64{100, 110, 90}, []float64{200, 220, 180}); math.Abs(got-LogNoise([]float64{100, 110, 90}, []float64{100, 110, 90})) > 1e-12 {
		t.Errorf("LogNoise counts the sides' difference as noise: %v", got)
	}
}
