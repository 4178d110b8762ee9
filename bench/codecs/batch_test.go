package codecs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

// jsonRecords is total bytes of 1KiB json records keyed by session (as
// Defaults), as producer 0 of a run with this seed sends them.
func jsonRecords(tb testing.TB, seed uint64, total int) []record {
	tb.Helper()
	w := Defaults().Workload
	w.Seed = seed
	return testRecords(tb, w, total)
}

func testRecords(tb testing.TB, w bench.Workload, total int) []record {
	tb.Helper()
	rs, err := w.Records(0, 16<<10)
	if err != nil {
		tb.Fatal(err)
	}
	return genRecords(rs, total)
}

// allCodecs is every codec at every level it accepts.
func allCodecs(t testing.TB) []Codec {
	var levels []string
	for _, n := range CodecNames() {
		levels = append(levels, n+":all")
	}
	cs, err := ParseCodecs(CodecNames(), levels)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// edgeRecords covers null and empty keys and values, 1-byte records and
// incompressible values.
func edgeRecords() map[string][]record {
	r := rand.New(rand.NewPCG(7, 7))
	one := func(i int) []record {
		var rs []record
		for j := range i {
			rs = append(rs, record{key: []byte{byte(j)}, value: []byte{byte(j * 7)}, ts: int64(j)})
		}
		return rs
	}
	var random []record
	for i := range 4 {
		random = append(random, record{key: randBytes(r, 16), value: randBytes(r, 16<<10), ts: int64(i)})
	}
	return map[string][]record{
		"null key and value": {{ts: 5}},
		"empty key and value": {
			{key: []byte{}, value: []byte{}, ts: 5},
			{key: nil, value: []byte{}, ts: 6},
			{key: []byte{}, value: nil, ts: 7},
		},
		"one 1-byte record":     one(1),
		"many 1-byte records":   one(500),
		"incompressible 64KiB":  random,
		"timestamps going back": {{value: []byte("a"), ts: 100}, {value: []byte("b"), ts: 40}},
	}
}

func TestRoundTripEveryCodecAndLevel(t *testing.T) {
	cases := edgeRecords()
	cases["json events"] = jsonRecords(t, 3, 48<<10)
	dec := kgo.DefaultDecompressor()
	for _, c := range allCodecs(t) {
		comp, err := newCompressor(c)
		if err != nil {
			t.Fatal(err)
		}
		for name, recs := range cases {
			t.Run(c.Label()+"/"+name, func(t *testing.T) {
				batches := buildBatches(recs, 1<<20)
				if len(batches) != 1 || len(batches[0].recs) != len(recs) {
					t.Fatalf("got %d batches, want 1 holding all %d records", len(batches), len(recs))
				}
				b := &batches[0]
				codec, section := kgo.CodecNone, b.section
				if comp != nil {
					var used kgo.CompressionCodecType
					section, used = comp.Compress(new(bytes.Buffer), b.section)
					if codec = c.kgoType(); used != codec {
						t.Fatalf("compressor used codec %d, want %d", used, codec)
					}
				}
				if err := b.verifyWire(b.wire(nil, codec, section), dec); err != nil {
					t.Fatal(err)
				}
			})
		}
		t.Run(c.Label()+"/empty input", func(t *testing.T) {
			if comp == nil {
				t.Skip("none does not compress")
			}
			out, used := comp.Compress(new(bytes.Buffer), nil)
			back, err := dec.Decompress(out, used)
			if err != nil || len(back) != 0 {
				t.Fatalf("empty input came back as %d bytes, %v", len(back), err)
			}
		})
	}
}

func TestVerifyCatchesCorruption(t *testing.T) {
	w := Defaults().Workload
	w.RecordSize, w.Seed = "512", 9
	b := buildBatches(testRecords(t, w, 20<<10), 16<<10)[0]
	comp, err := newCompressor(Codec{Name: "zstd", Level: Level{"default", 2}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := comp.Compress(new(bytes.Buffer), b.section)
	good := b.wire(nil, kgo.CodecZstd, out)
	dec := kgo.DefaultDecompressor()
	if err := b.verifyWire(good, dec); err != nil {
		t.Fatalf("intact batch: %v", err)
	}
	for name, mutate := range map[string]func(w []byte) []byte{
		"payload byte": func(w []byte) []byte { w[len(w)-10] ^= 0x40; return w },
		"crc":          func(w []byte) []byte { w[crcOffset] ^= 1; return w },
		"codec":        func(w []byte) []byte { w[crcOffset+5] = byte(kgo.CodecLz4); return w },
		"truncated":    func(w []byte) []byte { return w[:len(w)-5] },
		"record count": func(w []byte) []byte { w[60]++; return w },
		"magic":        func(w []byte) []byte { w[16] = 1; return w },
	} {
		t.Run(name, func(t *testing.T) {
			err := b.verifyWire(mutate(bytes.Clone(good)), dec)
			if !errors.Is(err, errVerify) {
				t.Fatalf("got %v, want a verification error", err)
			}
		})
	}
	// A record that differs from what was produced, in a well-formed batch.
	other := b
	other.recs = append([]record(nil), b.recs...)
	other.recs[3].value = append(bytes.Clone(other.recs[3].value), 'x')
	if err := other.verifyWire(good, dec); !errors.Is(err, errVerify) {
		t.Fatalf("changed record: got %v, want a verification error", err)
	}
}

func TestBuildBatchesRespectsLimit(t *testing.T) {
	recs := jsonRecords(t, 5, 1<<20)
	for _, limit := range []int{4 << 10, 16 << 10, 100_000, 256 << 10} {
		batches := buildBatches(recs, limit)
		if len(batches) < 2 {
			t.Fatalf("limit %d: got %d batches, want several", limit, len(batches))
		}
		n := 0
		for _, b := range batches {
			if b.wireSize() > limit {
				t.Errorf("limit %d: batch of %d bytes", limit, b.wireSize())
			}
			// Closed by the limit: the next record would not have fit,
			// so a batch is never much smaller than the limit.
			if b.wireSize() < limit-2048 {
				t.Errorf("limit %d: batch of only %d bytes", limit, b.wireSize())
			}
			if !bytes.Equal(b.recs[0].value, recs[n].value) {
				t.Fatalf("limit %d: batches do not follow the record stream", limit)
			}
			n += len(b.recs)
		}
	}
	// A record larger than the limit gets a batch of its own.
	big := []record{{value: make([]byte, 5000)}, {value: make([]byte, 5000)}, {value: make([]byte, 10)}}
	if got := buildBatches(big, 1000); len(got) != 2 || len(got[0].recs) != 1 || len(got[1].recs) != 1 {
		t.Errorf("oversized records: got %d batches", len(got))
	}
}
