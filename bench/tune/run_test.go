package tune

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
		want := Next(f.Space, f.Config, f.measurements()[:i])
		if want.Stop != "" {
			want = f.confirmStep(f.measurements()[:i])
		}
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
