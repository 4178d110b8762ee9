package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/reports"
)

func TestPlanCommandSeed(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan")
	got := mustKbench(t, "plan", "--peak", "100k", "--consume-per-partition", "5000", "--headroom", "1", "--out", out)
	for _, want := range []string{
		"capacity plan for 100000 events/s peak (102.4 MB/s), RF 3, min.insync 2, 7d retention, headroom ×1:",
		"partitions       20 (20 at today's peak)",
		"brokers          17 (limited by storage)",
		"stored data      185.79 TB (265.42 TB raw disk)",
		"acks=all",
		"html: " + filepath.Join(out, "plan.html"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan output lacks %q:\n%s", want, got)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| growth headroom | ×1 | given |") || !strings.Contains(string(md), "| broker disk size | 16,000 GB | default |") {
		t.Errorf("plan.md does not say which inputs are given and which defaults:\n%s", md)
	}

	// The same ingress in MB/s, as JSON.
	js := mustKbench(t, "plan", "--peak-mbps", "102.4", "--consume-per-partition", "5000", "--headroom", "1", "--out", out, "--json")
	var doc struct {
		Summary reports.PlanSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if doc.Summary.Partitions != 20 || doc.Summary.Brokers != 17 {
		t.Errorf("json summary %+v, want 20 partitions and 17 brokers", doc.Summary)
	}
}

func TestPlanCommandFrom(t *testing.T) {
	dir := copyRunDir(t, smallRunDir)
	got := mustKbench(t, "plan", "--from", dir, "--peak", "100k", "--consume-per-partition", "5000", "--headroom", "1")
	for _, want := range []string{
		"partitions       20",
		"acks=all           acks=all vs acks=1:",
		"compression.type=zstd compression zstd vs none:",
		"html: " + filepath.Join(dir, "report", "plan.html"),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan output lacks %q:\n%s", want, got)
		}
	}
	// plan.md is the golden the reports package checks, written by the CLI.
	md, err := os.ReadFile(filepath.Join(dir, "report", "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../reports/testdata/plan.md.golden")
	if err != nil {
		t.Fatal(err)
	}
	if string(md) != string(want) {
		t.Errorf("kbench plan --from wrote a plan.md that differs from reports/testdata/plan.md.golden")
	}
}

func TestPlanCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--consume-per-partition", "5000"}, "give the peak ingress"},
		{[]string{"plan", "--peak", "100k", "--peak-mbps", "5", "--consume-per-partition", "5000"}, "give the peak ingress"},
		{[]string{"plan", "--peak", "100k"}, "no per-partition ceiling"},
		{[]string{"plan", "--peak", "lots", "--consume-per-partition", "5000"}, `"lots" is not a count`},
		{[]string{"plan", "--peak", "100k", "--consume-per-partition", "5000", "--retention", "a week"}, "retention"},
		{[]string{"plan", "--peak", "100k", "--consume-per-partition", "5000", "--rf", "2", "--min-insync", "3"}, "min.insync.replicas 3"},
		{[]string{"plan", "--peak", "100k", "--from", "x", "--measure"}, "not both"},
		{[]string{"plan", "--peak", "100k", "--consume-per-partition", "5000", "--bootstrap", "h:9092"}, "go with --measure"},
	} {
		_, errOut, code := kbench(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestPlanParsers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"5000", 5000}, {"100k", 1e5}, {"1.5M", 1.5e6}, {"100,000", 1e5}} {
		if got, err := parsePlanCount(tc.in); err != nil || got != tc.want {
			t.Errorf("count %q: got %g, %v; want %g", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"7d", 7 * 24 * time.Hour}, {"168h", 168 * time.Hour}, {"0.5d", 12 * time.Hour}} {
		if got, err := parseRetention(tc.in); err != nil || got != tc.want {
			t.Errorf("retention %q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-1d", "0h", "week"} {
		if _, err := parseRetention(bad); err == nil {
			t.Errorf("retention %q accepted", bad)
		}
	}
}

// TestPlanMeasure runs the sizing sweep for real, on the in-process
// broker (RF 1), one short point; the plan takes its produce ceiling from
// it when the search found a rate meeting the SLO (a loaded machine may
// find none: the plan then says the ceiling is unknown).
func TestPlanMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a sizing sweep")
	}
	run := filepath.Join(t.TempDir(), "sizing")
	got := mustKbench(t, "plan", "--measure", "--measure-out", run, "--measure-duration", "1s", "--measure-partitions", "1",
		"--rf", "1", "--peak", "100k", "--record-size", "512", "--consume-per-partition", "5000")
	if !strings.Contains(got, "html: "+filepath.Join(run, "report", "plan.html")) {
		t.Fatalf("plan output:\n%s", got)
	}
	r, err := reports.LoadRun(run)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Points[0]
	if p.Set.RF != 1 || p.Set.RecordSize != "512" || p.Set.Partitions != 1 || p.Set.RateKind != "max-sustainable" {
		t.Errorf("the sizing sweep ran %+v, want RF 1, 512 B records, 1 partition, max-sustainable", p.Set)
	}
	md, err := os.ReadFile(filepath.Join(run, "report", "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "| produce ceiling per partition (p) |") {
			line = l
		}
	}
	switch {
	case p.Valid() && p.Passed():
		src := "measured: sizing, p001 partitions=1/producers=1/consumers=1 (max sustainable rate under the SLO, acks=all, RF 1)"
		if !strings.Contains(line, " events/s (") || !strings.Contains(line, src) {
			t.Errorf("the produce ceiling is not the sizing sweep's: %q", line)
		}
	default:
		t.Logf("the sizing point gave no ceiling: SLO %v, invalid %v", p.Line.SLO.Reasons, p.Line.Invalid)
		if line != "| produce ceiling per partition (p) | unknown | unknown |" {
			t.Errorf("the sizing point gave no valid rate, yet the plan has a produce ceiling: %q", line)
		}
	}
}
