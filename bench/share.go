package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Share makes a run one agent's part of a run spread over several load
// machines (kbench agent). Each agent runs the ordinary run with its share
// of the producers, consumers and rate; what changes:
//   - load starts at Start (wall clock), common to every agent;
//   - the agent's consumers read only their share of the partitions:
//     partition p belongs to global consumer p mod Consumers, and this
//     agent's consumers are numbered FirstConsumer, FirstConsumer+1, ...;
//   - records carry Stamp as their run id, so an agent times end-to-end
//     latency only for records its own producers wrote (one clock per
//     sample) and counts the others as consumed without a latency;
//   - the e2e drain waits for the agent's partitions to be read to their
//     end rather than for its own records, which other agents consume.
type Share struct {
	Agent         string    `json:"agent"`
	Stamp         uint64    `json:"stamp"`
	Start         time.Time `json:"start"`
	FirstConsumer int       `json:"first_consumer"`
	Consumers     int       `json:"consumers"` // over every agent
	// Peers are the other agents' stamps.
	Peers []uint64 `json:"peers,omitempty"`
}

// peer reports whether id is another agent's stamp of the same run; a
// linear scan, as a run has a handful of agents.
func (s *Share) peer(id uint64) bool {
	return s != nil && slices.Contains(s.Peers, id)
}

// LateStart is how late an agent may start load after the common start
// time before its run counts as invalid: it would not have overlapped the
// others' load as planned.
const LateStart = 250 * time.Millisecond

// validate reports a share that cannot be run.
func (s *Share) validate(c RunConfig) error {
	if s.Consumers < 1 || s.FirstConsumer < 0 || s.FirstConsumer+c.Consumers > s.Consumers {
		return fmt.Errorf("agent share: consumers %d from %d of %d do not fit", c.Consumers, s.FirstConsumer, s.Consumers)
	}
	if c.Consumer["group.id"] != "" {
		return fmt.Errorf("agent share: consumers of a group (group.id) cannot be split over agents; assign partitions directly")
	}
	return nil
}

// runID is the id a run's records carry in their stamp.
func (c RunConfig) runID() uint64 {
	if c.Share != nil && c.Share.Stamp != 0 {
		return c.Share.Stamp
	}
	return rand.Uint64()
}

// owns reports whether this run's consumers read partition p.
func (r *run) owns(p int32) bool {
	s := r.cfg.Share
	if s == nil {
		return true
	}
	g := int(p) % s.Consumers
	return g >= s.FirstConsumer && g < s.FirstConsumer+r.cfg.Consumers
}

// consumerSlots returns the first global consumer number of this run, the
// global consumer count, and how many of this run's consumers get a
// partition (the others would idle, so they are not started).
func (r *run) consumerSlots(groupID string) (first, total, active int) {
	n := r.cfg.Consumers
	first, total = 0, n
	if s := r.cfg.Share; s != nil {
		first, total = s.FirstConsumer, s.Consumers
	}
	active = n
	if groupID == "" {
		active = max(min(n, int(r.parts)-first), 0)
	}
	return first, total, active
}

// waitStart holds the load until the share's common start time and says
// how late it began (0 when on time or not an agent run).
func (r *run) waitStart(ctx context.Context) time.Duration {
	s := r.cfg.Share
	if s == nil {
		return 0
	}
	if d := time.Until(s.Start); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return 0
	}
	return time.Since(s.Start)
}

// drainShare lets an agent's consumers read their partitions to the end
// after producing stopped: caught up twice in a row, 100 ms apart, since
// other agents may still be flushing their last records.
func (r *run) drainShare(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	caught := 0
	for caught < 2 && time.Now().Before(deadline) {
		if r.lag(ctx) == 0 {
			caught++
		} else {
			caught = 0
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

// PrepareTopic creates (or recreates) the run's topic and returns its
// partition count: a run spread over agents prepares it once, before any
// agent starts, so agents never race to delete and create it.
func PrepareTopic(ctx context.Context, cfg RunConfig) (int32, error) {
	p, err := cfg.withDefaults().prepare()
	if err != nil {
		return 0, err
	}
	adm, err := newAdmin(ctx, p)
	if err != nil {
		return 0, err
	}
	defer adm.close()
	return adm.ensureTopic(ctx, p.cfg.Topic)
}
