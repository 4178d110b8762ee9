package selfbench

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	s := summarize([]float64{10, 12, 8, 11})
	if s.Median != 10.5 || s.Min != 8 || s.Max != 12 || s.N != 4 {
		t.Errorf("got %+v, want median 10.5, min 8, max 12, n 4", s)
	}
	if got, want := s.Spread(), 4/10.5; math.Abs(got-want) > 1e-12 {
		t.Errorf("spread %v, want %v", got, want)
	}
	if e := summarize(nil); !math.IsNaN(e.Median) || e.N != 0 {
		t.Errorf("empty: got %+v, want NaN median and n 0", e)
	}
}

func TestRatios(t *testing.T) {
	for _, tc := range []struct {
		name        string
		target, ref map[int]float64
		want        Stat
	}{
		{
			name:   "per round",
			target: map[int]float64{0: 50, 1: 90, 2: 60},
			ref:    map[int]float64{0: 100, 1: 100, 2: 200},
			// 0.5, 0.9, 0.3: the median of per-round ratios, not
			// median(target)/median(ref) = 60/100.
			want: Stat{Median: 0.5, Min: 0.3, Max: 0.9, N: 3},
		},
		{
			name:   "missing and zero rounds left out",
			target: map[int]float64{0: 50, 1: 90, 2: 60},
			ref:    map[int]float64{0: 100, 2: 0},
			want:   Stat{Median: 0.5, Min: 0.5, Max: 0.5, N: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ratios(tc.target, tc.ref)
			if math.Abs(got.Median-tc.want.Median) > 1e-12 || math.Abs(got.Min-tc.want.Min) > 1e-12 ||
				math.Abs(got.Max-tc.want.Max) > 1e-12 || got.N != tc.want.N {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := ratios(map[int]float64{0: 1}, nil); got.N != 0 || !math.IsNaN(got.Median) {
		t.Errorf("no reference: got %+v, want n 0 and NaN", got)
	}
}

// A round that measured nothing (a ratio of 0/0) is written as null, not
// refused by the JSON encoder, and read back as NaN.
func TestStatJSONWithUnmeasuredRound(t *testing.T) {
	in := Stat{Median: 0.9, Min: 0.8, Max: 1, N: 3, Values: []float64{0.8, math.NaN(), 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("marshal %+v: %v", in, err)
	}
	if !strings.Contains(string(b), `"values":[0.8,null,1]`) {
		t.Errorf("got %s, want the unmeasured round as null", b)
	}
	var out Stat
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Values) != 3 || out.Values[0] != 0.8 || !math.IsNaN(out.Values[1]) || out.Values[2] != 1 || out.Median != 0.9 {
		t.Errorf("read back %+v, want %+v", out, in)
	}
}
