package broker

import (
	"fmt"
	"net"
	"time"

	"github.com/kbench/kbench/broker/storage"
)

// Config configures one broker. The zero value is not usable: start from
// DefaultConfig.
type Config struct {
	// Listen is the TCP address to bind; default 127.0.0.1:9092. Port 0 picks a free port.
	Listen string
	// AdvertisedListener is the host:port put in Metadata; default: the bound address.
	AdvertisedListener string
	// DataDir holds one directory per partition plus the topic registry. Required.
	DataDir string
	// NodeID is this broker's id; default 1.
	NodeID int32
	// ClusterID is reported in Metadata and DescribeCluster; default "kbench-cluster".
	ClusterID string
	// AutoCreateTopics creates unknown topics on Metadata requests that allow it; default true.
	AutoCreateTopics bool
	// DefaultPartitions is num.partitions for auto-created topics; default 1.
	DefaultPartitions int32
	// Log holds the log defaults that topic configs override (log.segment.bytes, ...).
	Log storage.Config
	// MessageMaxBytes is message.max.bytes, the largest record batch accepted; default 1048588.
	MessageMaxBytes int32
	// MaxRequestBytes is socket.request.max.bytes; larger frames close the connection. Default 100 MiB.
	MaxRequestBytes int32
	// MaxInflightBytes caps request bytes read but not yet answered, over all connections;
	// readers wait (backpressure) while it is exceeded. Default 256 MiB.
	MaxInflightBytes int64
	// RetentionCheckInterval is log.retention.check.interval.ms; default 5 minutes.
	RetentionCheckInterval time.Duration
	// Controller is the cluster controller's address; empty runs a single
	// node that owns its topics itself.
	Controller string
	// HeartbeatInterval is broker.heartbeat.interval.ms; default 250ms.
	HeartbeatInterval time.Duration
	// ReplicaLagTimeMax is replica.lag.time.max.ms: a follower that has not
	// caught up for this long leaves the ISR. Default 10s (Kafka: 30s).
	ReplicaLagTimeMax time.Duration
	// ReplicaFetchBackoff is replica.fetch.backoff.ms: how long a follower
	// waits before fetching again from a leader after an error, or after
	// the leader answered every partition with an error (leadership is
	// moving). Default 100ms (Kafka: 1s).
	ReplicaFetchBackoff time.Duration
	// HWCheckpointInterval is replica.high.watermark.checkpoint.interval.ms:
	// how often every partition's high watermark is written to the data
	// directory (hwcheckpoint.go). Default 5s.
	HWCheckpointInterval time.Duration
	// LogCleanerInterval is log.cleaner.backoff.ms: how often compacted
	// topics are cleaned; default 15s.
	LogCleanerInterval time.Duration
	// OffsetsTopicPartitions is offsets.topic.num.partitions, the
	// partitions of __consumer_offsets when it is created; default 10
	// (Kafka: 50). Each partition is a replicated log and a unit of
	// coordinator failover: 10 spread groups over every broker of a
	// loopback cluster while keeping start-up, replication and a
	// coordinator's load after failover small.
	OffsetsTopicPartitions int32
	// TxnStatePartitions is transaction.state.log.num.partitions for
	// __transaction_state; default 5 (Kafka: 50), for the same reasons.
	TxnStatePartitions int32
	// ConsumerGroupSession is group.consumer.session.timeout.ms: a member of
	// a consumer-protocol group (KIP-848) that has not heartbeaten for this
	// long is removed. Default 45s, as Kafka.
	ConsumerGroupSession time.Duration
	// ConsumerGroupHeartbeat is group.consumer.heartbeat.interval.ms, the
	// heartbeat cadence the coordinator gives those members; a member learns
	// of partitions to revoke or take at its next heartbeat. Default 5s, as
	// Kafka.
	ConsumerGroupHeartbeat time.Duration
	// Security is the client listener's TLS and SASL setup (sasl.go); the
	// zero value is PLAINTEXT.
	Security Security
	// Limits caps connections and per-connection in-flight bytes (limits.go);
	// default DefaultLimits().
	Limits Limits
	// MetricsListen, if set, serves Prometheus /metrics on this address
	// (metrics.go); default "" (no metrics and no metrics cost).
	MetricsListen string
	// Logf receives the broker's log lines; default discards them.
	Logf func(format string, args ...any)
	// Hooks are test hooks; nil in production.
	Hooks *Hooks
}

