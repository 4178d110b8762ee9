package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func mustParse(t *testing.T, w Workload) *parsedWorkload {
	t.Helper()
	if w.Seed == 0 {
		w.Seed = 42
	}
	p, err := w.parse()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecordSizes(t *testing.T) {
	tests := []struct {
		spec     string
		min, max int
	}{
		{"100", 100, 100},
		{"1KiB", 1024, 1024},
		{"64KiB", 64 << 10, 64 << 10},
		{"uniform:100:200", 100, 200},
		{"normal:1000:10", 900, 1100},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			g := newGenerator(mustParse(t, Workload{RecordSize: tt.spec}), 0)
			lo, hi := 1<<30, 0
			for range 2000 {
				n := len(g.value(nil, time.Now()))
				lo, hi = min(lo, n), max(hi, n)
			}
			if lo < tt.min || hi > tt.max {
				t.Errorf("sizes in [%d, %d], want within [%d, %d]", lo, hi, tt.min, tt.max)
			}
			if tt.min != tt.max && lo == hi {
				t.Errorf("distribution %s produced one size only", tt.spec)
			}
		})
	}
	for _, bad := range []string{"-1", "abc", "uniform:10", "uniform:20:10", "normal:x:1", "gamma:1:2", "65MiB"} {
		if _, err := (Workload{RecordSize: bad}).parse(); err == nil {
			t.Errorf("record size %q: got no error", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	distinct := func(spec string, n int) map[string]int {
		g := newGenerator(mustParse(t, Workload{Keys: spec, RecordSize: "10"}), 0)
		seen := map[string]int{}
		for i := range n {
			seen[string(g.key(uint64(i)))]++
		}
		return seen
	}
	if k := distinct("none", 10); len(k) != 1 || k[""] != 10 {
		t.Errorf("none: got keys %v, want all nil", k)
	}
	if k := distinct("round-robin", 100); len(k) != 100 {
		t.Errorf("round-robin: %d distinct keys over 100 records, want 100", len(k))
	}
	if k := distinct("round-robin:7", 700); len(k) != 7 || k["key-3"] != 100 {
		t.Errorf("round-robin:7: got %d keys, key-3 %d times, want 7 keys each 100 times", len(k), k["key-3"])
	}
	if k := distinct("uniform:50", 5000); len(k) != 50 {
		t.Errorf("uniform:50: %d distinct keys, want 50", len(k))
	}
	// Zipf concentrates: the hottest key takes far more than a uniform share.
	z := distinct("zipf:1000:1.2", 10000)
	if z["key-0"] < 1000 {
		t.Errorf("zipf:1000:1.2: hottest key seen %d times of 10000, want a hot key (>= 1000)", z["key-0"])
	}
	if k := distinct("uniform:3", 100); len(k) != 3 {
		t.Errorf("uniform:3: %d distinct keys over 100 records, want 3", len(k))
	}
	for _, bad := range []string{"hash", "uniform:0", "uniform:x", "zipf:10:1", "zipf:10", "round-robin:x"} {
		if _, err := (Workload{Keys: bad}).parse(); err == nil {
			t.Errorf("keys %q: got no error", bad)
		}
	}
}

func TestSeedReproducible(t *testing.T) {
	w := mustParse(t, Workload{Keys: "uniform:1000", RecordSize: "uniform:10:100"})
	a, b := newGenerator(w, 3), newGenerator(w, 3)
	now := time.Unix(0, 0)
	for i := range 50 {
		ka, kb := a.key(uint64(i)), b.key(uint64(i))
		if !bytes.Equal(ka, kb) || !bytes.Equal(a.value(ka, now), b.value(kb, now)) {
			t.Fatalf("record %d differs between generators with the same seed and stream", i)
		}
	}
	// Another seed, another stream, for every payload kind.
	for _, payload := range []string{"random", "json"} {
		w := Workload{Payload: payload, Keys: "uniform:1000", RecordSize: "100"}
		x, y := newGenerator(mustParse(t, w), 0), newGenerator(mustParse(t, Workload{Payload: payload, Keys: "uniform:1000", RecordSize: "100", Seed: 43}), 0)
		if bytes.Equal(x.value(x.key(0), now), y.value(y.key(0), now)) {
			t.Errorf("%s: seeds 42 and 43 gave the same first value", payload)
		}
	}
}

// TestRecordsStream: the exported stream gives, for the same workload and
// producer, the keys and values a run's producer puts into its records.
func TestRecordsStream(t *testing.T) {
	for name, w := range sendWorkloads(t) {
		t.Run(name, func(t *testing.T) {
			_, pr, _ := sendBench(t, w, nil)
			r := &run{cfg: RunConfig{Topic: TopicConfig{Name: "t"}}, start: time.Unix(1_730_000_000, 0)}
			w.Seed = 42 // as sendBench
			rs, err := w.Records(0, 16<<10)
			if err != nil {
				t.Fatal(err)
			}
			for seq := range uint64(500) {
				intended := time.Duration(seq) * time.Millisecond
				rec := r.record(pr, pr.mem.slot(), seq, intended, r.start.Add(intended))
				key, value := rs.Next(r.start.Add(intended))
				if !bytes.Equal(key, rec.Key) || (key == nil) != (rec.Key == nil) || !bytes.Equal(value, rec.Value) {
					t.Fatalf("record %d: stream gave key %q value %.40q, the producer key %q value %.40q", seq, key, value, rec.Key, rec.Value)
				}
			}
		})
	}
	if _, err := (Workload{Keys: "zipf:3"}).Records(0, 16<<10); err == nil || !strings.Contains(err.Error(), "keys") {
		t.Errorf("bad keys: got %v, want an error naming keys", err)
	}
}

func zstdRatio(t *testing.T, g *generator, n int) float64 {
	t.Helper()
	var raw []byte
	for range n {
		raw = append(raw, g.value(nil, time.Now())...)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return float64(len(raw)) / float64(len(enc.EncodeAll(raw, nil)))
}

func TestCompressibility(t *testing.T) {
	for _, tt := range []struct {
		c        float64
		min, max float64
	}{
		{0, 0.95, 1.05},  // random bytes do not compress
		{0.5, 1.7, 2.4},  // about 2:1
		{0.75, 3.0, 4.8}, // about 4:1
		{0.9, 7.0, 12.0}, // about 10:1
	} {
		g := newGenerator(mustParse(t, Workload{RecordSize: "1024", Compressibility: tt.c}), 0)
		if r := zstdRatio(t, g, 500); r < tt.min || r > tt.max {
			t.Errorf("compressibility %.2f: zstd ratio %.2f, want within [%.1f, %.1f]", tt.c, r, tt.min, tt.max)
		}
	}
	if _, err := (Workload{Compressibility: 1.5}).parse(); err == nil {
		t.Error("compressibility 1.5: got no error")
	}
}

func TestJSONPayload(t *testing.T) {
	g := newGenerator(mustParse(t, Workload{Payload: "json", RecordSize: "1KiB", Keys: "uniform:100"}), 0)
	for i := range 200 {
		key := g.key(uint64(i))
		v := g.value(key, time.Now())
		var ev map[string]any
		if err := json.Unmarshal(v, &ev); err != nil {
			t.Fatalf("event %d is not JSON: %v\n%s", i, err, v)
		}
		if len(v) != 1024 {
			t.Fatalf("event %d is %d bytes, want 1024", i, len(v))
		}
		if ev["session_id"] != string(key) {
			t.Fatalf("session_id %v, want the record key %s", ev["session_id"], key)
		}
		for _, f := range []string{"event_id", "user", "ts", "url", "type", "user_agent", "country"} {
			if _, ok := ev[f]; !ok {
				t.Fatalf("event %d lacks %s: %s", i, f, v)
			}
		}
	}
	// Smaller than the natural event: still whole JSON, not truncated.
	small := newGenerator(mustParse(t, Workload{Payload: "json", RecordSize: "50"}), 0)
	var ev map[string]any
	if err := json.Unmarshal(small.value(nil, time.Now()), &ev); err != nil {
		t.Errorf("small event is not JSON: %v", err)
	}
	// Clickstream compresses well, which is the point of the payload.
	if r := zstdRatio(t, g, 300); r < 2 {
		t.Errorf("json events compress %.2f:1 with zstd, want >= 2", r)
	}
}

func TestFilePayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(path, []byte("alpha\n\nbeta\r\ngamma"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGenerator(mustParse(t, Workload{Payload: "file:" + path}), 0)
	seen := map[string]bool{}
	for range 100 {
		seen[string(g.value(nil, time.Now()))] = true
	}
	if len(seen) != 3 || !seen["alpha"] || !seen["beta"] || !seen["gamma"] {
		t.Errorf("sampled lines %v, want alpha, beta, gamma", seen)
	}
	if _, err := (Workload{Payload: "file:" + filepath.Join(t.TempDir(), "none")}).parse(); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing file: got %v", err)
	}
	for _, bad := range []string{"xml", "random:0.5", "json:5", "file:", "file:/nonexistent/", "blob:"} {
		if _, err := (Workload{Payload: bad}).parse(); err == nil || !strings.Contains(err.Error(), "payload") {
			t.Errorf("payload %q: got %v, want an error naming the payload", bad, err)
		}
	}
}

// blob:PATH sends the whole file, newlines and all, as every value (as
// OpenMessaging Benchmark's payloadFile does).
func TestBlobPayload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payload.data")
	blob := []byte("line one\nline two\n\x00\xff binary tail")
	if err := os.WriteFile(path, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGenerator(mustParse(t, Workload{Payload: "blob:" + path}), 0)
	for range 10 {
		if got := g.value(nil, time.Now()); !bytes.Equal(got, blob) {
			t.Fatalf("value %q, want the whole file %q", got, blob)
		}
	}
	empty := filepath.Join(dir, "empty.data")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"blob:" + empty, "blob:" + filepath.Join(dir, "none")} {
		if _, err := (Workload{Payload: bad}).parse(); err == nil {
			t.Errorf("payload %s: got no error", bad)
		}
	}
}
