package sweep

import (
	"context"
	"fmt"
	"strings"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/target"
)

// EmbeddedMaxBrokers is the largest cluster the embedded target starts.
const EmbeddedMaxBrokers = target.MaxBrokers

// ErrClusterShape marks points whose cluster the target cannot provide.
var ErrClusterShape = target.ErrBrokers

// CheckShape reports whether the embedded target can run a point's cluster
// of n brokers, with the reason when it cannot (target.CheckBrokers decides).
func CheckShape(n int) error {
	if err := target.CheckBrokers(n); err != nil {
		return fmt.Errorf("the point needs %d brokers: %w", n, err)
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
		ext, err := target.Start(context.Background(), target.Options{Bootstrap: bootstrap})
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
	// One broker runs in this process, as the load commands do. Data stays
	// out of the run directory (a sweep may write gigabytes); the brokers'
	// logs are kept in it. The sweep creates its topics with their settings.
	tg, err := target.Start(ctx, target.Options{Brokers: brokers, LogDir: c.logDir, Purpose: why, Binary: c.binary, NoAutoCreate: true})
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
