package target

import "github.com/kbench/kbench/broker/cluster"

// The fault surface of kbench's own cluster, as the fault runner and the
// verifier's nemesis see it: named here so that they reach the broker
// packages only through this one.
type (
	// Cluster is a running cluster's supervisor: its fault hooks (Kill,
	// Stop, Pause, Resume, Restart, Delay, Bandwidth, DropProduce), its
	// brokers' states and its partitions' leaders.
	Cluster = cluster.Cluster
	// BrokerInfo describes one broker of a Cluster.
	BrokerInfo = cluster.BrokerInfo
	// BrokerState is what the supervisor knows of a broker process.
	BrokerState = cluster.State
)

// Broker process states.
const (
	Running = cluster.Running
	Paused  = cluster.Paused
	Stopped = cluster.Stopped
	Killed  = cluster.Killed
	Exited  = cluster.Exited
)

// Errors of the fault hooks; check with errors.Is.
var (
	ErrUnknownTopic = cluster.ErrUnknownTopic
	ErrClosed       = cluster.ErrClosed
)
