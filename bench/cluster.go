package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kbench/kbench/broker/cluster"
)

var (
	_ Target    = (*EmbeddedCluster)(nil)
	_ InProcess = (*EmbeddedCluster)(nil)
)

// EmbeddedCluster is kbench's own multi-broker cluster: the controller in
// this process and one OS process per broker on loopback, so kill -9 of a
// broker is a real crash. Faults() exposes the fault hooks.
type EmbeddedCluster struct {
	c      *cluster.Cluster
	dir    string
	ownDir bool
}

// ClusterOptions tunes StartEmbeddedCluster; the zero value is usable.
type ClusterOptions struct {
	// Dir holds the cluster's data; empty: a fresh temp dir removed on Close.
	Dir string
	// Binary is the kbench executable for broker processes; default
	// os.Executable() (tests pass a built binary).
	Binary string
	// BrokerArgs are extra `kbench broker` flags for every broker.
	BrokerArgs []string
	// Env is added to the environment of every broker process (tests use
	// it to make a re-executed test binary act as kbench).
	Env []string
	// Logf receives supervisor and controller log lines.
	Logf func(format string, args ...any)
}

// StartEmbeddedCluster starts a cluster of n brokers and waits until every
// broker registered.
func StartEmbeddedCluster(ctx context.Context, n int, o ClusterOptions) (*EmbeddedCluster, error) {
	e := &EmbeddedCluster{dir: o.Dir}
	if e.dir == "" {
		dir, err := os.MkdirTemp("", "kbench-cluster-")
		if err != nil {
			return nil, fmt.Errorf("embedded cluster data dir: %w", err)
		}
		e.dir, e.ownDir = dir, true
	}
	c, err := cluster.Start(ctx, cluster.Config{Brokers: n, Dir: e.dir, Binary: o.Binary, BrokerArgs: o.BrokerArgs, Env: o.Env, Logf: o.Logf})
	if err != nil {
		if e.ownDir {
			os.RemoveAll(e.dir)
		}
		return nil, fmt.Errorf("start embedded %d-broker cluster: %w", n, err)
	}
	e.c = c
	return e, nil
}

// StartTarget starts the embedded target with n brokers: one in-process
// broker for n == 1, a supervised multi-process cluster otherwise.
func StartTarget(ctx context.Context, n int, o ClusterOptions) (Target, error) {
	switch {
	case n == 1:
		return StartEmbedded(ctx, o.Dir)
	case n > 1:
		return StartEmbeddedCluster(ctx, n, o)
	}
	return nil, fmt.Errorf("embedded cluster size %d: want at least 1 broker", n)
}

// Bootstrap lists every broker's address.
func (e *EmbeddedCluster) Bootstrap() []string { return e.c.Bootstrap() }

// Describe names the target for manifests.
func (e *EmbeddedCluster) Describe() string {
	return fmt.Sprintf("embedded kbench cluster of %d brokers at %s (data in %s)", len(e.c.Brokers()), strings.Join(e.c.Bootstrap(), ","), e.dir)
}

// InProcess reports false: the brokers run in their own processes, so the
// generator's CPU figure is its own (they still share this machine's cores).
func (e *EmbeddedCluster) InProcess() bool { return false }

// Faults returns the fault hooks (kill, stop, pause, restart, delay, ...).
func (e *EmbeddedCluster) Faults() *cluster.Cluster { return e.c }

// Dir is where the cluster keeps its data and broker logs.
func (e *EmbeddedCluster) Dir() string { return e.dir }

// Close stops every broker and the controller, and removes a temporary dir.
func (e *EmbeddedCluster) Close() error {
	err := e.c.Close()
	if e.ownDir {
		err = errors.Join(err, os.RemoveAll(e.dir))
	}
	return err
}
