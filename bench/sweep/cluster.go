package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/broker"
)

// EmbeddedMaxBrokers is the largest cluster the embedded target starts: a
// sanity bound, since every broker is a process on this machine.
const EmbeddedMaxBrokers = 16

// ErrClusterShape marks points whose cluster the target cannot provide.
var ErrClusterShape = errors.New("cluster shape not available")

// CheckShape reports whether the embedded target can run a cluster of n
// brokers, with the reason when it cannot. With startEmbedded it is the one
// place that decides which cluster shapes run and how.
func CheckShape(n int) error {
	if n < 1 || n > EmbeddedMaxBrokers {
		return fmt.Errorf("%w: the point needs %d brokers; the embedded target runs 1 to %d (use --bootstrap for a real cluster)",
			ErrClusterShape, n, EmbeddedMaxBrokers)
	}
	return nil
}

// clusters hands out the target for each point: the external cluster as
// is, or an embedded cluster started (and restarted when the shape changes)
// on demand. Not safe for concurrent use: the sweep runs points in turn.
type clusters struct {
	external bench.Target
	logDir   string // broker logs of embedded clusters go here
	binary   string // kbench executable for broker processes ("" = this one)
	cur      bench.Target
	brokers  int
	gen      int // counts (re)starts, so the sweep knows topics are gone
}

func newClusters(bootstrap, logDir, binary string) (*clusters, error) {
	c := &clusters{logDir: logDir, binary: binary}
	if bootstrap != "" {
		ext, err := bench.NewExternal(bootstrap)
		if err != nil {
			return nil, err
		}
		c.external = ext
	}
	return c, nil
}

// target returns the cluster for a point needing brokers brokers, and a
// generation that changes whenever a new cluster was started.
func (c *clusters) target(ctx context.Context, brokers int, why string) (bench.Target, int, error) {
	if c.external != nil {
		return c.external, 0, nil
	}
	if c.cur != nil && c.brokers == brokers {
		return c.cur, c.gen, nil
	}
	if err := CheckShape(brokers); err != nil {
		return nil, 0, err
	}
	if err := c.stop(); err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("broker log dir: %w", err)
	}
	var tg bench.Target
	var err error
	if brokers == 1 {
		// One broker runs in this process, as the load commands do.
		tg, err = startEmbedded(ctx, c.logDir, why)
	} else {
		tg, err = startCluster(ctx, brokers, c.logDir, c.binary, why)
	}
	if err != nil {
		return nil, 0, err
	}
	c.cur, c.brokers = tg, brokers
	c.gen++
	return tg, c.gen, nil
}

func (c *clusters) stop() error {
	if c.cur == nil {
		return nil
	}
	err := c.cur.Close()
	c.cur = nil
	return err
}

func (c *clusters) close() error { return c.stop() }

// logger appends timestamped lines to a file in the run directory.
type logger struct {
	mu sync.Mutex // broker goroutines log concurrently
	f  *os.File
	l  *log.Logger
}

func openLogger(path string) (*logger, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker log: %w", err)
	}
	return &logger{f: f, l: log.New(f, "", log.LstdFlags|log.Lmicroseconds)}, nil
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l.Printf(format, args...)
}

func (l *logger) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// cluster is the multi-process embedded cluster; its data lives in a
// temporary directory, and its broker logs are copied into the run
// directory when it stops.
type cluster struct {
	*bench.EmbeddedCluster
	dir    string
	logDir string
	log    *logger
}

