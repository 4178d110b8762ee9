package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRawWrite is BenchmarkAppend's floor: the same batch sizes written
// with plain sequential pwrite to fresh files rolled at the same segment
// size (the oldest deleted, as retention would), with no log around them
// and no fsync when a segment rolls (the log flushes a rolled segment, as
// Kafka does). Run them side by side: the difference is what the storage
// layer adds; the rest is the kernel's page-cache write.
func BenchmarkRawWrite(b *testing.B) {
	for _, msgSz := range []int{100, 1024, 10240} {
		for _, batchSz := range []int{16 << 10, 256 << 10} {
			n := max(1, batchSz/(msgSz+10))
			batch := mkBatch(n, msgSz, 0)
			b.Run(fmt.Sprintf("MsgSz=%d/BatchSz=%dKiB", msgSz, batchSz>>10), func(b *testing.B) {
				const segment = 128 << 20
				dir := b.TempDir()
				var f, prev *os.File
				var off int64
				roll := func(i int) {
					if prev != nil {
						prev.Close()
						os.Remove(prev.Name())
					}
					prev = f
					var err error
					if f, err = os.Create(filepath.Join(dir, fmt.Sprintf("%020d.log", i))); err != nil {
						b.Fatal(err)
					}
					off = 0
				}
				roll(0)
				b.Cleanup(func() { f.Close(); prev.Close() })
				b.SetBytes(int64(len(batch)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if off+int64(len(batch)) > segment {
						roll(i)
					}
					if _, err := f.WriteAt(batch, off); err != nil {
						b.Fatal(err)
					}
					off += int64(len(batch))
					i++
				}
				b.ReportMetric(float64(i*n)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
