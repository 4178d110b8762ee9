// Package target starts what a benchmark runs against, with one entry
// point, Start: kbench's own broker in this process, one broker as a
// process of its own, a supervised cluster of broker processes on loopback,
// another kbench server command (the self-benchmark's null broker), or an
// external cluster kbench only connects to.
//
// It is the load generator's one door to the broker packages: nothing under
// bench/ imports broker/... but through this package (import_test.go checks
// it). The child-process protocol itself (argv, the listening line, fault
// commands on stdin) belongs to broker/cluster.
package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/broker"
	"github.com/kbench/kbench/broker/cluster"
)

// MaxBrokers is the largest cluster Start runs: a sanity bound, since every
// broker is a process on this machine.
const MaxBrokers = 16

// Options say which target to start; the zero value is one broker in this
// process with its data in a temporary directory.
type Options struct {
	// Bootstrap names an external cluster (comma-separated host:port):
	// nothing is started, and the options below must be left empty.
	Bootstrap string
	// Brokers is the size of kbench's own cluster: 1 (the default) is one
	// broker in this process, more a cluster of broker processes with the
	// controller in this process.
	Brokers int
	// Process runs the single broker as a process of its own (`kbench
	// broker`), so its CPU and memory are apart from the generator's.
	Process bool
	// Command runs this kbench command as a one-process target instead of
	// a broker; it must print a listening line (cluster.ListeningLine).
	Command []string
	// Dir holds the data, and a process's or cluster's logs; empty: a
	// fresh temporary directory, removed on Close.
	Dir string
	// LogDir, when set, keeps the brokers' logs (verbose: connections,
	// topic changes, retention) beyond Close: the in-process broker's in
	// LogDir/broker-1.log, a cluster's supervisor lines in
	// LogDir/cluster.log and its brokers' logs appended to
	// LogDir/broker-N.log when it stops.
	LogDir string
	// Purpose says in the logs why the target was started.
	Purpose string
	// NoAutoCreate stops brokers creating unknown topics on metadata
	// requests, for callers that create every topic with its settings.
	NoAutoCreate bool
	// Binary is the kbench executable for processes; default
	// os.Executable() (tests pass a built binary or re-execute themselves).
	Binary string
	// BrokerArgs are extra `kbench broker` flags for every broker process.
	BrokerArgs []string
	// Env is added to the environment of every process.
	Env []string
	// Logf receives the cluster supervisor's and controller's lines;
	// default discards (or LogDir/cluster.log).
	Logf func(format string, args ...any)
}

func (o *Options) validate() error {
	if o.Bootstrap != "" {
		if o.Brokers != 0 || o.Process || o.Command != nil || o.Dir != "" || o.LogDir != "" {
			return errors.New("target: an external cluster (bootstrap) takes no brokers, process, command or directories")
		}
		return nil
	}
	if o.Brokers == 0 {
		o.Brokers = 1
	}
	if err := CheckBrokers(o.Brokers); err != nil {
		return err
	}
	if (o.Process || o.Command != nil) && (o.Brokers != 1 || o.LogDir != "") {
		return fmt.Errorf("target: a process target is one broker (not %d) and keeps its log in its dir (no log dir)", o.Brokers)
	}
	return nil
}

// ErrBrokers marks a cluster size Start cannot run.
var ErrBrokers = errors.New("cluster size not available")

// CheckBrokers says whether Start can run a cluster of n brokers.
func CheckBrokers(n int) error {
	if n < 1 || n > MaxBrokers {
		return fmt.Errorf("%w: %d brokers; kbench's own cluster runs 1 to %d (use --bootstrap for a real cluster)", ErrBrokers, n, MaxBrokers)
	}
	return nil
}

// Target is a started target. It implements bench.Target.
type Target struct {
	bootstrap []string
	describe  string
	dir       string
	inProcess bool
	proc      *cluster.Process // a process target
	cl        *cluster.Cluster // a cluster
	close     []func() error   // in order
}

var (
	_ bench.Target    = (*Target)(nil)
	_ bench.InProcess = (*Target)(nil)
)

// Start starts the target o describes and returns once it accepts
// connections (a cluster: every broker registered). Cancelling ctx stops a
// cluster; Close stops every kind.
func Start(ctx context.Context, o Options) (*Target, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Bootstrap != "" {
		ext, err := bench.NewExternal(o.Bootstrap)
		if err != nil {
			return nil, err
		}
		return &Target{bootstrap: ext.Bootstrap(), describe: ext.Describe()}, nil
	}
	t := &Target{dir: o.Dir}
	var removeDir func() error
	if t.dir != "" {
		if err := os.MkdirAll(t.dir, 0o755); err != nil {
			return nil, fmt.Errorf("target data dir: %w", err)
		}
	} else {
		dir, err := os.MkdirTemp("", "kbench-target-")
		if err != nil {
			return nil, fmt.Errorf("target data dir: %w", err)
		}
		t.dir, removeDir = dir, func() error { return os.RemoveAll(dir) }
	}
	var err error
	switch {
	case o.Command != nil || o.Process:
		err = t.startProcess(ctx, o)
	case o.Brokers == 1:
		err = t.startInProcess(ctx, o)
	default:
		err = t.startCluster(ctx, o)
	}
	if removeDir != nil {
		// Last: after everything that uses the directory.
		t.close = append(t.close, removeDir)
	}
	if err != nil {
		return nil, errors.Join(err, t.closeAll())
	}
	return t, nil
}

