package sweep

import (
	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/stats"
)

// Stat summarises one figure over a point's counted runs.
type Stat struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// SpreadPct is (Max-Min)/Median × 100: how far repetitions disagree.
	SpreadPct float64 `json:"spread_pct"`
}

func stat(xs []float64) Stat {
	s := stats.Summarize(xs)
	return Stat{N: s.N, Median: s.Median, Min: s.Min, Max: s.Max, SpreadPct: 100 * s.Spread()}
}

// RunFigures picks the figures a sweep compares from a run's result. Names
// are stable: reports and kbench compare read them (see doc.go).
func RunFigures(res *bench.Result) map[string]float64 {
	f := map[string]float64{"cpu_cores": res.CPU.Cores}
	if p := res.Produce; p != nil {
		f["produce_records_per_sec"] = p.RecordsPerSec
		f["produce_mib_per_sec"] = p.MiBPerSec
		f["produce_wire_mib_per_sec"] = p.WireMiBPerSec
		if p.CompressionRatio > 0 {
			f["compression_ratio"] = p.CompressionRatio
		}
		if p.MiBPerSec > 0 {
			// CPU seconds per 10^9 record bytes produced.
			f["cpu_s_per_gb"] = res.CPU.Cores * 1e9 / (p.MiBPerSec * (1 << 20))
		}
	}
	if c := res.Consume; c != nil {
		f["consume_records_per_sec"] = c.RecordsPerSec
		f["consume_mib_per_sec"] = c.MiBPerSec
		f["lag_at_end"] = float64(c.LagAtEnd)
	}
	for _, l := range []struct {
		name string
		lat  *bench.Latency
	}{{"response", res.Latency.Response}, {"service", res.Latency.Service}, {"e2e", res.Latency.E2E}} {
		if l.lat == nil {
			continue
		}
		f[l.name+"_p50_ms"] = l.lat.P50
		f[l.name+"_p99_ms"] = l.lat.P99
		f[l.name+"_p99_9_ms"] = l.lat.P999
		f[l.name+"_max_ms"] = l.lat.Max
	}
	backlogFigures(f, res.Backlog)
	return f
}

// summarise turns per-run figures into stats; a figure missing from some
// runs is summarised over the runs that have it.
func summarise(runs []map[string]float64) map[string]Stat {
	vals := map[string][]float64{}
	for _, r := range runs {
		for k, v := range r {
			vals[k] = append(vals[k], v)
		}
	}
	out := map[string]Stat{}
	for k, xs := range vals {
		out[k] = stat(xs)
	}
	return out
}
