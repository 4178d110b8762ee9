package sweep

import "github.com/kbench/kbench/bench"

// backlogFigures adds a backlog run's build and drain figures to f.
func backlogFigures(f map[string]float64, b *bench.BacklogFigures) {
	if b == nil {
		return
	}
	f["backlog_built_records"] = float64(b.BuiltRecords)
	f["backlog_built_mib"] = float64(b.BuiltBytes) / (1 << 20)
	f["backlog_build_s"] = float64(b.BuildS)
	if !b.Built {
		return
	}
	if b.Drained {
		f["drain_time_s"] = float64(b.DrainS)
	}
	f["drain_records_per_sec"] = b.DrainRecordsPerSec
	f["drain_mib_per_sec"] = b.DrainMiBPerSec
	f["drain_produce_records_per_sec"] = b.ProduceRecordsPerSec
	f["drain_net_records_per_sec"] = b.NetRecordsPerSec
	for _, ph := range []struct {
		name string
		lat  bench.PhaseLatency
	}{{"before_drain", b.BeforeDrain}, {"during_drain", b.DuringDrain}} {
		for _, l := range []struct {
			name string
			lat  *bench.Latency
		}{{"service", ph.lat.Service}, {"response", ph.lat.Response}} {
			if l.lat != nil {
				f[ph.name+"_"+l.name+"_p50_ms"] = l.lat.P50
				f[ph.name+"_"+l.name+"_p99_ms"] = l.lat.P99
			}
		}
	}
}
