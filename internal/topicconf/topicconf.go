// Package topicconf lists the topic-level configs kbench understands and
// validates values, for the broker and the controller alike. Any other key is
// rejected: a benchmark must never silently ignore a setting the user
// believes is in force.
package topicconf

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ValidateName checks a topic name as Kafka does.
func ValidateName(name string) error {
	if !validName.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid topic name %q (1-249 characters of [a-zA-Z0-9._-], not . or ..)", name)
	}
	return nil
}

// Key is one supported topic config.
type Key struct {
	Name  string
	Check func(v string) error
	Doc   string
}

// keys is read-only.
var keys = []Key{
	{"cleanup.policy", oneOf("delete", "compact", "compact,delete", "delete,compact"), "delete: retention removes old segments; compact: the log cleaner keeps the latest record per key"},
	{"compression.type", oneOf("producer"), "batches are stored as the producer compressed them"},
	{"delete.retention.ms", intMin(0), "how long the cleaner keeps tombstones of a compacted topic"},
	{"flush.messages", intMin(1), "1 fsyncs every produced batch; anything else leaves flushing to the OS"},
	{"flush.ms", intMin(0), "fsync interval"},
	{"index.interval.bytes", intMin(0), "bytes between offset index entries"},
	{"max.message.bytes", intMin(0), "largest record batch accepted"},
	{"message.timestamp.type", oneOf("CreateTime", "LogAppendTime"), "which timestamp batches carry"},
	{"min.insync.replicas", intMin(1), "in-sync replicas an acks=all write needs"},
	{"retention.bytes", intMin(-1), "per-partition size cap, -1 = none"},
	{"retention.ms", intMin(-1), "age cap, -1 = forever"},
	{"segment.bytes", intMin(14), "segment size before a roll"},
	{"segment.ms", intMin(1), "segment age before a roll"},
	{"unclean.leader.election.enable", oneOf("true", "false"), "whether an out-of-sync replica may become leader"},
}

// Keys returns the supported keys in name order.
func Keys() []Key { return append([]Key(nil), keys...) }

// Lookup finds a key by name.
func Lookup(name string) (Key, bool) {
	for _, k := range keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Names lists the supported key names.
func Names() []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

// Validate checks every key and value; the error names the key and the valid
// choices.
func Validate(cfg map[string]string) error {
	for k, v := range cfg {
		key, ok := Lookup(k)
		if !ok {
			return fmt.Errorf("unknown or unsupported topic config %q (supported: %s)", k, strings.Join(Names(), ", "))
		}
		if err := key.Check(v); err != nil {
			return fmt.Errorf("topic config %s: %w", k, err)
		}
	}
	return nil
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

// Apply returns a copy of cfg with IncrementalAlterConfigs operations
// applied in order: SET with a value sets a key, DELETE removes it. Any
// other operation is an error naming it, and then nothing is applied.
func Apply(cfg map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, error) {
	out := make(map[string]string, len(cfg)+len(ops))
	maps.Copy(out, cfg)
	for _, op := range ops {
		switch {
		case op.Op == kmsg.IncrementalAlterConfigOpSet && op.Value != nil:
			out[op.Name] = *op.Value
		case op.Op == kmsg.IncrementalAlterConfigOpDelete:
			delete(out, op.Name)
		case op.Op == kmsg.IncrementalAlterConfigOpSet:
			return nil, fmt.Errorf("SET %s without a value", op.Name)
		default:
			return nil, fmt.Errorf("operation %v on %s is not supported (SET with a value, DELETE)", op.Op, op.Name)
		}
	}
	return out, nil
}
