package sweep

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/broker"
)

// EmbeddedMaxBrokers is the largest cluster the embedded target can start.
// It is 1 until the multi-broker cluster (kbench broker --brokers N, one OS
// process per broker) lands; then startEmbedded starts N brokers and this
// rises. It is the one place that decides which cluster shapes run today.
const EmbeddedMaxBrokers = 1

// ErrClusterShape marks points whose cluster the target cannot provide.
var ErrClusterShape = errors.New("cluster shape not available")

// CheckShape reports whether the embedded target can run a cluster of n
// brokers, with the reason when it cannot.
func CheckShape(n int) error {
	if n > EmbeddedMaxBrokers {
		return fmt.Errorf("%w: the point needs %d brokers but the embedded target runs at most %d until the multi-broker cluster lands; run it against a real cluster with --bootstrap, or set target.brokers and replication.factor to 1",
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
	cur      *embedded
	brokers  int
	gen      int // counts (re)starts, so the sweep knows topics are gone
}

func newClusters(bootstrap string, logDir string) (*clusters, error) {
	c := &clusters{logDir: logDir}
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
	e, err := startEmbedded(ctx, brokers, c.logDir, why)
	if err != nil {
		return nil, 0, err
	}
	c.cur, c.brokers = e, brokers
	c.gen++
	return e, c.gen, nil
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

// embedded is a kbench broker in this process, on a loopback port, with
// its data in a temporary directory and its log lines in the run directory.
type embedded struct {
	b       *broker.Broker
	dataDir string
	logFile *os.File
	mu      sync.Mutex // serialises log writes from broker goroutines
}

var (
	_ bench.Target    = (*embedded)(nil)
	_ bench.InProcess = (*embedded)(nil)
)

func startEmbedded(ctx context.Context, brokers int, logDir, why string) (*embedded, error) {
	if err := CheckShape(brokers); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker log dir: %w", err)
	}
	// Data stays out of the run directory: a sweep may write gigabytes.
	data, err := os.MkdirTemp("", "kbench-sweep-broker-")
	if err != nil {
		return nil, fmt.Errorf("embedded broker data dir: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(logDir, "broker-1.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		os.RemoveAll(data)
		return nil, fmt.Errorf("broker log: %w", err)
	}
	e := &embedded{dataDir: data, logFile: lf}
	logger := log.New(lf, "", log.LstdFlags|log.Lmicroseconds)
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = data
	cfg.AutoCreateTopics = false // the sweep creates its topics with their settings
	cfg.Logf = func(format string, args ...any) {
		e.mu.Lock()
		defer e.mu.Unlock()
		logger.Printf(format, args...)
	}
	cfg.Logf("=== starting broker 1 of %d (%s), data in %s", brokers, why, data)
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		lf.Close()
		os.RemoveAll(data)
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	e.b = b
	cfg.Logf("listening on %s", b.Addr())
	return e, nil
}

// Bootstrap is the broker's address.
func (e *embedded) Bootstrap() []string { return []string{e.b.Addr()} }

// Describe names the target for manifests.
func (e *embedded) Describe() string {
	return fmt.Sprintf("embedded kbench broker at %s (1 broker, data in %s)", e.b.Addr(), e.dataDir)
}

// InProcess reports that the broker shares the generator's CPU.
func (e *embedded) InProcess() bool { return true }

// Close stops the broker, removes its data and closes its log.
func (e *embedded) Close() error {
	start := time.Now()
	err := e.b.Close()
	e.mu.Lock()
	fmt.Fprintf(e.logFile, "%s === stopped in %v (err: %v)\n", time.Now().Format("2006/01/02 15:04:05.000000"), time.Since(start).Round(time.Millisecond), err)
	e.mu.Unlock()
	return errors.Join(err, e.logFile.Close(), os.RemoveAll(e.dataDir))
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
		if CheckShape(n) != nil {
			s += " (not available yet: those points will fail)"
		}
		shapes = append(shapes, s)
	}
	return "embedded cluster, " + strings.Join(shapes, " / ")
}
