package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/audit"
	"github.com/kbench/kbench/bench/sweep"
)

// TestProduceFaultAudit runs kbench produce against three real broker
// processes with a leader kill and the audit: the faults, the heal and the
// audit are printed and written to --out.
func TestProduceFaultAudit(t *testing.T) {
	dir := t.TempDir()
	out := mustKbench(t, "produce", "-q", "--rate", "1000", "--warmup", "1s", "--duration", "3s", "--record-size", "100",
		"--partitions", "2", "--replication-factor", "3", "--topic-config", "min.insync.replicas=2",
		"--producer-props", "metadata.max.age.ms=250",
		"--fault", "1s:kill-leader:0", "--audit", "--out", dir)
	t.Log(out)
	for _, want := range []string{"1s:kill-leader:0: at 1.0", "; leader of kbench/0 was broker ", "healed at 3.", "(killed)); cluster healthy", "LOST 0, DUPLICATED 0", "unavailability "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	rep, err := audit.ReadReport(filepath.Join(dir, audit.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acknowledged < 3500 || rep.Lost != 0 || rep.Readable < rep.Acknowledged || len(rep.Partitions) != 2 {
		t.Errorf("audit.json: acknowledged %d, lost %d, readable %d, %d partitions", rep.Acknowledged, rep.Lost, rep.Readable, len(rep.Partitions))
	}
}

func TestProduceFaultErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fault", "1s:explode:1"}, "unknown action"},
		{[]string{"--brokers", "1", "--fault", "1s:kill:1"}, "use exec:COMMAND"},
		{[]string{"--fault", "1s:kill:4"}, "broker 4 does not exist"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			args := append([]string{"produce", "-q", "--duration", "1s", "--out", t.TempDir()}, tc.args...)
			_, errOut, code := kbench(t, args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want a failure mentioning %q", code, errOut, tc.want)
			}
		})
	}
}

// TestSweepDurability runs a two-point sweep with a leader kill and the
// audit on three real broker processes: every run carries its fault record
// and audit, the lines their audit figures, and the report its durability
// table.
func TestSweepDurability(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "dur.yaml")
	err := os.WriteFile(prof, []byte(`
target:
  brokers: 3
  client: {metadata.max.age.ms: 250}
topic: {partitions: 2, replication.factor: 3}
workload: {mode: produce, record_size: 100, warmup: 1s, duration: 3s}
rate: 1000
axes:
  acks: ["1", all]
exclude: []
faults: [1s:kill-leader:0]
audit: true
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	mustKbench(t, "sweep", "--profile", prof, "--out", run, "--progress", "none")
	lines, _, err := sweep.ReadResultsFile(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 {
		t.Fatalf("%d result lines, want 2", len(lines))
	}
	for _, l := range lines {
		if l.Status != sweep.PointDone || l.Audit == nil || len(l.Runs) != 1 || l.Runs[0].Faults == nil {
			t.Fatalf("%s: status %s (%s), audit %v, runs %d", l.Point.ID, l.Status, l.Error, l.Audit != nil, len(l.Runs))
		}
		ev := l.Runs[0].Faults.Events[0]
		t.Logf("%s %s: %s killed %v; acknowledged %d, lost %d, duplicated %d, unavailability %.2fs", l.Point.ID, l.Point.Label, ev.Action, ev.Brokers, l.Audit.Acknowledged, l.Audit.Lost, l.Audit.Duplicated, float64(l.Audit.Unavailability))
		if ev.Err != "" || len(ev.Brokers) != 1 || !l.Runs[0].Faults.Heal.Healthy {
			t.Errorf("%s: fault %+v, heal %+v", l.Point.ID, ev, l.Runs[0].Faults.Heal)
		}
		if l.Audit.Acknowledged < 3500 || l.Audit.Readable+l.Audit.Lost < l.Audit.Acknowledged {
			t.Errorf("%s: audit %+v", l.Point.ID, l.Audit)
		}
		if st, ok := l.Figures["audit_lost"]; !ok || st.Median != float64(l.Audit.Lost) {
			t.Errorf("%s: figure audit_lost %+v, audit lost %d", l.Point.ID, st, l.Audit.Lost)
		}
		if l.Point.Value("acks") == "all" && l.Audit.Lost != 0 {
			t.Errorf("acks=all, RF 3: lost %d", l.Audit.Lost)
		}
		if _, err := os.Stat(filepath.Join(run, sweep.AuditDir, l.Point.ID+"-r1", audit.ReportFile)); err != nil {
			t.Errorf("audit file: %v", err)
		}
	}
	out := mustKbench(t, "report", run)
	md, err := os.ReadFile(filepath.Join(run, "report", "report.md"))
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if !strings.Contains(string(md), "## Durability audit") {
		t.Errorf("report.md lacks the durability audit table")
	}
}
