package verify_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/verify"
	"github.com/kbench/kbench/target/targettest"
)

// chaosMix is the random fault suite's nemesis: faults on random brokers
// (kill, pause, restart, replication delay and bandwidth) and on the
// brokers that matter at that moment (a partition's current leader, the
// group or transaction coordinator).
var chaosMix = []verify.Action{verify.Kill, verify.Pause, verify.Restart, verify.Delay, verify.Bandwidth, verify.Leader, verify.Coordinator}

// chaosCase is one seed of the suite.
type chaosCase struct {
	Seed     int64
	Workload string
	Nemesis  []verify.Action
}

// chaosRow is a seed's line of the table.
type chaosRow struct {
	chaosCase
	res *verify.Result
	err error
}

// chaosConfig is a seed's verify run: idempotent acks=all producers on
// topics with min.insync.replicas=2 (replication factor 3),
// queue consumers committing synchronously, a fault every interval.
func chaosConfig(tg bench.Target, c chaosCase, d, interval time.Duration, dir string) verify.Config {
	return verify.Config{
		Workload: c.Workload, Commit: "sync", Seed: c.Seed, Nemesis: c.Nemesis, Interval: interval,
		Stall: 15 * time.Second, Drain: 30 * time.Second, Dir: dir,
		Run: bench.RunConfig{
			Target: tg, Producers: 2, Consumers: 2, Rate: 100, Duration: d,
			Producer: map[string]string{"enable.idempotence": "true", "acks": "all"},
			Topic:    bench.TopicConfig{ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "2"}},
		},
	}
}

// runChaos runs each case on a fresh 3-broker embedded cluster (a seed's
// leftovers cannot show up in the next one), one after another, fails the
// test on any anomaly or run error, and returns the rows.
func runChaos(t *testing.T, cases []chaosCase, d, interval time.Duration) []chaosRow {
	rows := make([]chaosRow, len(cases))
	for i, c := range cases {
		rows[i].chaosCase = c
		t.Run(fmt.Sprintf("seed-%d-%s", c.Seed, c.Workload), func(t *testing.T) {
			ec := targettest.StartCluster(t, 3)
			dir := filepath.Join(t.TempDir(), "run")
			cfg := chaosConfig(ec, c, d, interval, dir)
			var out strings.Builder
			cfg.Out = &out
			// The load, the final heal (at most a minute) and the drain
			// bound a run; the margin is for a slow machine.
			ctx, cancel := context.WithTimeout(context.Background(), d+4*time.Minute)
			defer cancel()
			res, err := verify.Run(ctx, cfg)
			rows[i].res, rows[i].err = res, err
			if err != nil {
				t.Errorf("seed %d %s: run: %v", c.Seed, c.Workload, err)
			}
			if res == nil {
				t.Logf("%s", out.String())
				return
			}
			if !res.Complete {
				t.Errorf("seed %d %s: the history has no end phase", c.Seed, c.Workload)
			}
			if applied(res) == 0 {
				t.Errorf("seed %d %s: no fault was applied", c.Seed, c.Workload)
			}
			// A run in which nothing was acknowledged or delivered checked
			// nothing.
			if res.Stats.Acked == 0 || res.Stats.Delivered == 0 {
				t.Errorf("seed %d %s: %d of %d records acknowledged, %d delivered: the run checked nothing", c.Seed, c.Workload, res.Stats.Acked, res.Stats.Sent, res.Stats.Delivered)
			}
			if !res.Valid || t.Failed() {
				var sum strings.Builder
				verify.WriteSummary(&sum, res, filepath.Join(dir, verify.HistoryFile))
				t.Errorf("seed %d %s: %s\n%s%s", c.Seed, c.Workload, res.Verdict(), out.String(), sum.String())
				keep(t, dir, c)
			}
		})
	}
	return rows
}

// keep copies a failed run's directory next to the suite's output (set
// KBENCH_CHAOS_KEEP to a directory) so its history can be re-checked
// with kbench verify --check.
func keep(t *testing.T, dir string, c chaosCase) {
	to := os.Getenv("KBENCH_CHAOS_KEEP")
	if to == "" {
		return
	}
	dst := filepath.Join(to, fmt.Sprintf("seed-%d-%s", c.Seed, c.Workload))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Log(err)
		return
	}
	for _, name := range []string{verify.HistoryFile, verify.ResultFile} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			_ = os.WriteFile(filepath.Join(dst, name), b, 0o644)
		}
	}
	t.Logf("history kept in %s", dst)
}

