//go:build chaos

package verify_test

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/verify"
)

// The full suite's knobs (make test-chaos SEEDS=… DURATION=… WORKLOADS=…).
var (
	chaosSeeds     = flag.Int("chaos.seeds", 20, "number of seeds (1..N)")
	chaosFirst     = flag.Int64("chaos.first", 1, "first seed")
	chaosDuration  = flag.Duration("chaos.duration", 60*time.Second, "load duration of each seed")
	chaosInterval  = flag.Duration("chaos.interval", 6*time.Second, "time between faults; each lasts half of it")
	chaosWorkloads = flag.String("chaos.workloads", "produce,queue,txn", "workloads, taken in turn by the seeds")
	chaosMixFlag   = flag.String("chaos.mix", "", "nemesis actions (comma-separated); default the whole mix")
)

// TestChaos is the full random fault suite: seed N runs the N-th workload
// (in turn) for chaos.duration under the whole fault mix, each seed on a
// fresh 3-broker cluster, and prints the table. Any anomaly fails it.
func TestChaos(t *testing.T) {
	workloads := strings.Split(*chaosWorkloads, ",")
	mix := chaosMix
	if *chaosMixFlag != "" {
		var err error
		if mix, err = verify.ParseNemesis(*chaosMixFlag); err != nil {
			t.Fatal(err)
		}
	}
	var cases []chaosCase
	for i := range *chaosSeeds {
		cases = append(cases, chaosCase{Seed: *chaosFirst + int64(i), Workload: strings.TrimSpace(workloads[i%len(workloads)]), Nemesis: mix})
	}
	rows := runChaos(t, cases, *chaosDuration, *chaosInterval)
	writeChaosTable(os.Stdout, rows)
}
