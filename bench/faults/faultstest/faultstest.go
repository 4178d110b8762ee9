// Package faultstest runs kbench clusters of real broker processes in
// tests: the test binary re-executes itself as kbench, so the brokers are
// the code under test without a separate build.
package faultstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/cli"
)

// childEnv makes a re-executed test binary act as kbench.
const childEnv = "KBENCH_FAULTSTEST_AS_KBENCH"

// Main is a TestMain for packages that start clusters: in a child it runs
// kbench with the child's arguments, otherwise the tests.
func Main(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// StartCluster starts n broker processes from the test binary (the package
// must use Main) and closes them when the test ends, logging the tail of
// every broker's log if the test failed.
func StartCluster(t testing.TB, n int) *bench.EmbeddedCluster {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A context would also end the cluster's life: the supervisor's own
	// start timeout bounds the start.
	ec, err := bench.StartEmbeddedCluster(context.Background(), n, bench.ClusterOptions{Binary: exe, Env: []string{childEnv + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= n; i++ {
				raw, _ := os.ReadFile(filepath.Join(ec.Dir(), fmt.Sprintf("broker-%d.log", i)))
				if len(raw) > 3000 {
					raw = raw[len(raw)-3000:]
				}
				t.Logf("broker-%d.log (tail):\n%s", i, raw)
			}
		}
		if err := ec.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return ec
}
