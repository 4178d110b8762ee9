package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/selfbench"
)

func TestSelfbenchFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c selfbench.Config)
	}{
		{"defaults", nil, func(t *testing.T, c selfbench.Config) {
			if c.Rounds != 3 || len(c.Workloads) != 16 || c.Backlog != 2<<30 || len(c.Targets) != 5 || c.Binary == "" {
				t.Errorf("got %d rounds, %d workloads, %d backlog bytes, targets %v, binary %q; want the full run", c.Rounds, len(c.Workloads), c.Backlog, c.Targets, c.Binary)
			}
		}},
		{"quick", []string{"--quick"}, func(t *testing.T, c selfbench.Config) {
			q := selfbench.Quick()
			if c.Rounds != q.Rounds || c.Duration != q.Duration || c.Backlog != q.Backlog || len(c.Workloads) != len(q.Workloads) {
				t.Errorf("got %d rounds, %v, %d backlog bytes; want the quick settings", c.Rounds, c.Duration, c.Backlog)
			}
		}},
		{"quick with overrides", []string{"--quick", "--rounds", "5", "--backlog", "1MiB", "--duration", "2s"}, func(t *testing.T, c selfbench.Config) {
			if c.Rounds != 5 || c.Backlog != 1<<20 || c.Duration != 2*time.Second || c.Warmup != selfbench.Quick().Warmup {
				t.Errorf("got %d rounds, %d backlog bytes, %v duration, %v warmup; want the overrides on quick", c.Rounds, c.Backlog, c.Duration, c.Warmup)
			}
		}},
		{"targets narrow the catch-up", []string{"--targets", "ceiling,kbench-rf3"}, func(t *testing.T, c selfbench.Config) {
			if len(c.Targets) != 2 || len(c.ConsumeTargets) != 1 || c.ConsumeTargets[0] != selfbench.Ceiling {
				t.Errorf("got targets %v, consume targets %v; want 2 targets and the ceiling's catch-up only", c.Targets, c.ConsumeTargets)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := selfbenchConfig(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	for _, bad := range [][]string{{"--targets", "redpanda"}, {"--backlog", "lots"}} {
		if _, err := selfbenchConfig(bad); err == nil {
			t.Errorf("%v: got no error, want one", bad)
		}
	}
	// A bad value stops the command before anything starts.
	_, stderr, code := kbench(t, "selfbench", "--rounds", "0", "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "rounds") {
		t.Errorf("--rounds 0: exit %d, stderr %q; want a rounds error", code, stderr)
	}
}

// The command's former name still runs it, subcommands included, and is
// not listed.
func TestSelftestAlias(t *testing.T) {
	_, stderr, code := kbench(t, "selftest", "--rounds", "0", "--out", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "rounds") {
		t.Errorf("selftest --rounds 0: exit %d, stderr %q; want the selfbench rounds error", code, stderr)
	}
	if out := mustKbench(t, "selftest", "generator", "--help"); !strings.Contains(out, "generator") {
		t.Errorf("selftest generator --help: %q", out)
	}
	help := mustKbench(t, "--help")
	if !strings.Contains(help, "selfbench") || strings.Contains(help, "selftest") {
		t.Errorf("kbench --help lists selfbench and not selftest; got:\n%s", help)
	}
}

func selfbenchConfig(args []string) (selfbench.Config, error) {
	o := &selfbenchOptions{}
	cmd := &cobra.Command{}
	bindSelfbenchFlags(cmd, o)
	if err := cmd.ParseFlags(args); err != nil {
		return selfbench.Config{}, err
	}
	o.set = cmd.Flags().Changed
	return o.config()
}