// Hooks let tests observe or disturb the broker from inside.
type Hooks struct {
	// DropResponse, if set, is asked before a response is written; true drops the
	// response and closes the connection (the request's effects stay), as a
	// network failure after the append would, forcing the client to retry.
	DropResponse func(key int16) bool
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		Listen:                 "127.0.0.1:9092",
		NodeID:                 1,
		ClusterID:              "kbench-cluster",
		AutoCreateTopics:       true,
		DefaultPartitions:      1,
		Log:                    storage.DefaultConfig(),
		MessageMaxBytes:        1048588,
		MaxRequestBytes:        100 << 20,
		MaxInflightBytes:       256 << 20,
		RetentionCheckInterval: 5 * time.Minute,
		HeartbeatInterval:      250 * time.Millisecond,
		ReplicaLagTimeMax:      10 * time.Second,
		ReplicaFetchBackoff:    100 * time.Millisecond,
		HWCheckpointInterval:   5 * time.Second,
		OffsetsTopicPartitions: 10,
		LogCleanerInterval:     15 * time.Second,
		TxnStatePartitions:     5,
		ConsumerGroupSession:   45 * time.Second,
		ConsumerGroupHeartbeat: 5 * time.Second,
		Limits:                 DefaultLimits(),
	}
}

func (c *Config) validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("config: data dir is required")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen address %q: %w", c.Listen, err)
	}
	if c.AdvertisedListener != "" {
		if _, _, err := net.SplitHostPort(c.AdvertisedListener); err != nil {
			return fmt.Errorf("config: advertised listener %q: %w", c.AdvertisedListener, err)
		}
	}
	if c.DefaultPartitions < 1 {
		return fmt.Errorf("config: default partitions must be >= 1, got %d", c.DefaultPartitions)
	}
	if c.MessageMaxBytes < 1 {
		return fmt.Errorf("config: message.max.bytes must be >= 1, got %d", c.MessageMaxBytes)
	}
	if c.MaxRequestBytes < 1024 {
		return fmt.Errorf("config: socket.request.max.bytes must be >= 1024, got %d", c.MaxRequestBytes)
	}
	if c.MaxInflightBytes < int64(c.MaxRequestBytes) {
		return fmt.Errorf("config: max in-flight bytes (%d) must be >= socket.request.max.bytes (%d)", c.MaxInflightBytes, c.MaxRequestBytes)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if c.ClusterID == "" {
		c.ClusterID = "kbench-cluster"
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 5 * time.Minute
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 250 * time.Millisecond
	}
	if c.ReplicaLagTimeMax <= 0 {
		c.ReplicaLagTimeMax = 10 * time.Second
	}
	if c.ReplicaFetchBackoff <= 0 {
		c.ReplicaFetchBackoff = 100 * time.Millisecond
	}
	if c.HWCheckpointInterval <= 0 {
		c.HWCheckpointInterval = 5 * time.Second
	}
	if c.LogCleanerInterval <= 0 {
		c.LogCleanerInterval = 15 * time.Second
	}
	if c.OffsetsTopicPartitions <= 0 {
		c.OffsetsTopicPartitions = 10
	}
	if c.TxnStatePartitions <= 0 {
		c.TxnStatePartitions = 5
	}
	if c.ConsumerGroupSession <= 0 {
		c.ConsumerGroupSession = 45 * time.Second
	}
	if c.ConsumerGroupHeartbeat <= 0 {
		c.ConsumerGroupHeartbeat = 5 * time.Second
	}
	if c.ConsumerGroupHeartbeat >= c.ConsumerGroupSession {
		return fmt.Errorf("config: group.consumer.heartbeat.interval.ms (%v) must be below group.consumer.session.timeout.ms (%v)", c.ConsumerGroupHeartbeat, c.ConsumerGroupSession)
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}
