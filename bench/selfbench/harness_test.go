package selfbench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/selfbench"
	"github.com/kbench/kbench/internal/cli"
)

// childEnv makes the test binary act as kbench, so the harness can run it
// as `kbench broker` and `kbench selfbench serve`, and the cluster as its
// broker processes.
const childEnv = "KBENCH_SELFBENCH_TEST_AS_KBENCH"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	// The cluster supervisor starts brokers with this process's environment.
	os.Setenv(childEnv, "1")
	os.Exit(m.Run())
}

// TestQuickEndToEnd runs the whole harness with tiny sizes against all five
// targets, each a real process on loopback, and checks the report.
func TestQuickEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 processes and runs about 30 load runs")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	small := selfbench.Workload{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"}
	zstd := selfbench.Workload{RecordSize: 1024, Producers: 2, Acks: "all", Compression: "zstd"}
	cfg := selfbench.Quick()
	cfg.Binary = exe
	cfg.Dir = t.TempDir()
	cfg.Workloads = []selfbench.Workload{small, zstd}
	cfg.Rounds = 2
	cfg.Warmup, cfg.Duration = 100*time.Millisecond, 300*time.Millisecond
	cfg.Backlog, cfg.BacklogRecordSize = 1<<20, 1024
	cfg.LatencyDuration, cfg.LatencyWorkload = 500*time.Millisecond, zstd
	var progress bytes.Buffer
	cfg.Progress = &progress

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	rep, err := selfbench.Run(ctx, cfg)
	t.Logf("harness took %v", time.Since(start))
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}

	// Every (workload, target) pair ran every round, except RF=3 with acks=1.
	for _, w := range cfg.Workloads {
		for _, k := range selfbench.AllKinds() {
			s := find(rep.Produce, w.Name(), k)
			if k == selfbench.KbenchRF3 && w.Acks == "1" {
				if s != nil {
					t.Errorf("%s ran on %s, want acks=all only", w.Name(), k)
				}
				continue
			}
			if s == nil {
				t.Fatalf("no summary for %s on %s", w.Name(), k)
			}
			if s.RecordsPerSec.N != 2 || !(s.RecordsPerSec.Median > 0) || !(s.CPUSecPerGB.Median > 0) || !(s.PeakRSSMiB.Median > 0) || !(s.P99Ms.Median > 0) {
				t.Errorf("%s on %s: got %+v, want 2 rounds with positive rate, p99, broker CPU and RSS", w.Name(), k, s)
			}
			if s.Failed != 0 {
				t.Errorf("%s on %s: %d failed records", w.Name(), k, s.Failed)
			}
			if (k == selfbench.Ceiling) != (s.VsCeiling == nil) || (k == selfbench.StoreOnly) != (s.VsStore == nil) {
				t.Errorf("%s on %s: ratio to the ceiling %v, to the store-only ceiling %v", w.Name(), k, s.VsCeiling, s.VsStore)
			}
		}
	}

	// The ratios are per-round ratios of the samples.
	rate := map[selfbench.Kind]map[int]float64{}
	for _, s := range rep.Samples {
		if s.Phase == selfbench.PhaseProduce && s.Workload == zstd.Name() {
			if rate[s.Target] == nil {
				rate[s.Target] = map[int]float64{}
			}
			rate[s.Target][s.Round] = s.RecordsPerSec
		}
	}
	for _, k := range []selfbench.Kind{selfbench.KbenchRF1, selfbench.KbenchRF3, selfbench.Kfake} {
		r0 := rate[k][0] / rate[selfbench.Ceiling][0]
		r1 := rate[k][1] / rate[selfbench.Ceiling][1]
		got := find(rep.Produce, zstd.Name(), k).VsCeiling
		if math.Abs(got.Median-(r0+r1)/2) > 1e-9 || math.Abs(got.Min-min(r0, r1)) > 1e-9 || math.Abs(got.Max-max(r0, r1)) > 1e-9 {
			t.Errorf("%s vs ceiling: got %+v, want median of %v and %v", k, got, r0, r1)
		}
	}

	// Rounds alternate the target order: A B C D, then D C B A.
	var order [2][]selfbench.Kind
	for _, s := range rep.Samples {
		if s.Phase == selfbench.PhaseProduce && s.Workload == zstd.Name() {
			order[s.Round] = append(order[s.Round], s.Target)
		}
	}
	for i, k := range order[0] {
		if order[1][len(order[1])-1-i] != k {
			t.Errorf("round orders %v and %v: want the second reversed", order[0], order[1])
			break
		}
	}

	// The catch-up wrote and read the whole backlog on each consume target.
	for _, k := range cfg.ConsumeTargets {
		var wrote, reads int
		for _, s := range rep.Samples {
			if s.Target != k {
				continue
			}
			switch s.Phase {
			case selfbench.PhaseBacklog:
				wrote++
				if s.Bytes != cfg.Backlog {
					t.Errorf("%s backlog: %d bytes acknowledged, want %d", k, s.Bytes, cfg.Backlog)
				}
			case selfbench.PhaseConsume:
				reads++
				if s.Bytes != cfg.Backlog || s.Error != "" {
					t.Errorf("%s catch-up round %d: read %d bytes (%s), want %d", k, s.Round, s.Bytes, s.Error, cfg.Backlog)
				}
			}
		}
		if wrote != 1 || reads != 2 {
			t.Errorf("%s: %d backlog and %d catch-up runs, want 1 and 2", k, wrote, reads)
		}
	}

	// The latency runs used half the RF=3 cluster's median maximum.
	rf3 := find(rep.Produce, zstd.Name(), selfbench.KbenchRF3).RecordsPerSec.Median
	if len(rep.Latency) != 4 {
		t.Fatalf("%d latency runs, want 4 (RF=3, ceiling, store-only, kfake)", len(rep.Latency))
	}
	for _, s := range rep.Latency {
		if math.Abs(s.TargetRate-rf3/2) > 1e-6 || s.RecordsPerSec < 0.5*s.TargetRate || s.P99Ms <= 0 {
			t.Errorf("latency run on %s: rate %v achieved %v p99 %v, want rate %v, achieved close to it", s.Target, s.TargetRate, s.RecordsPerSec, s.P99Ms, rf3/2)
		}
	}
	// Allocations came from the metrics broker, one run per workload.
	if len(rep.Allocs) != 3 {
		t.Errorf("%d allocation runs, want 3", len(rep.Allocs))
	}
	for _, s := range rep.Allocs {
		if s.Error != "" || s.ProduceRequests <= 0 || s.AllocsPerRequest < 0 || s.RecordsPerSec <= 0 {
			t.Errorf("allocation run %s: %d requests, %v allocs each, error %q", s.Workload, s.ProduceRequests, s.AllocsPerRequest, s.Error)
		}
	}
	for _, c := range rep.Checks {
		switch c.Status {
		case selfbench.Met, selfbench.NotMet, selfbench.Info, selfbench.WithinNoise, selfbench.InvalidRun:
		case selfbench.NotMeasured:
			t.Errorf("check %q not measured", c.Name)
		default:
			t.Errorf("check %q: status %q", c.Name, c.Status)
		}
	}

	// The report round-trips through JSON and prints a table.
	path := filepath.Join(t.TempDir(), "selfbench.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := selfbench.ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(rep)
	b, _ := json.Marshal(back)
	if !bytes.Equal(a, b) {
		t.Error("report changed through a JSON round trip")
	}
	var table bytes.Buffer
	if err := selfbench.WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"x ceiling", "x store", "x kfake", "store-only", "kbench-rf3", "consume catch-up", "broker performance targets", "allocations per produce request", zstd.Name()} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Log("\n" + table.String())
}

func find(sums []selfbench.Summary, workload string, k selfbench.Kind) *selfbench.Summary {
	for i := range sums {
		if sums[i].Workload == workload && sums[i].Target == k {
			return &sums[i]
		}
	}
	return nil
}
