package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/tune"
	"github.com/kbench/kbench/reports"
)

func TestTuneFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--slo", "p98<=20ms"}, `--slo "p98<=20ms": unknown percentile "p98"`},
		{[]string{"--slo", "p99<=20"}, `--slo "p99<=20": limit "20" is not a positive duration`},
		{[]string{"--slo", ""}, "--slo is empty"},
		{[]string{"--slo", "e2e p99<=20ms"}, "--slo: slo.latency: e2e latency needs workload.mode e2e"},
		{[]string{"--space", "batch.size=16KiB,huge"}, `--space batch.size: axes.batch.size[1]: property batch.size: "huge" is not a byte size`},
		{[]string{"--space", "linger"}, `--space "linger": want SETTING=V1,V2,...`},
		{[]string{"--maximize", "throughput"}, `--maximize "throughput": valid: rate`},
		{[]string{"--rate", "5k", "--maximize", "rate"}, "give --maximize rate or --rate R, not both"},
		{[]string{"--rate", "fast"}, `--rate "fast": want records/s above 0`},
		{[]string{"--acks", "2"}, `--acks: producer.acks: property acks="2": want one of 0, 1, all`},
		{[]string{"--slo", "p99<=0s"}, "not a positive duration"},
		{[]string{"--progress", "fancy"}, "valid values are auto, bar, lines, none"},
		{[]string{"--resume", t.TempDir(), "--slo", "p99<=20ms"}, "--resume continues the recorded search: --slo does not apply"},
		{[]string{"--resume", t.TempDir()}, "resume:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, code := kbench(t, append([]string{"tune", "--dry-run"}, tt.args...)...)
			if tt.args[0] == "--resume" {
				_, errOut, code = kbench(t, append([]string{"tune"}, tt.args...)...)
			}
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want a failure containing %q", code, errOut, tt.want)
			}
		})
	}
}

func TestTuneHelpSaysHowItDecides(t *testing.T) {
	out := mustKbench(t, "tune", "--help")
	for _, want := range []string{"How the search decides", "twice the measurement noise", "Why this search", "local search", "--resume"} {
		if !strings.Contains(out, want) {
			t.Errorf("tune --help lacks %q", want)
		}
	}
}

// TestTuneRunPlanReport: a short real tune on the in-process broker writes
// a recommendation and its search path, and plan --from and report read
// the run.
func TestTuneRunPlanReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tune")
	out := mustKbench(t, "tune", "--slo", "p99<=2s", "--rate", "2000", "--rf", "1", "--min-insync", "1", "--budget", "12s",
		"--space", "linger.ms=0,5", "--space", "batch.size=16KiB", "--space", "compression=none,lz4", "--space", "max.in.flight=5",
		"--set", "topic.partitions=2", "--set", "workload.producers=1", "--set", "workload.warmup=200ms", "--set", "workload.duration=500ms",
		"--out", dir, "--progress", "none")
	for _, want := range []string{"tune: ", "recommended: ", "SLO headroom at 2,000 records/s: ×", "vs Kafka's defaults = the starting settings (", filepath.Join(dir, "report", "tune.md")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := tune.ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != "done" || f.Result == nil || len(f.Steps) < 2 {
		t.Fatalf("tune.json: status %s, %d measurements, result %v", f.Status, len(f.Steps), f.Result)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report", "tune.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Search path", "| 1 | m001 | start |", "## Candidates", "Durability floor"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("tune.md lacks %q", want)
		}
	}

	mustKbench(t, "plan", "--from", dir, "--peak", "10k", "--produce-per-partition", "5000", "--json")
	b, err := os.ReadFile(filepath.Join(dir, "report", reports.PlanJSON))
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Recs []reports.Recommendation `json:"producer_settings"`
	}
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	rec := f.Result.Recommended.Settings
	found := 0
	for _, r := range plan.Recs {
		if strings.HasPrefix(r.Why, "kbench tune's recommendation") {
			found++
			if want := rec[r.Setting]; r.Setting != "batch.size" && r.Value != want {
				t.Errorf("plan recommends %s=%s, the tune %s", r.Setting, r.Value, want)
			}
		}
	}
	if found != len(rec) {
		t.Errorf("plan takes %d of the tune's %d settings: %+v", found, len(rec), plan.Recs)
	}

	mustKbench(t, "report", dir)
	rmd, err := os.ReadFile(filepath.Join(dir, "report", reports.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rmd), reports.TuneMarkdown) {
		t.Errorf("report.md does not point to %s", reports.TuneMarkdown)
	}
}
