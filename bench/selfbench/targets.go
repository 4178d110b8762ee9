package selfbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	kt "github.com/kbench/kbench/target"
)

// target is one running system under test.
type target struct {
	kind  Kind
	rf    int16
	tg    *kt.Target
	adm   *kadm.Client
	admCl *kgo.Client
}

var _ bench.Target = (*target)(nil)

// Bootstrap is the seed list.
func (t *target) Bootstrap() []string { return t.tg.Bootstrap() }

// Describe names the target for run manifests.
func (t *target) Describe() string {
	return fmt.Sprintf("selfbench target %s at %s", t.kind, strings.Join(t.Bootstrap(), ","))
}

// Close does nothing: the harness stops its targets itself, after every run.
func (t *target) Close() error { return nil }

func (t *target) shutdown() error {
	if t.admCl != nil {
		t.admCl.Close()
	}
	return t.tg.Close()
}

// startTarget starts one target; the null broker's fetch batches are made
// of fetchRecordSize-byte records (the consume catch-up's).
func startTarget(ctx context.Context, cfg *Config, dir string, k Kind, fetchRecordSize int) (*target, error) {
	t := &target{kind: k, rf: 1}
	o := kt.Options{Dir: filepath.Join(dir, string(k)), Binary: cfg.Binary, Env: cfg.Env}
	switch k {
	case KbenchRF1:
		o.Process = true
	case KbenchRF3:
		o.Brokers, t.rf = 3, 3
	case Ceiling, StoreOnly, Kfake:
		o.Command = []string{"selfbench", "serve", string(k), "--record-size", strconv.Itoa(fetchRecordSize), "--partitions", strconv.Itoa(int(cfg.Partitions))}
		if k == StoreOnly {
			store := filepath.Join(o.Dir, "store")
			if err := os.MkdirAll(store, 0o755); err != nil {
				return nil, fmt.Errorf("start %s: %w", k, err)
			}
			o.Command = append(o.Command, "--store-dir", store)
		}
	default:
		return nil, fmt.Errorf("unknown target %q", k)
	}
	tg, err := kt.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", k, err)
	}
	t.tg = tg
	if err := t.connectAdmin(); err != nil {
		return nil, err
	}
	return t, nil
}

// alive reports an error once a process serving the target has gone.
func (t *target) alive() error { return t.tg.Alive() }

// connectAdmin creates the admin client; on failure the target is stopped.
func (t *target) connectAdmin() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Bootstrap()...))
	if err != nil {
		t.tg.Close()
		return fmt.Errorf("%s admin client: %w", t.kind, err)
	}
	t.admCl, t.adm = cl, kadm.NewClient(cl)
	return nil
}

// createTopic creates a topic and waits until every partition has a leader
// and a full ISR, so a run starts on a settled topic.
func (t *target) createTopic(ctx context.Context, name string, partitions int32) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	resp, err := t.adm.CreateTopic(ctx, partitions, t.rf, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("%s: create topic %s: %w", t.kind, name, err)
	}
	for {
		td, err := t.adm.ListTopics(ctx, name)
		if err == nil && td[name].Err == nil && len(td[name].Partitions) == int(partitions) {
			ready := true
			for _, p := range td[name].Partitions {
				if p.Leader < 0 || len(p.ISR) < int(t.rf) {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: topic %s never had leaders and full ISRs: %w", t.kind, name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// deleteTopic removes a run's topic so data does not pile up on disk or in
// kfake's memory.
func (t *target) deleteTopic(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := t.adm.DeleteTopics(ctx, name)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("%s: delete topic %s: %w", t.kind, name, err)
	}
	return nil
}

// usage is the broker processes' resource counters at one moment.
type usage struct {
	cpu time.Duration
}

func (t *target) usage() (usage, error) {
	var u usage
	var errs []error
	for _, pid := range t.tg.PIDs() {
		c, err := procCPU(pid)
		errs = append(errs, err)
		u.cpu += c
	}
	return u, errors.Join(errs...)
}

// resetPeak starts a new RSS high-water mark in every broker process.
func (t *target) resetPeak() error {
	var errs []error
	for _, pid := range t.tg.PIDs() {
		errs = append(errs, resetPeakRSS(pid))
	}
	return errors.Join(errs...)
}

// peak sums the broker processes' RSS high-water marks.
func (t *target) peak() (int64, error) {
	var sum int64
	var errs []error
	for _, pid := range t.tg.PIDs() {
		n, err := peakRSS(pid)
		errs = append(errs, err)
		sum += n
	}
	return sum, errors.Join(errs...)
}
