package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/audit"
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
