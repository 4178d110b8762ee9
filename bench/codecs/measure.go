package codecs

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/kbench/kbench/internal/stats"
)

// Speed is one direction, compress or decompress, of one cell. MB are 10^6
// bytes of uncompressed records; seconds are CPU seconds of the one thread
// doing the work (see clockName), so MB/s is per core.
type Speed struct {
	MedianMBps  float64   `json:"median_mb_per_s"`
	MinMBps     float64   `json:"min_mb_per_s"`
	MaxMBps     float64   `json:"max_mb_per_s"`
	SpreadPct   float64   `json:"spread_pct"` // (max-min)/median, in percent
	SamplesMBps []float64 `json:"samples_mb_per_s"`
	// CPUSecPerGB is CPU seconds per 10^9 uncompressed bytes at the median.
	CPUSecPerGB float64 `json:"cpu_s_per_gb"`
	// Heap allocations per batch, averaged over every repetition.
	AllocsPerBatch     float64 `json:"allocs_per_batch"`
	AllocBytesPerBatch float64 `json:"alloc_bytes_per_batch"`
	BatchesPerRep      int     `json:"batches_per_rep"`
}

// measure times op over n batches. One calibration pass warms the codec's
// pools and estimates the cost of a call; then each of reps repetitions runs
// the same number of calls, enough for minTime of CPU, cycling through the
// batches. The clock is read only around whole repetitions, so its cost does
// not land on fast codecs. size(i) is the uncompressed bytes call i covers.
func measure(ctx context.Context, n int, size func(int) int, op func(int) error, reps int, minTime time.Duration) (Speed, error) {
	// The thread clock only means something if the goroutine stays put.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Start every cell from a collected heap, so one cell's garbage is not
	// paid for by the next; the calibration pass then refills franz-go's
	// codec pools, which a collection empties.
	runtime.GC()
	clk := newCPUClock()

	t0 := clk.now()
	for i := range n {
		if err := op(i); err != nil {
			return Speed{}, err
		}
	}
	perCall := max((clk.now()-t0)/time.Duration(n), time.Nanosecond)
	calls := max(int(math.Ceil(float64(minTime)/float64(perCall))), 1)

	var (
		sp    = Speed{BatchesPerRep: calls}
		ms    runtime.MemStats
		next  int
		alloc uint64
		bytes uint64
	)
	for range reps {
		if err := ctx.Err(); err != nil {
			return Speed{}, err
		}
		runtime.ReadMemStats(&ms)
		mallocs, total := ms.Mallocs, ms.TotalAlloc
		var done int64
		start := clk.now()
		for range calls {
			if err := op(next); err != nil {
				return Speed{}, err
			}
			done += int64(size(next))
			if next++; next == n {
				next = 0
			}
		}
		elapsed := clk.now() - start
		runtime.ReadMemStats(&ms)
		alloc += ms.Mallocs - mallocs
		bytes += ms.TotalAlloc - total
		sp.SamplesMBps = append(sp.SamplesMBps, float64(done)/1e6/max(elapsed.Seconds(), 1e-9))
	}
	st := stats.Summarize(sp.SamplesMBps)
	sp.MedianMBps, sp.MinMBps, sp.MaxMBps, sp.SpreadPct = st.Median, st.Min, st.Max, 100*st.Spread()
	sp.CPUSecPerGB = 1e3 / sp.MedianMBps
	sp.AllocsPerBatch = float64(alloc) / float64(reps*calls)
	sp.AllocBytesPerBatch = float64(bytes) / float64(reps*calls)
	return sp, nil
}