func startCluster(ctx context.Context, brokers int, logDir, binary, why string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "kbench-sweep-cluster-")
	if err != nil {
		return nil, fmt.Errorf("embedded cluster data dir: %w", err)
	}
	lg, err := openLogger(filepath.Join(logDir, "cluster.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	lg.printf("=== starting a %d-broker cluster (%s), data in %s", brokers, why, dir)
	ec, err := bench.StartEmbeddedCluster(ctx, brokers, bench.ClusterOptions{Dir: dir, Binary: binary, BrokerArgs: []string{"--verbose"}, Logf: lg.printf})
	if err != nil {
		lg.printf("start failed: %v", err)
		copyLogs(dir, logDir)
		os.RemoveAll(dir)
		return nil, errors.Join(err, lg.close())
	}
	lg.printf("brokers at %s", strings.Join(ec.Bootstrap(), ","))
	return &cluster{EmbeddedCluster: ec, dir: dir, logDir: logDir, log: lg}, nil
}

// Close stops the cluster, keeps its broker logs and removes its data.
func (c *cluster) Close() error {
	start := time.Now()
	err := c.EmbeddedCluster.Close()
	c.log.printf("=== stopped in %v (err: %v)", time.Since(start).Round(time.Millisecond), err)
	return errors.Join(err, copyLogs(c.dir, c.logDir), c.log.close(), os.RemoveAll(c.dir))
}

// copyLogs appends every broker-N.log of a cluster directory to the file of
// the same name in the run directory.
func copyLogs(from, to string) error {
	logs, _ := filepath.Glob(filepath.Join(from, "broker-*.log"))
	var errs []error
	for _, src := range logs {
		errs = append(errs, appendFile(src, filepath.Join(to, filepath.Base(src))))
	}
	return errors.Join(errs...)
}

func appendFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// embedded is a kbench broker in this process, on a loopback port, with
// its data in a temporary directory and its log lines in the run directory.
type embedded struct {
	b       *broker.Broker
	dataDir string
	log     *logger
}

var (
	_ bench.Target    = (*embedded)(nil)
	_ bench.InProcess = (*embedded)(nil)
)

func startEmbedded(ctx context.Context, logDir, why string) (*embedded, error) {
	// Data stays out of the run directory: a sweep may write gigabytes.
	data, err := os.MkdirTemp("", "kbench-sweep-broker-")
	if err != nil {
		return nil, fmt.Errorf("embedded broker data dir: %w", err)
	}
	lg, err := openLogger(filepath.Join(logDir, "broker-1.log"))
	if err != nil {
		os.RemoveAll(data)
		return nil, err
	}
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = data
	cfg.AutoCreateTopics = false // the sweep creates its topics with their settings
	cfg.Logf = lg.printf
	lg.printf("=== starting the in-process broker (%s), data in %s", why, data)
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		os.RemoveAll(data)
		return nil, errors.Join(fmt.Errorf("start embedded broker: %w", err), lg.close())
	}
	lg.printf("listening on %s", b.Addr())
	return &embedded{b: b, dataDir: data, log: lg}, nil
}

// Bootstrap is the broker's address.
func (e *embedded) Bootstrap() []string { return []string{e.b.Addr()} }

// Describe names the target for manifests.
func (e *embedded) Describe() string {
	return fmt.Sprintf("embedded kbench broker at %s (1 broker in this process, data in %s)", e.b.Addr(), e.dataDir)
}

// InProcess reports that the broker shares the generator's CPU.
func (e *embedded) InProcess() bool { return true }

// Close stops the broker, removes its data and closes its log.
func (e *embedded) Close() error {
	start := time.Now()
	err := e.b.Close()
	e.log.printf("=== stopped in %v (err: %v)", time.Since(start).Round(time.Millisecond), err)
	return errors.Join(err, e.log.close(), os.RemoveAll(e.dataDir))
}

// describeTarget says in a line what a sweep runs against.
func describeTarget(bootstrap string, brokers []int) string {
	if bootstrap != "" {
		return "external cluster at " + bootstrap
	}
	var shapes []string
	for _, n := range brokers {
		s := fmt.Sprintf("%d broker", n)
		if n > 1 {
			s += "s"
		}
		switch {
		case CheckShape(n) != nil:
			s += " (not available: those points will fail)"
		case n == 1:
			s += " in this process"
		default:
			s += " as processes"
		}
		shapes = append(shapes, s)
	}
	return "embedded cluster, " + strings.Join(shapes, " / ")
}
