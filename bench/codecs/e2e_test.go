package codecs

import (
	"context"
	"testing"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/target"
)

func TestWorkloadMapping(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    bench.Workload
		err     bool
	}{
		{"json", bench.Workload{Payload: "json"}, false},
		{"random:0.25", bench.Workload{Payload: "random", Compressibility: 0.75}, false},
		{"file:/x.txt", bench.Workload{Payload: "file:/x.txt"}, false},
		{"random:2", bench.Workload{}, true},
		{"avro", bench.Workload{}, true},
	} {
		w, err := workload(tc.payload, "1KiB")
		if (err != nil) != tc.err {
			t.Fatalf("%s: got error %v, want error %v", tc.payload, err, tc.err)
		}
		if err == nil && (w.Payload != tc.want.Payload || w.Compressibility != tc.want.Compressibility) {
			t.Fatalf("%s: got %+v, want %+v", tc.payload, w, tc.want)
		}
	}
}

// TestEndToEnd produces JSON with and without zstd against an embedded
// broker: zstd must put fewer bytes on the wire and on disk per record.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tg, err := target.Start(ctx, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res, err := RunEndToEnd(ctx, E2EConfig{Codecs: []string{"none", "zstd"}, Target: tg, DataDir: tg.Dir(), Payload: "json",
		RecordSize: "0", BatchSize: 64 << 10, Rate: 2000, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2", len(res))
	}
	none, zstd := res[0], res[1]
	for _, r := range res {
		if r.RecordsTotal == 0 || r.DiskBytesPerRec <= 0 || r.WireBytesPerRec <= 0 {
			t.Fatalf("%s: missing figures %+v", r.Codec, r)
		}
	}
	if zstd.Ratio < 2 || zstd.DiskBytesPerRec*2 > none.DiskBytesPerRec || zstd.WireBytesPerRec*2 > none.WireBytesPerRec {
		t.Fatalf("zstd on JSON: ratio %.2f, disk %.0f vs %.0f B/rec, wire %.0f vs %.0f B/rec: want at least 2x smaller",
			zstd.Ratio, zstd.DiskBytesPerRec, none.DiskBytesPerRec, zstd.WireBytesPerRec, none.WireBytesPerRec)
	}
}
