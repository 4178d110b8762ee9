// Package measure measures consumer group rebalances: how long after a
// membership event (a member joins, leaves cleanly, or crashes) every
// partition is owned and consumed again, how many partitions changed owner,
// and how many records were delivered twice, per group protocol.
//
// The members run in this process and record a history (assignments,
// revocations, losses and deliveries, each with its time on one monotonic
// clock); a pure checker reads the history afterwards. The event's time is
// taken on the same clock, just before the event is caused.
//
// What a sweep is (protocols, events, options, result rows) is package
// rebalance's: profiles and reports use it without this package.
package measure

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"time"
)

// entryKind is what happened to a member and a partition.
type entryKind uint8

const (
	assigned  entryKind = iota // the member was given the partition
	revoked                    // it gave the partition up
	lost                       // it lost the partition without giving it up
	delivered                  // it delivered records first..last of the partition
)

// entry is one observation. Times are offsets from the history's start on
// the monotonic clock.
type entry struct {
	at          time.Duration
	kind        entryKind
	member      int
	partition   int32
	first, last int64 // delivered only
}

// state is what the history says at some time: each partition's owner (-1:
// none) and the highest offset delivered from it so far (-1: none).
type state struct {
	owner   []int
	maxSeen []int64
}

func newState(partitions int) state {
	s := state{owner: make([]int, partitions), maxSeen: make([]int64, partitions)}
	for i := range s.owner {
		s.owner[i], s.maxSeen[i] = -1, -1
	}
	return s
}

func (s state) clone() state {
	return state{owner: append([]int(nil), s.owner...), maxSeen: append([]int64(nil), s.maxSeen...)}
}

// apply advances s by e.
func (s state) apply(e entry) {
	p := e.partition
	switch e.kind {
	case assigned:
		s.owner[p] = e.member
	case revoked, lost:
		if s.owner[p] == e.member {
			s.owner[p] = -1
		}
	case delivered:
		s.maxSeen[p] = max(s.maxSeen[p], e.last)
	}
}

// Outcome is what the checker makes of the history after one event.
type Outcome struct {
	// Done: every partition is owned and has delivered a record from its
	// owner since the owner was (last) given it, after the event.
	Done bool
	// Rebalance is the time from the event until the last partition's
	// first such delivery.
	Rebalance time.Duration
	// Moved counts partitions whose owner at the end is not their owner
	// just before the event.
	Moved int
	// Again counts the extra deliveries of records delivered more than
	// once, beyond those counted before the event (at-least-once
	// redelivery); Skipped the records that no member delivered, beyond
	// those before the event. Members commit what they delivered before
	// giving partitions up and every partition has a committed offset
	// before the first event, so a skipped record is a lost one. Filled by
	// redelivery.
	Again, Skipped int64
	// LastChange is when the last assignment change after the event was
	// observed (the measurement waits for a quiet period after it).
	LastChange time.Duration
	// Pending names a partition that is not done yet, for messages.
	Pending string
}

// check analyses the entries at or after the event (at), given the state
// just before it. It is pure: the same history gives the same outcome.
func check(before state, after []entry, at time.Duration) Outcome {
	s := before.clone()
	n := len(s.owner)
	lastAssign := make([]time.Duration, n)
	for i := range lastAssign {
		lastAssign[i] = at
	}
	var o Outcome
	o.LastChange = at
	for _, e := range after {
		s.apply(e)
		if e.kind != delivered {
			o.LastChange = max(o.LastChange, e.at)
			if e.kind == assigned {
				lastAssign[e.partition] = e.at
			}
		}
	}
	// First delivery by the final owner since its last assignment.
	firstDelivery := make([]time.Duration, n)
	for i := range firstDelivery {
		firstDelivery[i] = -1
	}
	for _, e := range after {
		p := e.partition
		if e.kind == delivered && e.member == s.owner[p] && e.at >= lastAssign[p] && firstDelivery[p] < 0 {
			firstDelivery[p] = e.at
		}
	}
	o.Done = true
	var end time.Duration
	for p := range n {
		switch {
		case s.owner[p] < 0:
			o.Done = false
			o.Pending = fmt.Sprintf("partition %d has no owner", p)
		case firstDelivery[p] < 0:
			o.Done = false
			o.Pending = fmt.Sprintf("partition %d (member %d) has delivered nothing since it was assigned", p, s.owner[p])
		default:
			end = max(end, firstDelivery[p])
		}
		if s.owner[p] != before.owner[p] {
			o.Moved++
		}
	}
	if o.Done {
		o.Rebalance = end - at
	}
	return o
}

// redelivery counts, over the whole history h, the records delivered more
// than once (extra deliveries) and the offsets never delivered between a
// partition's first and last delivered one; the event's share is the count
// over h minus the count over the entries before at. Offsets, not arrival
// order, decide: two members' deliveries may be recorded out of order.
func redelivery(h []entry, at time.Duration, partitions int) (again, skipped int64) {
	count := func(es []entry) (again, skipped int64) {
		byPart := make([][][2]int64, partitions)
		for _, e := range es {
			if e.kind == delivered {
				byPart[e.partition] = append(byPart[e.partition], [2]int64{e.first, e.last})
			}
		}
		for _, rs := range byPart {
			if len(rs) == 0 {
				continue
			}
			slices.SortFunc(rs, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
			var total, covered int64
			hi := rs[0][0] - 1 // highest offset covered so far
			for _, r := range rs {
				total += r[1] - r[0] + 1
				if r[0] > hi+1 {
					skipped += r[0] - hi - 1
				}
				if r[1] > hi {
					covered += r[1] - max(hi+1, r[0]) + 1
					hi = r[1]
				}
			}
			again += total - covered
		}
		return again, skipped
	}
	i := sort.Search(len(h), func(i int) bool { return h[i].at >= at })
	a, s := count(h)
	ba, bs := count(h[:i])
	return a - ba, s - bs
}
