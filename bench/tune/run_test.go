package tune

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/sweep"
)

// smallTune is a real tune on the in-process broker: four candidates at a
// fixed rate, short runs.
func smallTune(t *testing.T) *Prepared {
	t.Helper()
	sp, err := ParseSpace([]string{"linger.ms=0,5", "batch.size=16KiB", "compression=none,lz4", "max.in.flight=5"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Prepare(DefaultProfile, []string{"target.brokers=1", "topic.replication.factor=1", "topic.configs.min.insync.replicas=1",
		"topic.partitions=2", "workload.producers=1", "rate=2000", "search=null", "slo.p99_ms=2000",
		"workload.warmup=200ms", "workload.duration=500ms", "workload.interval=250ms"}, sp)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// TestRunResumes: a tune interrupted in the middle of a measurement keeps
// what finished, and a resume measures the cut measurement again and
// carries on exactly as the search would have, then finishes.
func TestRunResumes(t *testing.T) {
	pr := smallTune(t)
	dir := filepath.Join(t.TempDir(), "tune")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := sweep.ProgressFunc(func(ev sweep.Event) {
		if ev.Kind == sweep.IntervalDone && ev.Point.ID == "m003" {
			cancel() // mid-run: m003 is never recorded
		}
	})
	f, err := Run(ctx, Options{Prepared: pr, Dir: dir, Budget: time.Minute, Config: Config{MaxEvals: 6}, Sweep: sweep.Options{Progress: cut}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != "interrupted" || len(f.Steps) != 2 {
		t.Fatalf("first session: status %s with %d measurements, want interrupted with 2", f.Status, len(f.Steps))
	}
	first := slices.Clone(f.Steps)

	f, err = Run(context.Background(), Options{Dir: dir, Resume: true, Budget: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(f.Budget) != 2*time.Minute {
		t.Errorf("budget %v after a resume with 2m, want 2m", time.Duration(f.Budget))
	}
	if f.Status != "done" || f.Sessions != 2 || len(f.Steps) != 6 || (f.Stop != StopBudget && f.Stop != StopOptimum) {
		t.Fatalf("resumed: status %s, %d sessions, %d measurements, stop %q; want done, 2, 6 and a search that stopped", f.Status, f.Sessions, len(f.Steps), f.Stop)
	}
	for i, s := range f.Steps {
		if i < len(first) && (s.Point != first[i].Point || s.Value != first[i].Value) {
			t.Fatalf("measurement %d changed on resume: %+v, was %+v", i+1, s, first[i])
		}
		want, _ := f.plan(f.measurements()[:i])
		if !slices.Equal(s.Cand, want.Cand) || s.Kind != want.Kind {
			t.Fatalf("measurement %d is %s, the search proposes %s there", i+1, s.Label, f.Space.Label(want.Cand))
		}
		if s.Value <= 0 || s.Runs != 1 {
			t.Errorf("measurement %s: value %g from %d runs; want a headroom from one fixed-rate run", s.Point, s.Value, s.Runs)
		}
	}
	lines, _, err := sweep.ReadResultsFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range lines {
		ids = append(ids, l.Point.ID)
	}
	if !slices.Equal(ids, []string{"m001", "m002", "m003", "m004", "m005", "m006"}) {
		t.Fatalf("results.jsonl points %v, want m001..m006 once each", ids)
	}
	m, err := sweep.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != sweep.StatusDone || m.Sessions != 2 || m.Points != 6 {
		t.Fatalf("manifest: status %s, %d sessions, %d points; want done, 2, 6", m.Status, m.Sessions, m.Points)
	}
	// What was saved is what was returned.
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var saved File
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	if saved.Status != "done" || len(saved.Steps) != 6 || saved.Result == nil || saved.Result.Measurements != 6 {
		t.Fatalf("tune.json: status %s, %d measurements, result %+v", saved.Status, len(saved.Steps), saved.Result)
	}
	if r := saved.Result; r.Recommended.Value.Median <= 0 || r.Recommended.Rate.Median < 1900 || r.Recommended.P99.Median <= 0 || r.VsDefaults == nil {
		t.Fatalf("result without figures: %+v", r)
	}

	// A crash after a line was written but before tune.json was saved:
	// the resume takes the measurement back from its line.
	lost := saved.Steps[5]
	saved.Steps, saved.Status = saved.Steps[:5], "interrupted"
	if err := saved.save(dir); err != nil {
		t.Fatal(err)
	}
	f, err = Run(context.Background(), Options{Dir: dir, Resume: true, Budget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Steps[5]
	if len(f.Steps) != 6 || got.Point != lost.Point || !slices.Equal(got.Cand, lost.Cand) || got.Value != lost.Value || got.Kind != lost.Kind {
		t.Fatalf("after a lost record: %d measurements, the 6th %+v; want the lost %+v back", len(f.Steps), got, lost)
	}
}

// TestRunSkipsFailedCandidate: a candidate whose own settings fail (here
// the start: idempotence with 10 requests in flight, which the generator
// refuses; each value alone is fine with the profile) is recorded as
// failed and the search goes on to measure the others.
func TestRunSkipsFailedCandidate(t *testing.T) {
	sp, err := ParseSpace([]string{"linger.ms=5", "batch.size=16KiB", "compression=none", "max.in.flight=5,10", "enable.idempotence=false,true"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Prepare(DefaultProfile, []string{"target.brokers=1", "topic.replication.factor=1", "topic.configs.min.insync.replicas=1",
		"topic.partitions=2", "workload.producers=1", "rate=2000", "search=null", "slo.p99_ms=2000", "producer.enable.idempotence=false",
		"workload.warmup=200ms", "workload.duration=500ms", "workload.interval=250ms"}, sp)
	if err != nil {
		t.Fatal(err)
	}
	bad := []int{0, 0, 0, 1, 1} // max.in.flight 10 with idempotence
	if pr.Point(bad) == nil {
		t.Fatalf("candidate %s is not in the grid", pr.Space.Label(bad))
	}
	pr.Start = bad
	dir := filepath.Join(t.TempDir(), "tune")
	f, err := Run(context.Background(), Options{Prepared: pr, Dir: dir, Budget: time.Minute, Config: Config{MaxEvals: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != "done" || len(f.Steps) != 3 {
		t.Fatalf("status %s with %d measurements; want done with 3", f.Status, len(f.Steps))
	}
	first := f.Steps[0]
	if !slices.Equal(first.Cand, bad) || first.Value != 0 || !strings.Contains(first.Failed, "conflicts with max.in.flight.requests.per.connection=10") {
		t.Fatalf("first measurement %+v; want the start, failed for its settings", first)
	}
	for _, s := range f.Steps[1:] {
		if s.Failed != "" || s.Value <= 0 {
			t.Errorf("measurement %s (%s): value %g, failed %q; want a measured candidate", s.Point, s.Label, s.Value, s.Failed)
		}
	}
}

// TestRunKeepsTimeBudget: the time budget ends the tune and is not
// overrun: a measurement that would not fit is not started, and one that
// takes longer than any before is cut at the budget and not counted.
func TestRunKeepsTimeBudget(t *testing.T) {
	pr := smallTune(t)
	const budget = 3 * time.Second
	f, err := Run(context.Background(), Options{Prepared: pr, Dir: filepath.Join(t.TempDir(), "tune"), Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d measurements in %s: %s", len(f.Steps), time.Duration(f.Elapsed), f.Ended)
	if f.Status != "done" || !strings.HasPrefix(f.Ended, "time budget: ") {
		t.Fatalf("status %s, ended %q; want done by the time budget", f.Status, f.Ended)
	}
	// The cut itself takes a moment: the run stops, the state is saved.
	if over := time.Duration(f.Elapsed) - budget; over > 500*time.Millisecond {
		t.Errorf("spent %s of a %s budget", time.Duration(f.Elapsed), budget)
	}
}

// TestRunCutsMeasurementAtBudget: a measurement still under way when the
// budget runs out (here held up past it) is cut there and not counted.
func TestRunCutsMeasurementAtBudget(t *testing.T) {
	pr := smallTune(t)
	const budget = 4 * time.Second
	dir := filepath.Join(t.TempDir(), "tune")
	start := time.Now()
	hold := sweep.ProgressFunc(func(ev sweep.Event) {
		if ev.Kind == sweep.IntervalDone && ev.Point.ID == "m002" {
			time.Sleep(time.Until(start.Add(budget + 300*time.Millisecond)))
		}
	})
	f, err := Run(context.Background(), Options{Prepared: pr, Dir: dir, Budget: budget, Sweep: sweep.Options{Progress: hold}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != "done" || len(f.Steps) != 1 || !strings.Contains(f.Ended, "m002") || !strings.Contains(f.Ended, "was cut and is not counted") {
		t.Fatalf("status %s, %d measurements, ended %q; want done with m001 only, m002 cut", f.Status, len(f.Steps), f.Ended)
	}
	lines, _, err := sweep.ReadResultsFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Point.ID != "m001" {
		t.Fatalf("results.jsonl has %d lines; want m001's only", len(lines))
	}
}
