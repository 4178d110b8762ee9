package broker

import (
	"sort"
	"strconv"
	"strings"

	"github.com/kbench/kbench/broker/storage"
	"github.com/kbench/kbench/internal/topicconf"
)

// topicDefaults gives the broker-level default of every topic config.
var topicDefaults = map[string]func(c *Config) string{
	"cleanup.policy":      func(*Config) string { return "delete" },
	"compression.type":    func(*Config) string { return "producer" },
	"delete.retention.ms": func(*Config) string { return "86400000" },
	"flush.messages": func(c *Config) string {
		if c.Log.Flush == storage.FlushEveryBatch {
			return "1"
		}
		return strconv.FormatInt(1<<63-1, 10)
	},
	"flush.ms": func(c *Config) string {
		if c.Log.Flush == storage.FlushInterval {
			return strconv.FormatInt(c.Log.FlushIntervalMs, 10)
		}
		return strconv.FormatInt(1<<63-1, 10)
	},
	"index.interval.bytes":           func(c *Config) string { return strconv.Itoa(c.Log.IndexIntervalBytes) },
	"max.message.bytes":              func(c *Config) string { return strconv.Itoa(int(c.MessageMaxBytes)) },
	"message.timestamp.type":         func(*Config) string { return "CreateTime" },
	"min.insync.replicas":            func(*Config) string { return "1" },
	"retention.bytes":                func(c *Config) string { return strconv.FormatInt(c.Log.RetentionBytes, 10) },
	"retention.ms":                   func(c *Config) string { return strconv.FormatInt(c.Log.RetentionMs, 10) },
	"segment.bytes":                  func(c *Config) string { return strconv.FormatInt(c.Log.SegmentBytes, 10) },
	"segment.ms":                     func(c *Config) string { return strconv.FormatInt(c.Log.SegmentMs, 10) },
	"unclean.leader.election.enable": func(*Config) string { return "false" },
}

func validateTopicConfigs(cfg map[string]string) error { return topicconf.Validate(cfg) }

// topicSettings is a topic's effective configuration, resolved from its
// explicit configs over the broker defaults.
type topicSettings struct {
	log             storage.Config
	maxMessageBytes int
	logAppendTime   bool
	minInsync       int
	uncleanElection bool
	// compact: cleanup.policy includes compact (the log cleaner runs);
	// deleteRetentionMs is how long it keeps tombstones.
	compact           bool
	deleteRetentionMs int64
}

func resolveTopicSettings(b *Config, explicit map[string]string) topicSettings {
	s := topicSettings{log: b.Log, maxMessageBytes: int(b.MessageMaxBytes), minInsync: 1}
	num := func(k string) (int64, bool) {
		v, ok := explicit[k]
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	if n, ok := num("retention.ms"); ok {
		s.log.RetentionMs = n
	}
	if n, ok := num("retention.bytes"); ok {
		s.log.RetentionBytes = n
	}
	if n, ok := num("segment.bytes"); ok {
		s.log.SegmentBytes = n
	}
	if n, ok := num("segment.ms"); ok {
		s.log.SegmentMs = n
	}
	if n, ok := num("index.interval.bytes"); ok {
		s.log.IndexIntervalBytes = int(n)
	}
	if n, ok := num("max.message.bytes"); ok {
		s.maxMessageBytes = int(n)
	}
	if n, ok := num("min.insync.replicas"); ok {
		s.minInsync = int(n)
	}
	if n, ok := num("flush.messages"); ok {
		if n == 1 {
			s.log.Flush = storage.FlushEveryBatch
		} else if s.log.Flush == storage.FlushEveryBatch {
			s.log.Flush = storage.FlushNever
		}
	}
	if n, ok := num("flush.ms"); ok && s.log.Flush != storage.FlushEveryBatch {
		if n < 1<<62 {
			s.log.Flush = storage.FlushInterval
			s.log.FlushIntervalMs = n
		}
	}
	s.deleteRetentionMs = 24 * 60 * 60 * 1000
	if n, ok := num("delete.retention.ms"); ok {
		s.deleteRetentionMs = n
	}
	if policy := strings.ToLower(explicit["cleanup.policy"]); strings.Contains(policy, "compact") {
		s.compact = true
		if !strings.Contains(policy, "delete") {
			// compact alone: nothing is deleted by age or size (Kafka's rule).
			s.log.RetentionMs, s.log.RetentionBytes = -1, -1
		}
	}
	s.logAppendTime = strings.EqualFold(explicit["message.timestamp.type"], "LogAppendTime")
	s.uncleanElection = strings.EqualFold(explicit["unclean.leader.election.enable"], "true")
	return s
}

// describedConfig is one row of DescribeConfigs output.
type describedConfig struct {
	name, value string
	isDefault   bool
}

func describeTopicConfigs(b *Config, explicit map[string]string) []describedConfig {
	names := topicconf.Names()
	out := make([]describedConfig, 0, len(names))
	for _, name := range names {
		if v, ok := explicit[name]; ok {
			out = append(out, describedConfig{name, v, false})
		} else {
			out = append(out, describedConfig{name, topicDefaults[name](b), true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
