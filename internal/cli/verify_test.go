package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestVerifyFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown nemesis action", []string{"--nemesis", "kill,explode"},
			[]string{`unknown action "explode"`, "kill, pause, restart, delay, bandwidth, drop-produce, leader, coordinator"}},
		{"unknown nemesis-cmd action", []string{"--bootstrap", "127.0.0.1:1", "--nemesis-cmd", "reboot=echo {broker}"},
			[]string{`unknown action "reboot"`, "kill, restart, pause, resume"}},
		{"nemesis-cmd without a command", []string{"--bootstrap", "127.0.0.1:1", "--nemesis-cmd", "kill"},
			[]string{`--nemesis-cmd "kill"`, "ACTION="}},
		{"unmapped actions against an external cluster", []string{"--bootstrap", "127.0.0.1:1", "--nemesis", "kill,pause,coordinator", "--nemesis-cmd", "kill=echo {broker}"},
			[]string{"restart (for kill)", "pause (for pause)", "resume (for pause)", "restart (for coordinator)"}},
		{"nemesis-cmd on the embedded cluster", []string{"--nemesis", "kill", "--nemesis-cmd", "kill=echo {broker}", "--nemesis-cmd", "restart=echo {broker}"},
			[]string{"commands are for an external cluster"}},
		{"faults on one broker", []string{"--nemesis", "kill", "--brokers", "1"},
			[]string{"--brokers 2 or more"}},
		{"nemesis with a scenario", []string{"--workload", "isr-timeline", "--nemesis", "kill"},
			[]string{"the isr-timeline scenario applies its own faults"}},
		{"scenario's fault unmapped on an external cluster", []string{"--bootstrap", "127.0.0.1:1", "--workload", "duplicates"},
			[]string{"drop-produce (for drop-produce)"}},
		{"bad workload", []string{"--workload", "soak"}, []string{`workload "soak"`, "produce, queue, txn"}},
		{"bad commit mode", []string{"--commit", "sometimes"}, []string{`commit "sometimes"`, "sync, async or auto"}},
		{"interval too short", []string{"--interval", "100ms"}, []string{"interval 100ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := Main(append([]string{"verify", "--out", t.TempDir()}, tc.args...), &out, &out)
			if code != 1 {
				t.Fatalf("exit %d, want 1; output:\n%s", code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output %q does not mention %q", out.String(), w)
				}
			}
		})
	}
}

func TestVerifyHelpDescribesEveryFlag(t *testing.T) {
	cmd := newVerifyCmd(&bytes.Buffer{}, &bytes.Buffer{})
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if len(f.Usage) < 20 {
			t.Errorf("--%s: usage %q is too short to help", f.Name, f.Usage)
		}
	})
	var out bytes.Buffer
	if code := Main([]string{"verify", "--help"}, &out, &out); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, w := range []string{"--nemesis-cmd", "{broker}", "commit-regression", "stalled-lso", "kbench verify check"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("verify --help does not mention %q", w)
		}
	}
}

func TestVerifyCheckHistory(t *testing.T) {
	dir := t.TempDir()
	const start = `{"t":0,"type":"start","meta":{"schema":1,"workload":"queue","topic":"in","partitions":1,"group":"g"}}` + "\n"
	const ops = `{"t":0.1,"type":"commit","outcome":"ok","t0":0.05,"group":"g","offset":7}` + "\n" +
		`{"t":0.3,"type":"phase","note":"end"}` + "\n"
	const regression = `{"t":0.2,"type":"offsets","outcome":"ok","t0":0.15,"proc":"observer","group":"g","offset":-1}` + "\n"
	for _, tc := range []struct {
		name, history, want string
		code                int
	}{
		{"valid", start + ops, "verdict: VALID", 0},
		{"regression", start + `{"t":0.1,"type":"commit","outcome":"ok","t0":0.05,"group":"g","offset":7}` + "\n" + regression + `{"t":0.3,"type":"phase","note":"end"}` + "\n", "commit-regression  1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".jsonl")
			if err := os.WriteFile(path, []byte(tc.history), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if code := Main([]string{"verify", "check", path}, &out, &out); code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output does not contain %q:\n%s", tc.want, out.String())
			}
		})
	}
	var out bytes.Buffer
	if code := Main([]string{"verify", "check", filepath.Join(dir, "missing.jsonl")}, &out, &out); code != 1 || !strings.Contains(out.String(), "missing.jsonl") {
		t.Errorf("missing history: exit %d, output %q", code, out.String())
	}
}
