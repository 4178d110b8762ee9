package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench"
)

// kbench e2e --backlog prints the drain figures and --json carries them.
func TestE2EBacklogFlags(t *testing.T) {
	js := filepath.Join(t.TempDir(), "r.json")
	out, errOut, code := kbench(t, "e2e", "--brokers", "1", "--rate", "3000", "--duration", "8s", "--interval", "1s",
		"--backlog", "2MiB", "--drain-ratio", "0.95", "--json", js)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// Exactly 2 MiB built prints as 2MiB, a little more as 2.0MiB.
	if !regexp.MustCompile(`backlog built: 2(\.\d)?MiB `).MatchString(out) {
		t.Errorf("output lacks the 2 MiB backlog built:\n%s", out)
	}
	for _, want := range []string{"drain time: ", "drain rate: ", "before drain p50 / p99", "result: VALID"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var res bench.Result
	readJSON(t, js, &res)
	b := res.Backlog
	if b == nil || !b.Drained || b.DrainS <= 0 || b.DrainRatio != 0.95 || b.TargetBytes != 2<<20 || res.Settings.Warmup != 0 {
		t.Fatalf("JSON backlog %+v, warmup %v", b, res.Settings.Warmup)
	}

	_, errOut, code = kbench(t, "e2e", "--brokers", "1", "--rate", "3000", "--backlog", "2 lots")
	if code == 0 || !strings.Contains(errOut, `--backlog: "2 lots" is not a byte size`) {
		t.Errorf("bad --backlog: exit %d, stderr %q", code, errOut)
	}
}
