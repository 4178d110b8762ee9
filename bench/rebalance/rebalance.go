// Package rebalance describes consumer-group rebalance sweeps: the group
// protocols compared, the membership events measured, a sweep's options and
// the rows it yields. Profiles and reports read them without any client or
// broker code; package measure (bench/rebalance/measure) runs a sweep with
// real franz-go members against a cluster.
package rebalance

import "time"

// Protocol is how a group assigns partitions.
type Protocol string

// The protocols compared.
const (
	// Eager is the classic protocol with the range assignor: every member
	// gives up everything at each rebalance.
	Eager Protocol = "classic-eager"
	// Cooperative is the classic protocol with cooperative-sticky: only
	// moving partitions are revoked, in a second rebalance.
	Cooperative Protocol = "classic-cooperative"
	// Consumer is KIP-848: the broker assigns (uniform), members reconcile
	// on their heartbeats.
	Consumer Protocol = "consumer"
)

// Protocols lists the valid protocols in report order.
var Protocols = []Protocol{Eager, Cooperative, Consumer}

// Event is what happens to the group.
type Event string

// The events measured, in the order a group goes through them.
const (
	Join  Event = "join"  // one more member starts
	Leave Event = "leave" // that member closes, leaving the group
	Crash Event = "crash" // a member's connections are cut: it never leaves, its session expires
)

// Events lists the valid events in the order they run.
var Events = []Event{Join, Leave, Crash}

// SweepOptions are a rebalance sweep: every group size × protocol goes
// through the events in order.
type SweepOptions struct {
	Bootstrap           []string
	Sizes               []int
	Protocols           []Protocol
	Events              []Event
	PartitionsPerMember int
	// RatePerPartition is what the producer writes to every partition
	// (records/s), so that "consumed again" is seen within 1/rate.
	RatePerPartition   float64
	Session, Heartbeat time.Duration
	Settle, Timeout    time.Duration
	Logf               func(string, ...any) `json:"-"`
}

// Row is one measured event, as results and reports keep it.
type Row struct {
	Size       int      `json:"group_size"` // the group's size in the sweep
	Members    int      `json:"members"`    // members just before the event (Size + 1 for leave)
	Protocol   Protocol `json:"protocol"`
	Event      Event    `json:"event"`
	Partitions int      `json:"partitions"`
	Done       bool     `json:"done"`
	// RebalanceS: from the event until every partition is owned and has
	// delivered a record again (seconds).
	RebalanceS float64 `json:"rebalance_s,omitempty"`
	Moved      int     `json:"partitions_moved"`
	Again      int64   `json:"records_delivered_again"`
	Skipped    int64   `json:"records_skipped"`
	Error      string  `json:"error,omitempty"`
}
