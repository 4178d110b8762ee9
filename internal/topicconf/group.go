package topicconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Group-level configs (Kafka's GroupConfig, set with IncrementalAlterConfigs
// on a GROUP resource). kbench understands the share-group ones; the value
// ranges are Kafka's broker-side bounds except the record lock, which kbench
// lets go down to 1 s (Kafka: group.share.min.record.lock.duration.ms, 15 s)
// so redelivery can be measured in seconds.
var groupKeys = []Key{
	{"share.auto.offset.reset", oneOf("earliest", "latest"), "where a share group starts on a partition it has not consumed yet"},
	{"share.delivery.count.limit", intRange(2, 10), "deliveries after which a record is archived instead of redelivered"},
	{"share.heartbeat.interval.ms", intRange(1000, 15000), "heartbeat interval handed to share-group members"},
	{"share.record.lock.duration.ms", intRange(1000, 3600000), "how long a delivered record stays locked to its consumer before it is redelivered"},
	{"share.session.timeout.ms", intRange(6000, 300000), "how long a share-group member may go without a heartbeat"},
}

// GroupKeys returns the supported group keys in name order.
func GroupKeys() []Key { return append([]Key(nil), groupKeys...) }

// ValidateGroup checks group configs; the error names the key and the valid
// choices.
func ValidateGroup(cfg map[string]string) error {
	for k, v := range cfg {
		key, ok := lookupGroup(k)
		if !ok {
			names := make([]string, len(groupKeys))
			for i, g := range groupKeys {
				names[i] = g.Name
			}
			return fmt.Errorf("unknown or unsupported group config %q (supported: %s)", k, strings.Join(names, ", "))
		}
		if err := key.Check(v); err != nil {
			return fmt.Errorf("group config %s: %w", k, err)
		}
	}
	return nil
}

func lookupGroup(name string) (Key, bool) {
	for _, k := range groupKeys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func intRange(min, max int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid value %q: not an integer", v)
		}
		if n < min || n > max {
			return fmt.Errorf("invalid value %d: must be in [%d, %d]", n, min, max)
		}
		return nil
	}
}
