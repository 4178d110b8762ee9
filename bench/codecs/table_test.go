package codecs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench"
)

func sampleReport() *Report {
	rs := []Result{
		{Label: "none", Codec: "none", BatchBytes: 16 << 10, Ratio: 1, Batches: 4},
		cell("lz4:fast", 16<<10, 2.5, 2),
		cell("zstd:best", 16<<10, 4, 30),
		cell("snappy", 1<<20, 3, 1.5),
		cell("zstd:default", 1<<20, 5, 5),
	}
	rs[1].RawBatches, rs[1].Batches = 1, 4
	w := bench.Workload{Payload: "json", RecordSize: "uniform:300:900", Keys: "zipf:1000:1.2", Seed: 9}
	return &Report{Workload: w, Records: 4000, SampleBytes: 2400000, Reps: 5, Clock: "thread-cpu", Results: rs, Recommendations: Recommend(rs)}
}

func TestSorted(t *testing.T) {
	rs := sampleReport().Results
	for key, want := range map[string]string{
		"ratio":      "zstd:best lz4:fast none zstd:default snappy",
		"compress":   "none lz4:fast zstd:best snappy zstd:default",
		"decompress": "none lz4:fast zstd:best snappy zstd:default",
		"cpu":        "none lz4:fast zstd:best snappy zstd:default",
	} {
		var got []string
		for _, r := range Sorted(rs, key) {
			got = append(got, r.Label)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("sort %s: got %v, want %s", key, got, want)
		}
	}
	if err := CheckSort("size"); err == nil || !strings.Contains(err.Error(), "--sort") || !strings.Contains(err.Error(), "ratio, compress, decompress, cpu") {
		t.Errorf("CheckSort(size) = %v, want an error naming --sort and the valid orders", err)
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteWorkload(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "payload json, record size uniform:300:900, keys zipf:1000:1.2, seed 9: 4000 records, 2.3MiB of values"; !strings.HasPrefix(got, want) {
		t.Errorf("workload line %q, want prefix %q", got, want)
	}
	buf.Reset()
	if err := WriteTable(&buf, sampleReport(), "ratio"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.Contains(lines[0], "RATIO") || !strings.Contains(lines[0], "COMPRESS MB/s") {
		t.Fatalf("header %q", lines[0])
	}
	for i, want := range []string{"16KiB zstd:best 4.00", "16KiB lz4:fast 2.50 1/4", "16KiB none 1.00 - - - 0 -", "1MiB zstd:default 5.00"} {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); !strings.HasPrefix(got, want) {
			t.Errorf("row %d: got %q, want prefix %q", i+1, got, want)
		}
	}
	buf.Reset()
	if err := WriteRecommendations(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"16KiB batches", "for bandwidth: zstd:best", "for CPU:       lz4:fast", "1MiB batches", "for bandwidth: zstd:default"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("recommendations lack %q:\n%s", want, buf.String())
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "codecs.json")
	if err := WriteJSON(path, rep); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	rep.Started, back.Started = rep.Started.UTC(), back.Started.UTC()
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("report changed through JSON:\ngot  %+v\nwant %+v", back, *rep)
	}
	if err := WriteJSON(filepath.Join(t.TempDir(), "missing", "x.json"), rep); err == nil {
		t.Error("writing into a missing directory must fail")
	}
}
