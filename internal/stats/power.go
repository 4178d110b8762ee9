package stats

import (
	"math"
	"math/rand/v2"
)

// LogNoise is the run-to-run noise of a positive figure measured on two
// sides: the pooled standard deviation of the logarithms, each side about
// its own mean, so a real difference between the sides is not counted as
// noise. 0.1 means runs typically within ±10 % of each other. NaN with
// fewer than two positive runs on either side.
func LogNoise(a, b []float64) float64 {
	var ss float64
	df := 0
	for _, xs := range [][]float64{a, b} {
		var logs []float64
		for _, x := range finite(xs) {
			if x > 0 {
				logs = append(logs, math.Log(x))
			}
		}
		if len(logs) < 2 {
			return math.NaN()
		}
		mean := 0.0
		for _, l := range logs {
			mean += l
		}
		mean /= float64(len(logs))
		for _, l := range logs {
			ss += (l - mean) * (l - mean)
		}
		df += len(logs) - 1
	}
	return math.Sqrt(ss / float64(df))
}

// DetectableChange is the smallest change (as a ratio minus one: 0.1 is
// 10 %) that m + n runs with the given log noise find with probability
// power at significance alpha, using Compare's rank test. For up to 40 runs
// in all it comes from simulated runs (log-normal noise, a fixed seed, so
// the answer is a pure function of the arguments): the exact test is
// discrete and, with few runs, weaker than any formula says. Beyond, the
// normal approximation with the test's efficiency of 3/π against a t-test.
func DetectableChange(noise float64, m, n int, alpha, power float64) float64 {
	if m < 1 || n < 1 || !(noise >= 0) {
		return math.NaN()
	}
	if MinP(m, n) >= alpha {
		return math.Inf(1) // too few runs to ever be significant
	}
	return math.Exp(shiftFactor(m, n, alpha, power)*noise) - 1
}

// RunsFor is how many runs a side find a change of the given size (0.1:
// 10 %) with probability power at significance alpha, at the given log
// noise; at least 4, the fewest that can be significant at 0.05.
func RunsFor(change, noise, alpha, power float64) int {
	if !(change > 0) || !(noise >= 0) {
		return 0
	}
	want := math.Log1p(change)
	for n := 4; n <= simulatedRuns/2; n++ {
		if MinP(n, n) < alpha && shiftFactor(n, n, alpha, power)*noise <= want {
			return n
		}
	}
	z := normalQuantile(1-alpha/2) + normalQuantile(power)
	return max(simulatedRuns/2+1, int(math.Ceil(2*math.Pi/3*math.Pow(z*noise/want, 2))))
}

// simulatedRuns is the largest m + n whose power is simulated.
const simulatedRuns = 40

// shiftFactor is the log shift, in units of the noise, that m + n runs
// find with probability power at significance alpha.
func shiftFactor(m, n int, alpha, power float64) float64 {
	if m+n > simulatedRuns {
		z := normalQuantile(1-alpha/2) + normalQuantile(power)
		return z * math.Sqrt((1/float64(m)+1/float64(n))*math.Pi/3)
	}
	// The same draws for every shift tried, so the power found rises with
	// the shift and the search below is a plain bisection.
	const trials = 1000
	rng := rand.New(rand.NewPCG(uint64(m), uint64(n)))
	draws := make([]float64, trials*(m+n))
	for i := range draws {
		draws[i] = rng.NormFloat64()
	}
	// Without ties the test is significant, with B above A, exactly when
	// fewer than k of the m·n pairs have A's run above B's.
	k := criticalU(m, n, alpha)
	found := func(d float64) float64 {
		hit := 0
		for tr := range trials {
			row := draws[tr*(m+n):]
			u := 0
			for _, x := range row[:m] {
				for _, y := range row[m : m+n] {
					if x > y+d {
						u++
					}
				}
			}
			if u < k {
				hit++
			}
		}
		return float64(hit) / trials
	}
	lo, hi := 0.0, 1.0
	for found(hi) < power {
		lo, hi = hi, 2*hi
	}
	for range 16 {
		mid := (lo + hi) / 2
		if found(mid) < power {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// normalQuantile is the standard normal distribution's quantile function.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
