package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/codecs"
)

func TestCodecsCommand(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "codecs.json")
	charts := filepath.Join(dir, "charts")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"codecs", "--payload", "random", "--compressibility", "0.5", "--keys", "round-robin:7", "--batch-sizes", "16KiB,64KiB",
		"--codecs", "none,zstd,lz4", "--min-time", "1ms", "--sample", "128KiB", "--sort", "compress",
		"--json", jsonPath, "--out", charts}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"payload random (compressibility 0.5, pool 4MiB), record size 1024, keys round-robin:7, seed 1:", "BATCH", "RATIO", "COMPRESS MB/s", "Recommendation", "16KiB batches", "64KiB batches", "for bandwidth:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && (f[0] == "16KiB" || f[0] == "64KiB") {
			rows++
		}
	}
	if rows != 2*(1+4+2) {
		t.Errorf("got %d table rows, want 14:\n%s", rows, out)
	}

	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep codecs.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	w := rep.Workload
	if len(rep.Results) != 14 || w.Payload != "random" || w.Compressibility != 0.5 || len(rep.Recommendations) != 2 {
		t.Errorf("json: %d results, payload %q compressibility %v, %d recommendations", len(rep.Results), w.Payload, w.Compressibility, len(rep.Recommendations))
	}
	// The manifest says what records were measured, down to the pool, so
	// kbench produce with the same flags sends them.
	if w.Keys != "round-robin:7" || w.RecordSize != "1024" || w.Seed != 1 || w.PayloadPool != "4MiB" {
		t.Errorf("json workload %+v, want keys round-robin:7, record size 1024, seed 1, pool 4MiB", w)
	}
	for _, r := range rep.Results {
		if r.Codec != "none" && (r.Compress == nil || len(r.Compress.SamplesMBps) != 5 || r.Ratio < 1.7 || r.Ratio > 2.1) {
			t.Errorf("json: %s at %d: ratio %.2f, compress %+v", r.Label, r.BatchBytes, r.Ratio, r.Compress)
		}
	}
	for _, name := range []string{"codecs-ratio.png", "codecs-ratio.svg", "codecs-pareto-16KiB.png", "codecs-pareto-64KiB.svg"} {
		if st, err := os.Stat(filepath.Join(charts, name)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", name, err)
		}
	}
}

func TestCodecsFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--codecs", "zstd,brotli"}, []string{"--codecs", "brotli", "none, gzip, snappy, lz4, zstd"}},
		{[]string{"--levels", "zstd:9"}, []string{"--levels", `"9"`, "fastest, default, better, best"}},
		{[]string{"--levels", "gzip:fast"}, []string{"--levels", "gzip", "1, 2, 3"}},
		{[]string{"--sort", "size"}, []string{"--sort", "ratio, compress, decompress, cpu"}},
		{[]string{"--batch-sizes", "16XB"}, []string{"--batch-sizes", "16XB"}},
		{[]string{"--payload", "xml"}, []string{`payload "xml"`, "random, json, file:PATH or blob:PATH"}},
		{[]string{"--reps", "2"}, []string{"--reps"}},
		{[]string{"--keys", "zipf:3"}, []string{`keys "zipf:3"`, "uniform:N"}},
		{[]string{"--record-size", "big"}, []string{`record size "big"`}},
		{[]string{"--compressibility", "2"}, []string{"compressibility 2", "between 0 and 1"}},
		{[]string{"--payload-pool", "lots"}, []string{"payload pool"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(append([]string{"codecs"}, tc.args...), &stdout, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a table for bad flags:\n%s", stdout.String())
			}
		})
	}
}
