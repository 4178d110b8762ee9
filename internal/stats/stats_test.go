package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"empty", nil, nan},
		{"one", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"even is the mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"non-finite dropped", []float64{nan, 1, math.Inf(1), 3}, 2},
		{"only NaN", []float64{nan}, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Median(tt.in)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Fatalf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	in := []float64{3, 1, 2}
	Median(in)
	if in[0] != 3 || in[1] != 1 {
		t.Fatalf("Median sorted its input: %v", in)
	}
}

func TestMedianIndex(t *testing.T) {
	tests := []struct {
		in   []float64
		want int
	}{
		{nil, -1},
		{[]float64{5}, 0},
		{[]float64{30, 10, 20}, 2},
		{[]float64{40, 10, 30, 20}, 3}, // lower middle: 20
		{[]float64{math.NaN(), 9, 8}, 2},
	}
	for _, tt := range tests {
		if got := MedianIndex(tt.in); got != tt.want {
			t.Errorf("MedianIndex(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{10, 12, math.NaN(), 8, 11})
	if s.N != 4 || s.Median != 10.5 || s.Min != 8 || s.Max != 12 {
		t.Fatalf("got %+v, want N 4 median 10.5 min 8 max 12", s)
	}
	if got, want := s.Spread(), 4/10.5; math.Abs(got-want) > 1e-12 {
		t.Fatalf("Spread = %v, want %v", got, want)
	}
	if e := Summarize(nil); e.N != 0 || !math.IsNaN(e.Median) || e.Spread() != 0 {
		t.Fatalf("empty: got %+v spread %v, want N 0, NaN median, spread 0", e, e.Spread())
	}
	if z := Summarize([]float64{-1, 0, 1}); z.Spread() != 0 {
		t.Fatalf("zero median: spread %v, want 0", z.Spread())
	}
}

func TestMedianInterval(t *testing.T) {
	xs := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5} // 1..9
	tests := []struct {
		n      int
		lo, hi float64
	}{
		// n=5: P(B ≤ 0) = 1/32 > 0.025, unbounded; n=6: 1/64 ≤ 0.025 < 7/64, the extremes.
		{5, math.Inf(-1), math.Inf(1)},
		{6, 1, 9}, // of 9,1,8,2,7,3: min 1, max 9
		{9, 2, 8}, // P(B ≤ 1) = 10/512 ≤ 0.025: the second from each end
	}
	for _, tt := range tests {
		lo, hi := MedianInterval(xs[:tt.n], 0.05)
		if lo != tt.lo || hi != tt.hi {
			t.Errorf("n=%d: [%v, %v], want [%v, %v]", tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	// Coverage: the interval holds the true median at least 95 % of the time.
	rng := rand.New(rand.NewPCG(9, 10))
	miss := 0
	for range 1000 {
		s := make([]float64, 12)
		for i := range s {
			s[i] = rng.ExpFloat64() // median ln 2
		}
		if lo, hi := MedianInterval(s, 0.05); lo > math.Ln2 || hi < math.Ln2 {
			miss++
		}
	}
	if miss > 50+14 { // 5 % plus two standard errors of 1,000 trials
		t.Fatalf("interval missed the median in %d of 1000 trials, want at most about 50", miss)
	}
}
