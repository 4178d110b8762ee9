package codecs

import (
	"testing"
)

// cell makes a synthetic result: ratio and compress+decompress CPU s/GB
// split evenly.
func cell(label string, batch int, ratio, cpu float64) Result {
	return Result{
		Label: label, BatchBytes: batch, Ratio: ratio,
		Compress:   &Speed{MedianMBps: 2e3 / cpu, CPUSecPerGB: cpu / 2},
		Decompress: &Speed{MedianMBps: 2e3 / cpu, CPUSecPerGB: cpu / 2},
	}
}

func TestRecommend(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		results                  []Result
		bandwidth, cpu, balanced string
	}{
		{
			name: "classic spread",
			results: []Result{
				{Label: "none", BatchBytes: 1, Ratio: 1},
				cell("gzip:9", 1, 5.0, 50), // dominated by zstd:best
				cell("zstd:best", 1, 5.1, 25),
				cell("zstd:default", 1, 4.6, 5),
				cell("zstd:fastest", 1, 4.3, 4.5),
				cell("snappy", 1, 3.0, 2),
				cell("lz4:fast", 1, 2.9, 2.6), // dominated by snappy
			},
			bandwidth: "zstd:best", cpu: "snappy", balanced: "zstd:default",
		},
		{
			name: "ratio tie broken by cpu",
			results: []Result{
				cell("gzip:9", 1, 4.14, 27.2),
				cell("zstd:best", 1, 4.15, 26),
				cell("lz4:fast", 1, 2, 2),
			},
			bandwidth: "zstd:best", cpu: "lz4:fast", balanced: "zstd:best",
		},
		{
			name: "nothing worth it",
			results: []Result{
				{Label: "none", BatchBytes: 1, Ratio: 1},
				cell("zstd:default", 1, 1.02, 3),
				cell("lz4:fast", 1, 1.0, 0.5),
			},
			bandwidth: "zstd:default", cpu: "none", balanced: "none",
		},
		{
			name:      "only one codec",
			results:   []Result{cell("snappy", 1, 2.5, 2)},
			bandwidth: "snappy", cpu: "snappy", balanced: "snappy",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := Recommend(tc.results)
			if len(recs) != 1 {
				t.Fatalf("got %d recommendations, want 1", len(recs))
			}
			r := recs[0]
			if r.Bandwidth.Label != tc.bandwidth || r.CPU.Label != tc.cpu || r.Balanced.Label != tc.balanced {
				t.Errorf("got bandwidth %s, cpu %s, balanced %s; want %s, %s, %s",
					r.Bandwidth.Label, r.CPU.Label, r.Balanced.Label, tc.bandwidth, tc.cpu, tc.balanced)
			}
		})
	}
}

func TestRecommendPerBatchSize(t *testing.T) {
	recs := Recommend([]Result{
		cell("zstd:best", 16, 3, 20), cell("lz4:fast", 16, 2, 2),
		cell("zstd:best", 1024, 6, 20), cell("lz4:fast", 1024, 2.5, 2),
		{Label: "none", BatchBytes: 4096, Ratio: 1}, // no codec measured here
	})
	if len(recs) != 2 || recs[0].BatchBytes != 16 || recs[1].BatchBytes != 1024 {
		t.Fatalf("got %+v, want one recommendation each for 16 and 1024", recs)
	}
}

func TestParetoFront(t *testing.T) {
	a, b, c, d := cell("a", 1, 5, 20), cell("b", 1, 4, 5), cell("c", 1, 3, 6), cell("d", 1, 4, 5)
	front := paretoFront([]*Result{&a, &b, &c, &d})
	got := map[string]bool{}
	for _, r := range front {
		got[r.Label] = true
	}
	// c is beaten by b on both; b and d tie and both stay.
	if len(got) != 3 || !got["a"] || !got["b"] || !got["d"] || got["c"] {
		t.Errorf("front %v, want a, b, d", got)
	}
}
