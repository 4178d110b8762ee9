package broker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kbench/kbench/broker/storage"
)

// topicConfigKey describes one topic-level config kbench understands. Any other
// key is rejected with INVALID_CONFIG: a benchmark must never silently ignore
// a setting the user believes is in force.
type topicConfigKey struct {
	name string
	// def returns the broker-level default for this key.
	def func(b *Config) string
	// check validates a value; nil means valid.
	check func(v string) error
	doc   string
}

var topicConfigKeys = []topicConfigKey{
	{"cleanup.policy", func(*Config) string { return "delete" }, oneOf("delete"), "only delete is implemented; compact is rejected"},
	{"compression.type", func(*Config) string { return "producer" }, oneOf("producer"), "batches are stored as the producer compressed them"},
	{"flush.messages", func(c *Config) string {
		if c.Log.Flush == storage.FlushEveryBatch {
			return "1"
		}
		return strconv.FormatInt(1<<63-1, 10)
	}, intMin(1), "1 fsyncs every produced batch; anything else leaves flushing to the OS"},
	{"flush.ms", func(c *Config) string {
		if c.Log.Flush == storage.FlushInterval {
			return strconv.FormatInt(c.Log.FlushIntervalMs, 10)
		}
		return strconv.FormatInt(1<<63-1, 10)
	}, intMin(0), "fsync interval"},
	{"index.interval.bytes", func(c *Config) string { return strconv.Itoa(c.Log.IndexIntervalBytes) }, intMin(0), ""},
	{"max.message.bytes", func(c *Config) string { return strconv.Itoa(int(c.MessageMaxBytes)) }, intMin(0), ""},
	{"message.timestamp.type", func(*Config) string { return "CreateTime" }, oneOf("CreateTime", "LogAppendTime"), ""},
	{"min.insync.replicas", func(*Config) string { return "1" }, intMin(1), ""},
	{"retention.bytes", func(c *Config) string { return strconv.FormatInt(c.Log.RetentionBytes, 10) }, intMin(-1), ""},
	{"retention.ms", func(c *Config) string { return strconv.FormatInt(c.Log.RetentionMs, 10) }, intMin(-1), ""},
	{"segment.bytes", func(c *Config) string { return strconv.FormatInt(c.Log.SegmentBytes, 10) }, intMin(14), ""},
	{"segment.ms", func(c *Config) string { return strconv.FormatInt(c.Log.SegmentMs, 10) }, intMin(1), ""},
	{"unclean.leader.election.enable", func(*Config) string { return "false" }, oneOf("true", "false"), ""},
}

func lookupTopicConfig(name string) (topicConfigKey, bool) {
	for _, k := range topicConfigKeys {
		if k.name == name {
			return k, true
		}
	}
	return topicConfigKey{}, false
}

func oneOf(valid ...string) func(string) error {
	return func(v string) error {
		for _, x := range valid {
			if strings.EqualFold(v, x) {
				return nil
			}
		}
		return fmt.Errorf("invalid value %q, valid values: %s", v, strings.Join(valid, ", "))
	}
}

func intMin(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid value %q: not an integer", v)
		}
		if n < min {
			return fmt.Errorf("invalid value %d: must be >= %d", n, min)
		}
		return nil
	}
}

// validateTopicConfigs checks every key and value; the error names the key and
// the valid choices.
func validateTopicConfigs(cfg map[string]string) error {
	for k, v := range cfg {
		key, ok := lookupTopicConfig(k)
		if !ok {
			names := make([]string, len(topicConfigKeys))
			for i, k := range topicConfigKeys {
				names[i] = k.name
			}
			return fmt.Errorf("unknown or unsupported topic config %q (supported: %s)", k, strings.Join(names, ", "))
		}
		if err := key.check(v); err != nil {
			return fmt.Errorf("topic config %s: %w", k, err)
		}
	}
	return nil
}

// topicSettings is a topic's effective configuration, resolved from its
// explicit configs over the broker defaults.
type topicSettings struct {
	log             storage.Config
	maxMessageBytes int
	logAppendTime   bool
	minInsync       int
	uncleanElection bool
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
	out := make([]describedConfig, 0, len(topicConfigKeys))
	for _, k := range topicConfigKeys {
		if v, ok := explicit[k.name]; ok {
			out = append(out, describedConfig{k.name, v, false})
		} else {
			out = append(out, describedConfig{k.name, k.def(b), true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
