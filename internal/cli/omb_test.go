package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/profiles"
)

// An OpenMessaging Benchmark workload file runs as a sweep on the embedded
// broker (shortened with --set), and its converted profile loads.
func TestSweepRunsOMBWorkload(t *testing.T) {
	workload := filepath.Join("..", "..", "profiles", "testdata", "omb", "1-topic-16-partitions-1kb.yaml")
	run := filepath.Join(t.TempDir(), "run")
	out, errOut, code := kbench(t, "sweep", "--omb", workload, "--out", run, "--progress", "lines",
		"--set", "workload.warmup=0s", "--set", "workload.duration=2s", "--set", "workload.interval=500ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil || len(lines) != 1 || lines[0].Status != sweep.PointDone {
		t.Fatalf("results: %d lines, %v\n%s\n%s", len(lines), err, out, errOut)
	}
	if got := lines[0].Point.Topic.Partitions; got != 16 {
		t.Errorf("partitions %d, want 16", got)
	}
	if rate := lines[0].Figures["produce_records_per_sec"].Median; rate < 4500 || rate > 5500 {
		t.Errorf("produce rate %.0f records/s, want about the workload's producerRate 5000", rate)
	}

	conv := mustKbench(t, "profiles", "convert", "--omb", workload)
	if _, err := profiles.Parse(filepath.Join(filepath.Dir(workload), "converted.yaml"), []byte(conv), profiles.Options{}); err != nil {
		t.Fatalf("the converted profile does not load: %v\n%s", err, conv)
	}
}

func TestOMBFlagErrors(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(w, []byte("topics: 2\npartitionsPerTopic: 1\nmessageSize: 10\nuseRandomizedPayloads: true\nproducerRate: 10\ntestDurationMinutes: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--omb", w, "--profile", "quick"}, "give --profile NAME|PATH or --omb WORKLOAD.yaml"},
		{[]string{"sweep", "--omb-driver", w, "--profile", "quick"}, "--omb-driver goes with --omb"},
		{[]string{"sweep", "--omb", w}, "topics: 2: kbench runs one topic per point"},
		{[]string{"profiles", "convert"}, "give --omb WORKLOAD.yaml"},
		{[]string{"profiles", "convert", "--omb", filepath.Join(dir, "missing.yaml")}, "read OMB workload"},
	} {
		_, errOut, code := kbench(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("kbench %s: exit %d, stderr %q; want an error containing %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}
