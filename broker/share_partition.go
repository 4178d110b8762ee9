package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
)

// A share partition (KIP-932's SharePartition) is one share group's view of
// one partition, kept by the partition's leader: the share-partition start
// offset (SPSO), below which every record is done with, and a window of
// in-flight records from the SPSO up to the share-partition end offset
// (SPEO), the first offset never handed out. Each in-flight record is
// available, acquired by one member until its lock expires, acknowledged,
// or archived (rejected, or delivered too often). The SPSO moves up over
// acknowledged and archived records.
//
// The state is in memory only: kbench does not write __share_group_state,
// so a leader change or restart starts the group on that partition again
// from share.auto.offset.reset, and records in flight then are redelivered
// (earliest) or skipped (latest).
//
// Every method takes now explicitly; the caller holds mu.

type shareRecState uint8

const (
	recAvailable shareRecState = iota
	recAcquired
	recAcknowledged
	recArchived
)

// Acknowledge types (ShareFetch/ShareAcknowledge AcknowledgeTypes).
const (
	ackGap     int8 = 0 // an offset without a record (compacted, control)
	ackAccept  int8 = 1
	ackRelease int8 = 2
	ackReject  int8 = 3
	ackRenew   int8 = 4 // v2 (KIP-1222): extend the lock
)

type shareRec struct {
	state    shareRecState
	delivery int16     // times acquired
	owner    string    // member holding the lock
	deadline time.Time // lock expiry while acquired
}

// shareLimits are a group's settings as the partition applies them.
type shareLimits struct {
	lock          time.Duration // share.record.lock.duration.ms
	deliveryLimit int16         // share.delivery.count.limit
	maxLocks      int           // group.share.partition.max.record.locks
}

type sharePartition struct {
	spso int64      // -1 until the first fetch sets it from auto.offset.reset
	recs []shareRec // recs[i] is offset spso+i
}

func newSharePartition() *sharePartition { return &sharePartition{spso: -1} }

// speo is the first offset not yet in the window.
func (sp *sharePartition) speo() int64 { return sp.spso + int64(len(sp.recs)) }

// start places the window at offset once.
func (sp *sharePartition) start(offset int64) {
	if sp.spso < 0 {
		sp.spso = offset
	}
}

// truncateTo drops records below the log start: retention removed them.
func (sp *sharePartition) truncateTo(logStart int64) {
	if sp.spso >= logStart {
		return
	}
	n := logStart - sp.spso
	if n >= int64(len(sp.recs)) {
		sp.recs = sp.recs[:0]
	} else {
		sp.recs = sp.recs[n:]
	}
	sp.spso = logStart
}

// release makes an acquired record available again, or archives it once it
// has been delivered deliveryLimit times.
func (r *shareRec) release(limit int16) {
	r.owner, r.deadline = "", time.Time{}
	if r.delivery >= limit {
		r.state = recArchived
		return
	}
	r.state = recAvailable
}

// expire releases every lock that ran out; it reports whether any did.
func (sp *sharePartition) expire(now time.Time, lim shareLimits) bool {
	any := false
	for i := range sp.recs {
		r := &sp.recs[i]
		if r.state == recAcquired && !now.Before(r.deadline) {
			r.release(lim.deliveryLimit)
			any = true
		}
	}
	sp.advance()
	return any
}

// releaseMember releases the member's locks (its session closed).
func (sp *sharePartition) releaseMember(member string, lim shareLimits) bool {
	any := false
	for i := range sp.recs {
		r := &sp.recs[i]
		if r.state == recAcquired && r.owner == member {
			r.release(lim.deliveryLimit)
			any = true
		}
	}
	sp.advance()
	return any
}

func (sp *sharePartition) lock(r *shareRec, member string, now time.Time, lim shareLimits) {
	r.state, r.owner, r.deadline = recAcquired, member, now.Add(lim.lock)
	r.delivery++
}

