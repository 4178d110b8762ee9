package selfbench_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/selfbench"
)

// TestGeneratorHarness runs the generator ceiling with tiny sizes against a
// real null broker process and checks that every workload ran on both sides
// every round (the consume comparison ConsumePairs times, the order
// swapped each pair), the fixed produce rate was kept and every target was
// judged.
func TestGeneratorHarness(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := selfbench.GenDefaults()
	cfg.Binary, cfg.Dir = exe, t.TempDir()
	cfg.Sizes, cfg.Producers, cfg.Acks, cfg.Compressions = []int{100}, []int{2}, []string{"all"}, []string{"zstd"}
	cfg.Rounds = 2
	cfg.Warmup, cfg.Duration = 100*time.Millisecond, 300*time.Millisecond
	cfg.FixedRate, cfg.FixedSize, cfg.E2ERate, cfg.ConsumeRecords, cfg.ConsumePairs = 5000, 100, 5000, 20000, 2
	var progress bytes.Buffer
	cfg.Log = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep, err := selfbench.GenRun(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	for _, s := range rep.Samples {
		if s.Error != "" {
			t.Errorf("%s %s round %d: %s", s.Workload, s.Side, s.Round, s.Error)
		}
	}
	// Who went first in each pair of the consume comparison.
	var firsts []string
	for i, s := range rep.Samples {
		if strings.HasPrefix(s.Workload, "consume") && (i == 0 || rep.Samples[i-1].Workload != s.Workload || rep.Samples[i-1].Round != s.Round) {
			firsts = append(firsts, s.Side)
		}
	}
	if got, want := strings.Join(firsts, " "), "bare kbench bare kbench"; got != want {
		t.Errorf("consume pairs started with %q, want %q", got, want)
	}
	phases := map[string]bool{}
	for _, s := range rep.Summaries {
		phases[s.Phase] = true
		n := 2
		if s.Phase == selfbench.GenConsume {
			n = 4 // 2 rounds of 2 pairs
		}
		if s.Bare.N != n || s.Kbench.N != n || s.RateRatio.N != n || s.CPURatio.N != n || !(s.Bare.Median > 0) || !(s.KbenchCPU.Median > 0) {
			t.Errorf("%s: %+v, want %d pairs with rates and CPU", s.Name, s, n)
		}
		if s.Phase == selfbench.GenFixed {
			for _, st := range []selfbench.Stat{s.Bare, s.Kbench} {
				if st.Median < 0.9*s.GenWorkload.Rate || st.Median > 1.1*s.GenWorkload.Rate {
					t.Errorf("%s: %.0f records/s at a fixed %.0f", s.Name, st.Median, s.GenWorkload.Rate)
				}
			}
		}
	}
	for _, p := range []string{selfbench.GenProduce, selfbench.GenFixed, selfbench.GenConsume, selfbench.GenE2E} {
		if !phases[p] {
			t.Errorf("no %s workload in %v", p, phases)
		}
	}
	checks := selfbench.GenChecks(rep)
	if len(checks) != 4 {
		t.Fatalf("%d checks, want 4", len(checks))
	}
	for _, c := range checks {
		if c.Status != selfbench.Met && c.Status != selfbench.NotMet {
			t.Errorf("%s: %s (%s), want a verdict", c.Target, c.Status, c.Detail)
		}
	}
	var table bytes.Buffer
	if err := selfbench.WriteGenTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"produce 100B p2 acks=all zstd", "produce-fixed 100B p1 acks=1 none @5k/s", "consume 100B", "e2e 100B", "rate ratio"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	path, err := rep.WriteJSON(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Contains(b, []byte(`"rate_ratio"`)) {
		t.Errorf("generator.json: %v\n%s", err, b)
	}
}

func TestGeneratorConfigErrors(t *testing.T) {
	cfg := selfbench.GenDefaults()
	cfg.Binary = "kbench"
	cfg.Acks = []string{"2"}
	cfg.Compressions = []string{"brotli"}
	cfg.Rounds = 0
	cfg.ConsumePairs = 0
	_, err := selfbench.GenRun(context.Background(), cfg)
	for _, want := range []string{`acks "2"`, `compression "brotli"`, "rounds 0", "consume pairs 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one naming %s", err, want)
		}
	}
}
