package stats

import (
	"math"
	"slices"
)

// MaxExact is the largest total count of runs (both sides) for which the
// rank test enumerates its exact distribution; beyond it the normal
// approximation is close and the enumeration would cost more.
const MaxExact = 50

// RankTest is the two-sided Mann–Whitney U test of two independent samples.
type RankTest struct {
	// U counts the pairs (a, b) with a > b, ties counting one half.
	U float64
	// P is the probability of a rank difference at least this large if
	// both samples came from the same distribution.
	P float64
	// Exact is set when P comes from the exact distribution over every
	// split of the pooled ranks (ties included); otherwise from the normal
	// approximation with the ties correction.
	Exact bool
}

// MannWhitney tests whether a and b come from the same distribution
// against a shift of either direction. Non-finite values are dropped; with
// an empty side P is 1.
func MannWhitney(a, b []float64) RankTest {
	a, b = finite(a), finite(b)
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return RankTest{P: 1, Exact: true}
	}
	ranks, ties := midranks(a, b)
	var w float64 // rank sum of a
	for _, r := range ranks[:m] {
		w += r
	}
	u := w - float64(m*(m+1))/2
	N := m + n
	if N <= MaxExact {
		twice := make([]int, N) // midranks are whole or half: doubled they are whole
		for i, r := range ranks {
			twice[i] = int(math.Round(2 * r))
		}
		obs := int(math.Round(2 * w))
		mu := m * (N + 1) // mean of the doubled rank sum
		dist := sumCounts(twice, m)
		dev := abs(obs - mu)
		var hit, all float64
		for s, c := range dist {
			all += c
			if abs(s-mu) >= dev {
				hit += c
			}
		}
		return RankTest{U: u, P: min(1, hit/all), Exact: true}
	}
	mn := float64(m * n)
	v := mn / 12 * (float64(N+1) - ties/float64(N*(N-1)))
	if v <= 0 {
		return RankTest{U: u, P: 1}
	}
	z := max(math.Abs(u-mn/2)-0.5, 0) / math.Sqrt(v)
	return RankTest{U: u, P: min(1, math.Erfc(z/math.Sqrt2))}
}

// midranks ranks the pooled a then b (average ranks for ties, from 1) and
// returns the ranks in that order with Σ(t³−t) over tie groups.
func midranks(a, b []float64) ([]float64, float64) {
	N := len(a) + len(b)
	idx := make([]int, N)
	val := func(i int) float64 {
		if i < len(a) {
			return a[i]
		}
		return b[i-len(a)]
	}
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		switch vi, vj := val(i), val(j); {
		case vi < vj:
			return -1
		case vi > vj:
			return 1
		}
		return 0
	})
	ranks := make([]float64, N)
	var ties float64
	for i := 0; i < N; {
		j := i
		for j+1 < N && val(idx[j+1]) == val(idx[i]) {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = r
		}
		t := float64(j - i + 1)
		ties += t*t*t - t
		i = j + 1
	}
	return ranks, ties
}

// sumCounts gives, for every total s, how many ways k of the values sum to
// s (dist[s]). Counts stay exact in float64 up to MaxExact values.
func sumCounts(vals []int, k int) []float64 {
	total := 0
	for _, v := range vals {
		total += v
	}
	// ways[j][s]: subsets of size j of the values seen so far summing to s.
	ways := make([][]float64, k+1)
	for j := range ways {
		ways[j] = make([]float64, total+1)
	}
	ways[0][0] = 1
	for _, v := range vals {
		for j := k; j >= 1; j-- {
			for s := total; s >= v; s-- {
				ways[j][s] += ways[j-1][s-v]
			}
		}
	}
	return ways[k]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// MinP is the smallest two-sided p-value the rank test can give with m and
// n runs (no ties): below the level nothing can be significant, however
// large the difference. 2 / C(m+n, m).
func MinP(m, n int) float64 {
	if m == 0 || n == 0 {
		return 1
	}
	c := 1.0
	for i := 1; i <= m; i++ {
		c = c * float64(n+i) / float64(i)
	}
	return min(1, 2/c)
}

// Comparison is B against A for one figure.
type Comparison struct {
	A, B Summary
	// Delta is B relative to A (+0.10: B is 10 % higher): B's median over
	// A's median − 1, what a reader can check from the two medians.
	Delta float64
	// Lo and Hi bound the relative shift at the confidence Level: the
	// Moses interval around the Hodges–Lehmann estimate (the median over
	// every pair of one A run and one B run of B/A), for figures that are
	// not all positive of B − A over A's median. ±Inf when there are too
	// few runs to bound it.
	Lo, Hi float64
	Level  float64
	Test   RankTest
	// Significant is set when Test.P is below the test's level.
	Significant bool
}

// Compare compares b against a at significance level alpha (0.05: a
// difference this large would show by chance in at most 1 comparison in
// 20 of identical settings); the interval is at confidence 1 − alpha.
func Compare(a, b []float64, alpha float64) Comparison {
	a, b = finite(a), finite(b)
	c := Comparison{A: Summarize(a), B: Summarize(b), Level: 1 - alpha, Test: MannWhitney(a, b)}
	c.Significant = c.Test.P < alpha
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		c.Delta, c.Lo, c.Hi = math.NaN(), math.NaN(), math.NaN()
		return c
	}
	positive := slices.Min(a) > 0 && slices.Min(b) > 0
	d := make([]float64, 0, m*n)
	for _, x := range a {
		for _, y := range b {
			if positive {
				d = append(d, math.Log(y/x))
			} else {
				d = append(d, y-x)
			}
		}
	}
	slices.Sort(d)
	rel := func(v float64) float64 {
		if positive {
			return math.Exp(v) - 1
		}
		return v / math.Abs(c.A.Median) // ±Inf or NaN when A's median is 0
	}
	c.Delta = (c.B.Median - c.A.Median) / math.Abs(c.A.Median)
	c.Lo, c.Hi = math.Inf(-1), math.Inf(1)
	if k := criticalU(m, n, alpha); k >= 1 {
		c.Lo, c.Hi = rel(d[k-1]), rel(d[m*n-k])
	}
	return c
}

// criticalU is the largest k with P(U ≤ k−1) ≤ alpha/2 under no
// difference (no ties): the k-th smallest and k-th largest pairwise
// differences then bound the shift at confidence at least 1 − alpha. 0
// when even U = 0 is too likely.
func criticalU(m, n int, alpha float64) int {
	if m+n > MaxExact {
		z := math.Sqrt2 * math.Erfinv(1-alpha)
		mn := float64(m * n)
		k := int(math.Floor(mn/2 - z*math.Sqrt(mn*float64(m+n+1)/12)))
		return max(k, 0)
	}
	ranks := make([]int, m+n)
	for i := range ranks {
		ranks[i] = i + 1
	}
	dist := sumCounts(ranks, m) // index: rank sum W = U + m(m+1)/2
	off := m * (m + 1) / 2
	var all float64
	for _, c := range dist {
		all += c
	}
	var cum float64
	k := 0
	for u := 0; u <= m*n; u++ {
		cum += dist[u+off]
		if cum/all > alpha/2 {
			break
		}
		k = u + 1
	}
	return k
}
