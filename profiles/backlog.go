package profiles

import (
	"fmt"
	"math"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/units"
)

// backlog reads workload.backlog and workload.drain_ratio.
func (p *parser) backlog(base *Point, rw *rawWorkload) {
	if present(&rw.Backlog) {
		if v, ok := p.scalar(&rw.Backlog, "workload.backlog"); ok {
			n, err := units.ParseBytes(v)
			switch {
			case err != nil:
				p.errorf(&rw.Backlog, "workload.backlog", "%v", err)
			case n == 0:
				p.errorf(&rw.Backlog, "workload.backlog", "%q: want a size above 0 (leave it out for no backlog)", v)
			default:
				base.Backlog, base.DrainRatio = n, 1
			}
		}
	}
	if present(&rw.DrainRatio) {
		if !present(&rw.Backlog) {
			p.errorf(&rw.DrainRatio, "workload.drain_ratio", "set without workload.backlog; it is the share of the backlog to drain")
			return
		}
		var r float64
		p.number(&rw.DrainRatio, "workload.drain_ratio", 0, 1, &r)
		if r == 0 {
			p.errorf(&rw.DrainRatio, "workload.drain_ratio", "want a share above 0 and at most 1")
			return
		}
		base.DrainRatio = r
	}
}

// backlog maps OMB's consumerBacklogSizeGB (GiB, as OMB multiplies by
// 1024³) and backlogDrainRatio to workload.backlog and drain_ratio.
func (c *converter) backlog(w *ombWorkload, p *convProfile) {
	gb := deref(w.ConsumerBacklogSizeGB, 0)
	switch {
	case gb < 0:
		c.errorf(c.wf, "consumerBacklogSizeGB", "%g: want a size in GiB above 0, or 0 for no backlog", gb)
		return
	case gb == 0:
		if w.BacklogDrainRatio != nil && *w.BacklogDrainRatio != 1 {
			c.errorf(c.wf, "backlogDrainRatio", "%g: applies only to a backlog (consumerBacklogSizeGB)", *w.BacklogDrainRatio)
		}
		return
	}
	bytes := gb * (1 << 30)
	if bytes != math.Trunc(bytes) {
		c.errorf(c.wf, "consumerBacklogSizeGB", "%g: not a whole number of bytes", gb)
		return
	}
	if p.Workload.Mode != string(bench.ModeE2E) {
		c.errorf(c.wf, "consumerBacklogSizeGB", "%g: a backlog needs a subscription to drain it (subscriptionsPerTopic 1)", gb)
	}
	if p.Rate == "max-sustainable" {
		c.errorf(c.wf, "consumerBacklogSizeGB", "%g: a backlog needs a fixed producerRate for the producers to keep during the drain, not 0", gb)
	}
	p.Workload.Backlog = units.FormatBytesExact(int64(bytes))
	if r := w.BacklogDrainRatio; r != nil {
		if *r <= 0 || *r > 1 {
			c.errorf(c.wf, "backlogDrainRatio", "%g: want a share above 0 and at most 1", *r)
		}
		p.Workload.DrainRatio = r
	}
	c.notes = append(c.notes, fmt.Sprintf("consumerBacklogSizeGB %g: workload.backlog %s; the backlog is built from the start of the run (no warmup: warmupDurationMinutes is not used), the run ends when it has drained, and testDurationMinutes bounds build and drain together (OMB runs its test phase after the drain); the results add the drain time and rate OMB does not report", gb, p.Workload.Backlog))
	p.Workload.Warmup = "0s"
}