// startInProcess starts one broker in this process.
func (t *Target) startInProcess(ctx context.Context, o Options) error {
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.dir
	cfg.AutoCreateTopics = !o.NoAutoCreate
	var lg *logger
	if o.LogDir != "" {
		var err error
		if lg, err = openLogger(o.LogDir, "broker-1.log"); err != nil {
			return err
		}
		cfg.Logf = lg.printf
		lg.printf("=== starting the in-process broker (%s), data in %s", o.Purpose, t.dir)
	}
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		return errors.Join(fmt.Errorf("start embedded broker: %w", err), lg.close())
	}
	t.close = append(t.close, lg.timed(b.Close), lg.close)
	lg.printf("listening on %s", b.Addr())
	t.bootstrap, t.inProcess = []string{b.Addr()}, true
	t.describe = fmt.Sprintf("embedded kbench broker at %s (1 broker in this process, data in %s)", b.Addr(), t.dir)
	return nil
}

// startProcess starts one broker process, or o.Command.
func (t *Target) startProcess(ctx context.Context, o Options) error {
	args, name, log := o.Command, strings.Join(o.Command, " "), filepath.Join(t.dir, "server.log")
	if args == nil {
		args = append([]string{"broker", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.dir, "broker-1")}, o.BrokerArgs...)
		if o.NoAutoCreate {
			args = append(args, "--auto-create-topics=false")
		}
		name, log = "broker", filepath.Join(t.dir, "broker-1.log")
	}
	p, err := cluster.StartProcess(ctx, cluster.ProcessConfig{Binary: o.Binary, Args: args, Env: o.Env, LogPath: log})
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	t.proc = p
	t.close = append(t.close, p.Close)
	t.bootstrap = []string{p.Addr()}
	t.describe = fmt.Sprintf("kbench %s process at %s (data in %s)", name, p.Addr(), t.dir)
	return nil
}

// startCluster starts a supervised cluster of broker processes.
func (t *Target) startCluster(ctx context.Context, o Options) error {
	args := slices.Clone(o.BrokerArgs)
	if o.NoAutoCreate {
		args = append(args, "--auto-create-topics=false")
	}
	logf := o.Logf
	var lg *logger
	if o.LogDir != "" {
		var err error
		if lg, err = openLogger(o.LogDir, "cluster.log"); err != nil {
			return err
		}
		logf = lg.printf
		args = append(args, "--verbose")
		lg.printf("=== starting a %d-broker cluster (%s), data in %s", o.Brokers, o.Purpose, t.dir)
	}
	// The brokers' logs are kept once the cluster stopped (or failed to
	// start): they are complete then.
	keepLogs := func() error {
		if lg == nil {
			return nil
		}
		return errors.Join(copyLogs(t.dir, o.LogDir), lg.close())
	}
	c, err := cluster.Start(ctx, cluster.Config{Brokers: o.Brokers, Dir: t.dir, Binary: o.Binary, BrokerArgs: args, Env: o.Env, Logf: logf})
	if err != nil {
		lg.printf("start failed: %v", err)
		return errors.Join(fmt.Errorf("start embedded %d-broker cluster: %w", o.Brokers, err), keepLogs())
	}
	lg.printf("brokers at %s", strings.Join(c.Bootstrap(), ","))
	t.cl = c
	t.close = append(t.close, lg.timed(c.Close), keepLogs)
	t.bootstrap = c.Bootstrap()
	t.describe = fmt.Sprintf("embedded kbench cluster of %d brokers at %s (data in %s)", o.Brokers, strings.Join(t.bootstrap, ","), t.dir)
	return nil
}

// ListeningLine is the line a Command target prints once it accepts
// connections: the protocol's stdout side, as broker/cluster defines it.
func ListeningLine(who, addr string) string { return cluster.ListeningLine(who, addr, "") }

// Bootstrap lists the brokers' addresses, for a client's seed list.
func (t *Target) Bootstrap() []string { return t.bootstrap }

// Describe names the target for manifests.
func (t *Target) Describe() string { return t.describe }

// InProcess reports whether the broker runs in this process, so that its
// CPU shows in the generator's.
func (t *Target) InProcess() bool { return t.inProcess }

// Dir is where the target keeps its data (and a process's or cluster's
// logs); "" for an external cluster.
func (t *Target) Dir() string { return t.dir }

// Faults returns a cluster's fault hooks (kill, stop, pause, restart,
// delay, ...); nil for every other target.
func (t *Target) Faults() *Cluster { return t.cl }

// PIDs lists the processes serving the target (none for a broker in this
// process or an external cluster), for reading their CPU and memory.
func (t *Target) PIDs() []int {
	switch {
	case t.proc != nil:
		return []int{t.proc.PID()}
	case t.cl != nil:
		var pids []int
		for _, b := range t.cl.Brokers() {
			pids = append(pids, b.PID)
		}
		return pids
	}
	return nil
}

// Alive returns an error once a process serving the target is no longer
// running.
func (t *Target) Alive() error {
	switch {
	case t.proc != nil:
		return t.proc.Alive()
	case t.cl != nil:
		for _, b := range t.cl.Brokers() {
			if b.State != cluster.Running {
				return fmt.Errorf("broker %d is %s (%s); its log: %s", b.ID, b.State, b.Exit, b.Log)
			}
		}
	}
	return nil
}

// MetricsURL is a broker process's metrics endpoint (BrokerArgs with
// --metrics-listen), waiting briefly for the process to print it.
func (t *Target) MetricsURL() (string, error) {
	if t.proc == nil {
		return "", errors.New("target: metrics endpoints are read from a broker process")
	}
	return t.proc.MetricsURL()
}

// Close stops what Start started and removes a temporary data directory.
// It does nothing for an external cluster.
func (t *Target) Close() error { return t.closeAll() }

func (t *Target) closeAll() error {
	var errs []error
	for _, f := range t.close {
		errs = append(errs, f())
	}
	t.close = nil
	return errors.Join(errs...)
}
