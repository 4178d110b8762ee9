package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedSettings are the seed's clickstream inputs as kbench plan gets them
// with --peak 100k --consume-per-partition 5000 --headroom 1.
func seedSettings(from *Run) PlanSettings {
	ps := PlanSettings{Given: map[string]bool{"consume-per-partition": true, "headroom": true}, From: from}
	ps.Input.PeakEventsPerSec = 100000
	ps.Input.ConsumePerPartition = 5000
	ps.Input.Headroom = 1
	return ps
}

func TestPlanGolden(t *testing.T) {
	run, err := LoadRun(smallRun)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := MakePlan(seedSettings(run))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.md.golden", []byte(doc.Markdown()))

	// The seed's answer: 20 partitions, consume-bound.
	if doc.Summary.Partitions != 20 || doc.Capacity.PartitionsLimiting != "consume" {
		t.Errorf("got %d partitions limited by %s, want 20 by consume", doc.Summary.Partitions, doc.Capacity.PartitionsLimiting)
	}
	// p is measured: the run's best per-partition max-sustainable rate
	// (p013, one partition), converted from its 512 B records to 1 KiB.
	mib, _ := run.Points[12].Fig("produce_mib_per_sec")
	if want := mib * (1 << 20) / 1024; !near(doc.Input.ProducePerPartition, want) {
		t.Errorf("produce ceiling %g, want %g (p013's MiB/s in 1 KiB events)", doc.Input.ProducePerPartition, want)
	}
	// The ratio is the median of the recommended codec's valid points.
	if doc.Input.CompressionRatio < 3 {
		t.Errorf("compression ratio %g: want zstd's measured ratio", doc.Input.CompressionRatio)
	}
	recs := map[string]Recommendation{}
	for _, r := range doc.Recs {
		recs[r.Setting] = r
	}
	for setting, want := range map[string]string{"acks": "all", "enable.idempotence": "true", "compression.type": "zstd", "linger.ms": "5", "batch.size": "16KiB"} {
		if got := recs[setting].Value; got != want {
			t.Errorf("%s=%s, want %s", setting, got, want)
		}
	}
	// acks=all vs acks=1 pairs: p001/p005, p002/p006 and p008/p005 differ
	// only in acks (and the idempotence acks=1 forces off).
	if c := strings.Join(recs["acks"].Costs, "; "); !strings.Contains(c, "acks=all vs acks=1") || !strings.Contains(c, "3 pairs") || !strings.Contains(c, "p001 vs p005") {
		t.Errorf("acks cost %q", c)
	}
	if c := strings.Join(recs["compression.type"].Costs, "; "); !strings.Contains(c, "zstd vs none") || !strings.Contains(c, "compression ratio") {
		t.Errorf("codec cost %q", c)
	}

	// JSON carries the same numbers.
	js, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Summary PlanSummary      `json:"summary"`
		Outputs []Formula        `json:"outputs"`
		Recs    []Recommendation `json:"producer_settings"`
		Inputs  []InputRow       `json:"inputs"`
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary != doc.Summary || len(back.Outputs) != len(doc.Outputs) || len(back.Recs) != 5 || len(back.Inputs) != len(doc.Inputs) {
		t.Errorf("json round trip lost figures: %+v", back.Summary)
	}

	dir := t.TempDir()
	if err := WritePlan(dir, doc); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, PlanHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>kbench capacity plan</title>", "⌈max(T/p, T/c) × headroom⌉", "acks=all vs acks=1", "keyed topic"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("plan.html lacks %q", want)
		}
	}
}

func TestPlanWithoutRun(t *testing.T) {
	doc, err := MakePlan(seedSettings(nil))
	if err != nil {
		t.Fatal(err)
	}
	md := doc.Markdown()
	for _, want := range []string{
		"**20 partitions** (20 at today's peak), **17 brokers** (limited by storage)",
		"| record size | 1,024 B | default |",
		"| produce ceiling per partition (p) | unknown | unknown |",
		"Only one per-partition ceiling is known",
		"| compression.type | zstd | the clickstream profile's choice",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	ps := seedSettings(nil)
	ps.Input.ConsumePerPartition = 0
	if _, err := MakePlan(ps); err == nil || !strings.Contains(err.Error(), "--from RUN_DIR") {
		t.Errorf("got %v, want an error asking for a run or ceilings", err)
	}
}

func TestCostOfPairs(t *testing.T) {
	run, err := LoadRun(smallRun)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Point{}
	for _, p := range run.Points {
		by[p.Def.ID] = p
	}
	// p013 (1 partition) and p015 (4) differ only in partitions, at
	// max-sustainable: a throughput comparison.
	c := costOf("1 vs 4 partitions", [][2]*Point{{by["p013"], by["p015"]}})
	a, _ := by["p013"].Fig("produce_mib_per_sec")
	b, _ := by["p015"].Fig("produce_mib_per_sec")
	if want := "throughput " + signedPct(100*(a/b-1)) + " (1 unthrottled/max-sustainable pair)"; !strings.Contains(c, want) {
		t.Errorf("got %q, want it to contain %q", c, want)
	}
	if !strings.Contains(c, "each at its own rate") {
		t.Errorf("p99 of max-sustainable pairs must say the rates differ: %q", c)
	}
	if costOf("nothing", nil) != "" {
		t.Error("no pairs must cost nothing")
	}
}
