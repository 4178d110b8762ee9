package bench

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kbench/kbench/broker"
)

var (
	_ Target    = (*Embedded)(nil)
	_ InProcess = (*Embedded)(nil)
)

// Embedded is kbench's own broker started inside this process on a free
// loopback port, for runs without --bootstrap.
type Embedded struct {
	b      *broker.Broker
	dir    string
	ownDir bool
}

// StartEmbedded starts the broker with its data in dataDir, or in a fresh
// temporary directory (removed on Close) when dataDir is empty.
func StartEmbedded(ctx context.Context, dataDir string) (*Embedded, error) {
	e := &Embedded{dir: dataDir}
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "kbench-broker-")
		if err != nil {
			return nil, fmt.Errorf("embedded broker data dir: %w", err)
		}
		e.dir, e.ownDir = dir, true
	}
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = e.dir
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		if e.ownDir {
			os.RemoveAll(e.dir)
		}
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	e.b = b
	return e, nil
}

// Bootstrap is the broker's bound address.
func (e *Embedded) Bootstrap() []string { return []string{e.b.Addr()} }

// Describe names the target for manifests.
func (e *Embedded) Describe() string {
	return fmt.Sprintf("embedded kbench broker at %s (data in %s)", e.b.Addr(), e.dir)
}

// InProcess reports that the broker shares the generator's CPU.
func (e *Embedded) InProcess() bool { return true }

// Close stops the broker and removes a temporary data directory.
func (e *Embedded) Close() error {
	err := e.b.Close()
	if e.ownDir {
		err = errors.Join(err, os.RemoveAll(e.dir))
	}
	return err
}

// Dir is the broker's data directory.
func (e *Embedded) Dir() string { return e.dir }
