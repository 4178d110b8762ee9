package cli

import (
	"encoding/json"
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
	tmp := t.TempDir()
	run, ombJSON := filepath.Join(tmp, "run"), filepath.Join(tmp, "omb.json")
	out, errOut, code := kbench(t, "sweep", "--omb", workload, "--out", run, "--progress", "lines", "--omb-json", ombJSON,
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

	var res struct {
		Workload    string    `json:"workload"`
		MessageSize int64     `json:"messageSize"`
		Partitions  int       `json:"partitions"`
		PublishRate []float64 `json:"publishRate"`
		P99         []float64 `json:"endToEndLatency99pct"`
	}
	readJSON(t, ombJSON, &res)
	if res.Workload != "1 topic / 16 partitions / 1Kb" || res.MessageSize != 1024 || res.Partitions != 16 || len(res.PublishRate) < 3 || len(res.P99) != len(res.PublishRate) {
		t.Errorf("OMB result: %+v", res)
	}
	// Periods are short here and end on the interval ticker, whose ticks
	// run late on a loaded machine: acknowledgements bunch up and periods
	// differ in length, so only the periods' mean is compared with the
	// run's own rate, and loosely (a unit or scale error is off by far
	// more; bench/omb's tests check the arithmetic exactly).
	if m, want := mean(res.PublishRate), lines[0].Figures["produce_records_per_sec"].Median; m < want*0.5 || m > want*2 {
		t.Errorf("publishRate %v: mean %.0f, the run reports %.0f records/s", res.PublishRate, m, want)
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

// A load command writes OpenMessaging Benchmark's result shape too.
func TestE2EWritesOMBResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "omb.json")
	mustKbench(t, "e2e", "--brokers", "1", "--rate", "2000", "--warmup", "500ms", "--duration", "2s", "--interval", "500ms",
		"--record-size", "100", "--omb-json", path, "-q")
	var res struct {
		MessageSize  int64              `json:"messageSize"`
		PublishRate  []float64          `json:"publishRate"`
		ConsumeRate  []float64          `json:"consumeRate"`
		PublishP50   []float64          `json:"publishLatency50pct"`
		AggE2EP99    float64            `json:"aggregatedEndToEndLatency99pct"`
		AggQuantiles map[string]float64 `json:"aggregatedPublishLatencyQuantiles"`
	}
	readJSON(t, path, &res)
	if res.MessageSize != 100 || len(res.PublishRate) < 3 || len(res.ConsumeRate) != len(res.PublishRate) ||
		len(res.PublishP50) != len(res.PublishRate) || res.AggE2EP99 <= 0 || len(res.AggQuantiles) == 0 {
		t.Fatalf("OMB result: %+v", res)
	}
	if m := mean(res.PublishRate); m < 1600 || m > 2400 {
		t.Errorf("publishRate %v: mean %.0f, want about 2000", res.PublishRate, m)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(max(len(xs), 1))
}

// OMB's backlog workload (shortened with --set) builds a backlog with the
// consumers waiting, drains it, and the sweep's results carry the drain.
func TestSweepRunsOMBBacklogWorkload(t *testing.T) {
	workload := filepath.Join("..", "..", "profiles", "testdata", "omb", "backlog-1gb.yaml")
	run := filepath.Join(t.TempDir(), "run")
	out, errOut, code := kbench(t, "sweep", "--omb", workload, "--out", run, "--progress", "lines",
		"--set", "workload.backlog=3MiB", "--set", "rate=4000", "--set", "workload.duration=8s", "--set", "workload.interval=500ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil || len(lines) != 1 || lines[0].Status != sweep.PointDone {
		t.Fatalf("results: %d lines, %v\n%s\n%s", len(lines), err, out, errOut)
	}
	f := lines[0].Figures
	drain, ok := f["drain_time_s"]
	if !ok || drain.Median <= 0 {
		t.Fatalf("drain_time_s %+v (present %v), want > 0; figures %v", drain, ok, f)
	}
	if built := f["backlog_built_mib"].Median; built < 3 {
		t.Errorf("backlog built %.2f MiB, want >= 3", built)
	}
	if d, p := f["drain_records_per_sec"].Median, f["drain_produce_records_per_sec"].Median; d <= p {
		t.Errorf("drain %.0f records/s, producers %.0f records/s: want the drain faster", d, p)
	}
	for _, k := range []string{"before_drain_response_p99_ms", "during_drain_response_p99_ms", "drain_net_records_per_sec"} {
		if _, ok := f[k]; !ok {
			t.Errorf("figure %s missing", k)
		}
	}
}
