package broker

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The acks=all purgatory. A produce request whose batches are appended but
// not yet below the high watermark parks one slot per partition on those
// partitions; whoever moves a partition's HW, ISR or leadership (follower
// fetches, controller pushes) settles the slots it can, and a timer settles
// what is left with REQUEST_TIMED_OUT. The last settled slot marks the
// connection's pending response ready. No goroutine waits per request.

// ackRequest is one parked produce request.
type ackRequest struct {
	mu        sync.Mutex
	resp      *kmsg.ProduceResponse
	slots     []ackWait
	remaining int
	messages  bool          // v8+: error messages in the response
	timeout   time.Duration // the request's timeout
	timer     *time.Timer
	// The connection's response slot, marked ready when the last slot
	// settles.
	c    *conn
	pend *pending
}

// settle records slot i's outcome once; the last one finishes the request.
func (r *ackRequest) settle(i int, code int16) {
	r.mu.Lock()
	w := &r.slots[i]
	if w.done {
		r.mu.Unlock()
		return
	}
	w.done = true
	if code != 0 {
		sp := &r.resp.Topics[w.t].Partitions[w.part]
		sp.ErrorCode, sp.BaseOffset = code, -1
		if r.messages {
			sp.ErrorMessage = strp(kerr.ErrorForCode(code).Error())
		}
	}
	r.remaining--
	last := r.remaining == 0
	r.mu.Unlock()
	if last {
		r.timer.Stop()
		p := r.pend
		p.r = reply{msg: r.resp}
		r.c.b.metrics.leavePurgatory(produceKey)
		close(p.ready)
	}
}

// expire settles every open slot with REQUEST_TIMED_OUT.
func (r *ackRequest) expire() {
	for i := range r.slots {
		r.settle(i, kerr.RequestTimedOut.Code)
	}
}

// settled reports whether slot i is settled.
func (r *ackRequest) settled(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slots[i].done
}

// park registers every slot with its partition (settling at once what is
// already decided) and arms the timeout; p.ready is closed once all slots
// are settled, possibly before park returns.
func (r *ackRequest) park(c *conn, p *pending) {
	r.c, r.pend = c, p
	c.b.metrics.enterPurgatory(produceKey)
	r.mu.Lock()
	// The timer exists before any slot can settle, so the last settle
	// always finds it to stop.
	r.timer = time.AfterFunc(r.timeout, r.expire)
	r.mu.Unlock()
	for i := range r.slots {
		r.slots[i].p.parkAck(r, i)
	}
}

// ackSlot is a partition's reference to one parked slot.
type ackSlot struct {
	req *ackRequest
	i   int
}

// parkAck settles slot i of r now if its outcome is known, else keeps it
// until the HW, ISR or leadership changes.
func (p *partition) parkAck(r *ackRequest, i int) {
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if code, ok := p.ackOutcomeLocked(r.slots[i].target, r.slots[i].minISR); ok {
		r.settle(i, code)
		return
	}
	if len(p.acks) >= 64 && len(p.acks) == cap(p.acks) {
		// Drop slots that timed out, before the slice grows.
		p.acks = compactAcks(p.acks)
	}
	p.acks = append(p.acks, ackSlot{req: r, i: i})
}

// ackOutcomeLocked decides a slot: 0 once the HW passed its batches (with
// enough in-sync replicas), NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR
// shrank below min.insync.replicas, NOT_LEADER_OR_FOLLOWER when leadership
// moved. target and minISR never change after parking, so they are read
// without the request's lock. Caller holds repMu.
func (p *partition) ackOutcomeLocked(target int64, minISR int) (code int16, decided bool) {
	if !p.isLeader.Load() {
		return kerr.NotLeaderForPartition.Code, true
	}
	if p.hw.Load() < target {
		return 0, false
	}
	if len(p.rs.isr) < minISR {
		return kerr.NotEnoughReplicasAfterAppend.Code, true
	}
	return 0, true
}

// settleAcksLocked settles the parked slots whose outcome is now known.
// Caller holds repMu.
func (p *partition) settleAcksLocked() {
	if len(p.acks) == 0 {
		return
	}
	keep := p.acks[:0]
	for _, s := range p.acks {
		if code, ok := p.ackOutcomeLocked(s.req.slots[s.i].target, s.req.slots[s.i].minISR); ok {
			s.req.settle(s.i, code)
			continue
		}
		keep = append(keep, s)
	}
	clear(p.acks[len(keep):])
	p.acks = keep
}

func compactAcks(acks []ackSlot) []ackSlot {
	keep := acks[:0]
	for _, s := range acks {
		if !s.req.settled(s.i) {
			keep = append(keep, s)
		}
	}
	clear(acks[len(keep):])
	return keep
}