// faultSummary is how many faults were applied, by action: "4: kill 2,
// pause 1, coordinator 1".
func faultSummary(r *verify.Result) string {
	n := map[string]int{}
	var order []string
	for _, f := range r.Faults {
		if f.Err != "" || f.Fault == "final heal" {
			continue
		}
		// Fault names are "#N action ...".
		a := strings.Fields(f.Fault + " ? ?")[1]
		if n[a] == 0 {
			order = append(order, a)
		}
		n[a]++
	}
	var parts []string
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s %d", a, n[a]))
	}
	return fmt.Sprintf("%d: %s", applied(r), strings.Join(parts, ", "))
}

// applied counts the nemesis faults applied without error (not the final
// heal).
func applied(r *verify.Result) int {
	n := 0
	for _, f := range r.Faults {
		if f.Err == "" && f.Fault != "final heal" {
			n++
		}
	}
	return n
}

// writeChaosTable prints the suite's table: per seed the workload, the
// faults applied (of those planned), the records acknowledged (of those
// sent), the anomalies by kind and the longest window without a
// successful operation.
func writeChaosTable(w io.Writer, rows []chaosRow) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEED\tWORKLOAD\tNEMESIS\tFAULTS APPLIED\tRECORDS (acked/sent)\tANOMALIES\tLONGEST UNAVAILABILITY")
	var total int
	for _, r := range rows {
		nem := "all"
		if !slices.Equal(r.Nemesis, chaosMix) {
			var as []string
			for _, a := range r.Nemesis {
				as = append(as, string(a))
			}
			nem = strings.Join(as, ",")
		}
		if r.res == nil {
			fmt.Fprintf(tw, "%d\t%s\t%s\t-\t-\trun failed: %v\t-\n", r.Seed, r.Workload, nem, r.err)
			total++
			continue
		}
		s := r.res.Stats
		anom := "none"
		if len(r.res.Anomalies) > 0 {
			var parts []string
			for _, a := range r.res.Anomalies {
				parts = append(parts, fmt.Sprintf("%s=%d", a.Kind, a.Count))
				total += a.Count
			}
			anom = strings.Join(parts, " ")
		}
		if r.err != nil {
			anom += fmt.Sprintf(" (run error: %v)", r.err)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Seed, r.Workload, nem, faultSummary(r.res), s.Acked, s.Sent, anom, longest(r.res))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d run(s), %d anomaly occurrence(s)\n", len(rows), total)
}

// longest is the longest of a run's windows without a success.
func longest(r *verify.Result) string {
	var best verify.Window
	for _, w := range r.Availability {
		if w.None {
			return w.What + ": none succeeded"
		}
		if w.Seconds > best.Seconds {
			best = w
		}
	}
	if best.What == "" {
		return "-"
	}
	return fmt.Sprintf("%.1fs (%s)", best.Seconds, best.What)
}

// chaosShortCases are the seeds and workloads of the short suite that
// runs with every test, each under the whole mix: queue seed 3 kills the
// group coordinator and a broker and pauses brokers; produce seed 2
// restarts a broker, pauses one and kills a leader; txn seed 5 delays
// followers, pauses a broker and kills the transaction coordinator.
func chaosShortCases() []chaosCase {
	return []chaosCase{
		{Seed: 3, Workload: "queue", Nemesis: chaosMix},
		{Seed: 2, Workload: "produce", Nemesis: chaosMix},
		{Seed: 5, Workload: "txn", Nemesis: chaosMix},
	}
}

// TestChaosShort is a short random fault run: 3 seeds of 20 s, each on its
// own cluster (make test-chaos runs the full suite).
func TestChaosShort(t *testing.T) {
	t.Parallel()
	rows := runChaos(t, chaosShortCases(), 20*time.Second, 4*time.Second)
	var tab strings.Builder
	writeChaosTable(&tab, rows)
	t.Logf("\n%s", tab.String())
}