// acquireAvailable acquires up to want available records inside the window
// (released or expired ones), appending their ranges to out.
func (sp *sharePartition) acquireAvailable(member string, want int, now time.Time, lim shareLimits, out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) ([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, int) {
	n := 0
	for i := range sp.recs {
		if n >= want {
			break
		}
		r := &sp.recs[i]
		if r.state != recAvailable {
			continue
		}
		if r.delivery >= lim.deliveryLimit {
			r.state = recArchived
			continue
		}
		sp.lock(r, member, now, lim)
		out = addRange(out, sp.spso+int64(i), r.delivery)
		n++
	}
	sp.advance()
	return out, n
}

// full reports whether the window holds maxLocks records: no new batch may
// be added until the SPSO moves.
func (sp *sharePartition) full(lim shareLimits) bool { return len(sp.recs) >= lim.maxLocks }

// extend adds the batch h (starting at or after speo, or overlapping it) to
// the window and acquires up to quota of its records (quota < 0: all).
// Offsets between batches (compacted away) and control batches are archived
// at once: there is nothing to deliver there.
func (sp *sharePartition) extend(h records.Header, member string, quota int, now time.Time, lim shareLimits, out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) ([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, int) {
	for sp.speo() < h.BaseOffset {
		sp.recs = append(sp.recs, shareRec{state: recArchived})
	}
	n := 0
	for off := sp.speo(); off <= h.LastOffset(); off++ {
		sp.recs = append(sp.recs, shareRec{})
		r := &sp.recs[len(sp.recs)-1]
		switch {
		case h.Control():
			r.state = recArchived
		case quota < 0 || n < quota:
			sp.lock(r, member, now, lim)
			out = addRange(out, off, r.delivery)
			n++
		}
	}
	sp.advance()
	return out, n
}

// addRange appends offset to the last range when it continues it with the
// same delivery count, else starts a new range.
func addRange(out []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, off int64, delivery int16) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	if n := len(out); n > 0 && out[n-1].LastOffset == off-1 && out[n-1].DeliveryCount == delivery {
		out[n-1].LastOffset = off
		return out
	}
	return append(out, kmsg.ShareFetchResponseTopicPartitionAcquiredRecord{FirstOffset: off, LastOffset: off, DeliveryCount: delivery})
}

// shareAck is one acknowledgement batch of a request.
type shareAck struct {
	first, last int64
	types       []int8 // one type for the whole range, or one per offset
}

// validAcks checks the batches' shape: ascending, non-overlapping, with one
// type or one per offset, each type at most maxType.
func validAcks(acks []shareAck, maxType int8) bool {
	prev := int64(-1)
	for _, a := range acks {
		if a.first < 0 || a.last < a.first || a.first <= prev {
			return false
		}
		if n := len(a.types); n != 1 && int64(n) != a.last-a.first+1 {
			return false
		}
		for _, t := range a.types {
			if t < ackGap || t > maxType {
				return false
			}
		}
		prev = a.last
	}
	return true
}

// ack applies the member's acknowledgements all or nothing: every offset at
// or above the SPSO must be acquired by member, else INVALID_RECORD_STATE
// and nothing changes. Offsets below the SPSO are already done and ignored.
func (sp *sharePartition) ack(member string, acks []shareAck, now time.Time, lim shareLimits) (code int16, released bool) {
	for _, a := range acks {
		if a.last >= sp.speo() {
			return kerr.InvalidRecordState.Code, false
		}
		for off := max(a.first, sp.spso); off <= a.last; off++ {
			if r := &sp.recs[off-sp.spso]; r.state != recAcquired || r.owner != member {
				return kerr.InvalidRecordState.Code, false
			}
		}
	}
	for _, a := range acks {
		for off := max(a.first, sp.spso); off <= a.last; off++ {
			r := &sp.recs[off-sp.spso]
			t := a.types[0]
			if len(a.types) > 1 {
				t = a.types[off-a.first]
			}
			switch t {
			case ackAccept:
				r.state, r.owner, r.deadline = recAcknowledged, "", time.Time{}
			case ackRelease:
				r.release(lim.deliveryLimit)
				released = released || r.state == recAvailable
			case ackReject, ackGap:
				r.state, r.owner, r.deadline = recArchived, "", time.Time{}
			case ackRenew:
				r.deadline = now.Add(lim.lock)
			}
		}
	}
	sp.advance()
	return 0, released
}

// advance moves the SPSO over the finished prefix of the window.
func (sp *sharePartition) advance() {
	i := 0
	for i < len(sp.recs) && (sp.recs[i].state == recAcknowledged || sp.recs[i].state == recArchived) {
		i++
	}
	if i == 0 {
		return
	}
	sp.spso += int64(i)
	if i == len(sp.recs) {
		sp.recs = sp.recs[:0] // reuse the array
		return
	}
	sp.recs = sp.recs[i:]
}

// inFlight counts the window's records by state, for describe and tests.
func (sp *sharePartition) inFlight() (available, acquired int) {
	for _, r := range sp.recs {
		switch r.state {
		case recAvailable:
			available++
		case recAcquired:
			acquired++
		}
	}
	return available, acquired
}
