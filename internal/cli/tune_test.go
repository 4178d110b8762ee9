package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/tune"
	"github.com/kbench/kbench/profiles"
	"github.com/kbench/kbench/reports"
	"github.com/kbench/kbench/target"
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
		{[]string{"--max-runs", "-1"}, "--max-runs -1: want a number of measurements of at least 1 (0 = no bound)"},
		{[]string{"--noise", "2"}, "--noise 2: want the relative noise of one measurement in (0, 1]"},
		{[]string{"--budget", "-1m"}, "--budget -1m0s: want a duration of at least 0"},
		{[]string{"--set", "tune.max_run=3"}, "tune.max_run is not a field; valid at tune: budget, max_runs, noise, max_repeats, confirm, space"},
		{[]string{"--set", "axes.linger.ms=[0,5]"}, "--set axes.linger.ms=[0,5]: profile tune has a tune.space, which tune searches instead of its axes; give --space"},
		{[]string{"--set", "tune.noise=0"}, `tune.noise: "0": want the relative noise of one measurement in (0, 1]`},
		{[]string{"--resume", t.TempDir(), "--max-runs", "3"}, "--resume continues the recorded search: --max-runs does not apply"},
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
	for _, want := range []string{"tune: ", "recommended: ", "SLO headroom at 2,000 records/s: ×", "vs Kafka's defaults = the starting settings", filepath.Join(dir, "report", "tune.md")} {
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

// TestTuneSettingsFromProfile: the profile's tune section sets the search
// (budget, measurements, noise, space), each flag given overrides its
// field, and the run's manifest records the settings the tune ran with.
func TestTuneSettingsFromProfile(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "small.yaml")
	src := `topic: {partitions: 2}
workload: {mode: produce, producers: 1, warmup: 200ms, duration: 500ms, interval: 250ms}
rate: 2000
slo: {p99_ms: 2000}
tune:
  budget: 2m
  max_runs: 3
  noise: 20%
  confirm: 2
  space:
    - linger.ms=0,5
    - compression=none,lz4
`
	if err := os.WriteFile(prof, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustKbench(t, "tune", "--profile", prof, "--rate", "2000", "--dry-run")
	if want := "search:    time budget 2m0s, measurements 3, noise prior 20 %, up to 4 measurements a candidate, 2 confirmations"; !strings.Contains(out, want) {
		t.Errorf("dry run lacks the profile's settings %q:\n%s", want, out)
	}
	out = mustKbench(t, "tune", "--profile", prof, "--rate", "2000", "--dry-run", "--budget", "1m", "--max-runs", "5", "--noise", "0.05", "--space", "linger.ms=0,10")
	for _, want := range []string{"search:    time budget 1m0s, measurements 5, noise prior 5 %", "space:     linger.ms [0 5 10] (ordered)", "space:     compression [none lz4] (unordered)"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run with flags lacks %q:\n%s", want, out)
		}
	}
	out = mustKbench(t, "tune", "--profile", prof, "--rate", "2000", "--dry-run", "--budget", "0")
	if want := "search:    time budget none, measurements 3,"; !strings.Contains(out, want) {
		t.Errorf("dry run with --budget 0 lacks %q:\n%s", want, out)
	}

	run := filepath.Join(dir, "run")
	mustKbench(t, "tune", "--profile", prof, "--rate", "2000", "--max-runs", "2", "--out", run, "--progress", "none")
	f, err := tune.ReadFile(run)
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != "done" || len(f.Steps) != 2 || f.Stop != tune.StopBudget {
		t.Fatalf("tune.json: status %s, %d measurements, stop %q; want done after the 2 of --max-runs", f.Status, len(f.Steps), f.Stop)
	}
	md, err := os.ReadFile(filepath.Join(run, "report", "tune.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "(budget 120 s, at most 2 measurements)"; !strings.Contains(string(md), want) {
		t.Errorf("tune.md lacks %q", want)
	}
	b, err := os.ReadFile(filepath.Join(run, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Profile struct {
			Tune *profiles.Tune `json:"tune"`
		} `json:"profile"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got := m.Profile.Tune
	if got == nil || got.MaxRuns != 2 || time.Duration(got.Budget) != 2*time.Minute || got.Noise != 0.2 || got.Confirm != 2 || got.MaxRepeats != tune.DefaultMaxRepeats ||
		len(got.Space) != 2 || got.Space[0].String() != "linger.ms=0,5" || got.Space[1].String() != "compression=none,lz4" {
		t.Fatalf("manifest's tune section %+v; want max_runs 2 (the flag), budget 2m, noise 0.2, confirm 2 (the profile), max_repeats 4 and the space searched", got)
	}
}

// TestTuneStopsAtConfigError: against a real single broker, a tune whose
// topic the cluster refuses (replication factor 3, an unknown topic
// config) stops after the first measurement with a readable error,
// instead of measuring candidate after candidate that all fail alike.
func TestTuneStopsAtConfigError(t *testing.T) {
	tg, err := target.Start(context.Background(), target.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tg.Close() })
	addr := tg.Bootstrap()[0]
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"replication factor 3 on 1 broker", []string{"--rf", "3"}, []string{"the tune stopped: m001 failed: the cluster refused the topic's settings (INVALID_REPLICATION_FACTOR)", "--rf"}},
		{"unknown topic config", []string{"--rf", "1", "--min-insync", "1", "--set", "topic.configs.no.such.config=1"}, []string{"(INVALID_CONFIG)", `"no.such.config"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tune")
			args := append([]string{"tune", "--bootstrap", addr, "--slo", "p99<=2s", "--rate", "1000", "--budget", "5m", "--out", dir, "--progress", "none",
				"--set", "workload.warmup=200ms", "--set", "workload.duration=500ms"}, tt.args...)
			_, errOut, code := kbench(t, args...)
			if code == 0 {
				t.Fatalf("tune succeeded; want it stopped at the configuration error:\n%s", errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			f, err := tune.ReadFile(dir)
			if err != nil {
				t.Fatal(err)
			}
			if f.Status != tune.StatusFailed || len(f.Steps) != 1 || f.Steps[0].Failed == "" {
				t.Fatalf("tune.json: status %s with %d measurements; want failed after the 1st", f.Status, len(f.Steps))
			}
			if _, errOut, code := kbench(t, "tune", "--resume", dir); code == 0 || !strings.Contains(errOut, "start a new tune") {
				t.Errorf("resume of a failed tune: exit %d, %s; want a refusal", code, errOut)
			}
		})
	}
}
