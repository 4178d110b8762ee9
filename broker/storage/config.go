package storage

import (
	"fmt"
	"math"
	"time"
)

// FlushPolicy says when appended data is fsynced.
type FlushPolicy int

const (
	// FlushNever leaves flushing to the kernel, as Kafka does by default (durability comes
	// from replication). Rolled segments are still fsynced in the background, like Kafka.
	FlushNever FlushPolicy = iota
	// FlushInterval fsyncs at most every FlushIntervalMs, and once more after the last append.
	FlushInterval
	// FlushEveryBatch fsyncs after every Append before it returns.
	FlushEveryBatch
)

func (p FlushPolicy) String() string {
	switch p {
	case FlushNever:
		return "never"
	case FlushInterval:
		return "interval"
	case FlushEveryBatch:
		return "batch"
	}
	return fmt.Sprintf("FlushPolicy(%d)", int(p))
}

// ParseFlushPolicy reads "never", "interval" or "batch" (String's output).
func ParseFlushPolicy(s string) (FlushPolicy, error) {
	for _, p := range []FlushPolicy{FlushNever, FlushInterval, FlushEveryBatch} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown flush policy %q (want never, interval or batch)", s)
}

// Config holds one partition log's settings, named after Kafka's topic configs. Start from
// DefaultConfig: zero segment, index and flush fields get defaults, but zero retention fields
// mean "keep nothing" as in Kafka.
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll before a segment would exceed this
	SegmentMs          int64 // segment.ms: roll when the active segment's first append is this old
	RetentionMs        int64 // retention.ms: -1 keeps data forever
	RetentionBytes     int64 // retention.bytes: -1 means no size limit
	IndexIntervalBytes int   // index.interval.bytes: bytes between offset/time index entries
	Flush              FlushPolicy
	FlushIntervalMs    int64 // used by FlushInterval

	// Now is the clock for time-based rolling; tests inject one instead of sleeping.
	Now func() time.Time
}

// Kafka's defaults.
const (
	defaultSegmentBytes  = 1 << 30
	defaultSegmentMs     = 7 * 24 * 3600 * 1000
	defaultIndexInterval = 4096
	defaultFlushInterval = 1000
)

// DefaultConfig returns Kafka's defaults: 1 GiB / 7 day segments, 7 day retention, no size
// retention, an index entry every 4096 bytes, no forced flushing.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       defaultSegmentBytes,
		SegmentMs:          defaultSegmentMs,
		RetentionMs:        defaultSegmentMs,
		RetentionBytes:     -1,
		IndexIntervalBytes: defaultIndexInterval,
		Flush:              FlushNever,
		FlushIntervalMs:    defaultFlushInterval,
		Now:                time.Now,
	}
}

// normalize fills zero or out-of-range fields. Retention fields are taken as given (0 is a
// legal, if brutal, retention.ms). SegmentBytes is capped at 2 GiB-1, as Kafka's int config
// is, so positions always fit the index's uint32.
func (c Config) normalize() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = defaultSegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentMs <= 0 {
		c.SegmentMs = defaultSegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = defaultIndexInterval
	}
	if c.FlushIntervalMs <= 0 {
		c.FlushIntervalMs = defaultFlushInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
