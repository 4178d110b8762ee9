package codecs

import (
	"bytes"
	"testing"

	"github.com/kbench/kbench/internal/units"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchBatches is 1 MiB of json clickstream cut into batches of size.
func benchBatches(b *testing.B, size int) []batch {
	return buildBatches(jsonRecords(b, 1, 1<<20+size), size)
}

// BenchmarkCompress runs franz-go's compressor per codec, level and batch
// size, named like Codec=zstd:best/Batch=64KiB; run with
// `go test -bench Compress ./bench/codecs/`.
func BenchmarkCompress(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		batches := benchBatches(b, size)
		for _, c := range allCodecsDefault(b) {
			comp, err := newCompressor(c)
			if err != nil {
				b.Fatal(err)
			}
			if comp == nil {
				continue // none does no work
			}
			b.Run("Codec="+c.Label()+"/Batch="+units.FormatBytes(int64(size)), func(b *testing.B) {
				var in, out int64
				buf := new(bytes.Buffer)
				b.ReportAllocs()
				b.SetBytes(int64(len(batches[0].section)))
				i := 0
				for b.Loop() {
					buf.Reset()
					res, _ := comp.Compress(buf, batches[i].section)
					in, out = in+int64(len(batches[i].section)), out+int64(len(res))
					i = (i + 1) % len(batches)
				}
				b.ReportMetric(float64(in)/float64(out), "ratio")
			})
		}
	}
}

// BenchmarkDecompress runs franz-go's decompressor on batches compressed as
// in BenchmarkCompress.
func BenchmarkDecompress(b *testing.B) {
	dec := kgo.DefaultDecompressor()
	for _, size := range []int{16 << 10, 1 << 20} {
		batches := benchBatches(b, size)
		for _, c := range allCodecsDefault(b) {
			comp, err := newCompressor(c)
			if err != nil {
				b.Fatal(err)
			}
			if comp == nil {
				continue
			}
			typ := c.kgoType()
			compressed := make([][]byte, len(batches))
			var in, out int64
			for i := range batches {
				compressed[i], _ = comp.Compress(new(bytes.Buffer), batches[i].section)
				in, out = in+int64(len(batches[i].section)), out+int64(len(compressed[i]))
			}
			b.Run("Codec="+c.Label()+"/Batch="+units.FormatBytes(int64(size)), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(batches[0].section)))
				i := 0
				for b.Loop() {
					if _, err := dec.Decompress(compressed[i], typ); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) % len(batches)
				}
				b.ReportMetric(float64(in)/float64(out), "ratio")
			})
		}
	}
}

func allCodecsDefault(b *testing.B) []Codec {
	cs, err := ParseCodecs(CodecNames(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}
