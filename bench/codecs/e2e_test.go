package codecs

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/target"
)

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
	w := Defaults().Workload
	w.RecordSize = "0"
	res, err := RunEndToEnd(ctx, E2EConfig{Codecs: []string{"none", "zstd"}, Target: tg, DataDir: tg.Dir(), Workload: w,
		BatchSize: 64 << 10, Rate: 2000, Warmup: 500 * time.Millisecond, Duration: 2 * time.Second})
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

// jsonTime is a json event's time stamp: the send time in a run, so the one
// part of a record the in-memory measurement cannot share.
var jsonTime = regexp.MustCompile(`"ts":"[0-9T:.Z-]+"`)

// TestEndToEndSendsTheMeasuredRecords: --end-to-end produces the records
// the in-memory measurement compressed, read back from the broker: the
// same keys and values, byte for byte (json events but for their time
// stamp), also when the run's batch.size would give another default
// payload pool.
func TestEndToEndSendsTheMeasuredRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tg, err := target.Start(ctx, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for name, w := range map[string]bench.Workload{
		"random half compressible, uniform keys": random(0.5),
		"json, zipf keys, sizes vary":            {Payload: "json", RecordSize: "uniform:300:900", Keys: "zipf:1000:1.2", Seed: 7},
		"random, no keys, seed picked":           {Payload: "random", RecordSize: "200"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Defaults()
			cfg.Workload, cfg.SampleBytes = w, 8<<20
			measured, recs, err := cfg.sample()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := RunEndToEnd(ctx, E2EConfig{Codecs: []string{"zstd"}, Target: tg, Workload: measured,
				BatchSize: 16 << 10, Rate: 1000, Warmup: 200 * time.Millisecond, Duration: time.Second}); err != nil {
				t.Fatal(err)
			}
			sent := readTopic(ctx, t, tg.Bootstrap(), "kbench-codec-zstd")
			if len(sent) < 500 || len(sent) > len(recs) {
				t.Fatalf("read back %d records, want 500 to the %d measured", len(sent), len(recs))
			}
			want := map[string]int{}
			for _, r := range recs[:len(sent)] {
				want[recordID(r)]++
			}
			for i, r := range sent {
				id := recordID(r)
				if want[id] == 0 {
					t.Fatalf("record %d sent (key %q, value %.60q) is not among the first %d measured (first measured: key %q, value %.60q)",
						i, r.key, r.value, len(sent), recs[0].key, recs[0].value)
				}
				want[id]--
			}
		})
	}
}

// recordID is a record's key and value, json time stamps blanked.
func recordID(r record) string {
	return string(r.key) + "\x00" + string(jsonTime.ReplaceAll(r.value, []byte(`"ts":""`)))
}

// readTopic reads every record of topic, as many as its end offsets count.
func readTopic(ctx context.Context, t *testing.T, bootstrap []string, topic string) []record {
	t.Helper()
	total, err := recordCount(ctx, bootstrap, topic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []record
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(out), total, topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, record{key: r.Key, value: r.Value}) })
	}
	return out
}
