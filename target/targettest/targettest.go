// Package targettest starts kbench clusters of real broker processes in
// tests: the test binary re-executes itself as the broker (through
// cluster.ChildMain, the child side of the supervisor's protocol), so the
// brokers are the code under test without a separate build.
package targettest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/target"
)

// childEnv makes a re-executed test binary act as a broker.
const childEnv = "KBENCH_TARGETTEST_AS_BROKER"

// Main is a TestMain for packages that start clusters: in a child it runs
// the broker with the child's arguments, otherwise the tests.
func Main(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(cluster.ChildMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// ChildEnv is the environment that makes a process started from the test
// binary (the package must use Main) act as a broker.
func ChildEnv() []string { return []string{childEnv + "=1"} }

// StartCluster starts n broker processes from the test binary (the package
// must use Main) and closes them when the test ends, logging the tail of
// every broker's log if the test failed.
func StartCluster(t testing.TB, n int) *target.Target {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A context would also end the cluster's life: the supervisor's own
	// start timeout bounds the start.
	tg, err := target.Start(context.Background(), target.Options{Brokers: n, Binary: exe, Env: ChildEnv()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= n; i++ {
				raw, _ := os.ReadFile(filepath.Join(tg.Dir(), fmt.Sprintf("broker-%d.log", i)))
				if len(raw) > 3000 {
					raw = raw[len(raw)-3000:]
				}
				t.Logf("broker-%d.log (tail):\n%s", i, raw)
			}
		}
		if err := tg.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return tg
}
