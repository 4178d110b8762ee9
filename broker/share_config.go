package broker

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/internal/topicconf"
)

// Group configs (GROUP resources of IncrementalAlterConfigs and
// DescribeConfigs) hold a share group's settings. A single broker keeps them
// in group-configs.json in its data directory; in a cluster the controller
// owns them and pushes them to every broker, because a share group's record
// lock and delivery limit apply on every partition leader, not only on its
// coordinator.

// Share-group defaults, Kafka's broker settings of the same names.
const (
	defShareLockDuration   = 30 * time.Second // group.share.record.lock.duration.ms
	defShareDeliveryLimit  = 5                // group.share.delivery.count.limit
	defShareSessionTimeout = 45 * time.Second // group.share.session.timeout.ms
	defShareHeartbeat      = 5 * time.Second  // group.share.heartbeat.interval.ms
	defSharePartitionLocks = 2000             // group.share.partition.max.record.locks
	defShareMaxRecords     = 500              // records per partition when a fetch names no max
	groupConfigsFile       = "group-configs.json"
)

// shareGroupConfig is a group's settings with defaults filled in.
type shareGroupConfig struct {
	limits            shareLimits
	earliest          bool // share.auto.offset.reset=earliest
	sessionTimeout    time.Duration
	heartbeatInterval time.Duration
}

func ms(cfg map[string]string, key string, def time.Duration) time.Duration {
	if n, err := strconv.ParseInt(cfg[key], 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	return def
}

// shareConfig resolves group's settings.
func (b *Broker) shareConfig(group string) shareGroupConfig {
	cfg := b.groupConfigs(group)
	sc := shareGroupConfig{
		limits: shareLimits{
			lock:          ms(cfg, "share.record.lock.duration.ms", defShareLockDuration),
			deliveryLimit: defShareDeliveryLimit,
			maxLocks:      defSharePartitionLocks,
		},
		earliest:          cfg["share.auto.offset.reset"] == "earliest",
		sessionTimeout:    ms(cfg, "share.session.timeout.ms", defShareSessionTimeout),
		heartbeatInterval: ms(cfg, "share.heartbeat.interval.ms", defShareHeartbeat),
	}
	if n, err := strconv.Atoi(cfg["share.delivery.count.limit"]); err == nil {
		sc.limits.deliveryLimit = int16(n)
	}
	return sc
}

// groupConfigs returns group's explicit configs (read-only).
func (b *Broker) groupConfigs(group string) map[string]string {
	s := &b.share
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	b.loadGroupConfigsLocked()
	return s.configs[group]
}

func (b *Broker) groupConfigsPath() string { return filepath.Join(b.cfg.DataDir, groupConfigsFile) }

// loadGroupConfigsLocked reads a single broker's file once. Caller holds cfgMu.
func (b *Broker) loadGroupConfigsLocked() {
	s := &b.share
	if s.configs != nil {
		return
	}
	s.configs = map[string]map[string]string{}
	if b.clustered() {
		return
	}
	raw, err := os.ReadFile(b.groupConfigsPath())
	if err == nil {
		err = json.Unmarshal(raw, &s.configs)
	}
	if err != nil && !os.IsNotExist(err) {
		b.cfg.Logf("group configs: %v (starting without them)", err)
	}
}

// setGroupConfigs stores group's whole config set (a controller push, or a
// single broker's own alter).
func (b *Broker) setGroupConfigs(group string, cfg map[string]string) error {
	s := &b.share
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	b.loadGroupConfigsLocked()
	if len(cfg) == 0 {
		delete(s.configs, group)
	} else {
		s.configs[group] = cfg
	}
	if b.clustered() {
		return nil
	}
	raw, err := json.MarshalIndent(s.configs, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(b.groupConfigsPath(), raw, true)
}

// alterGroupConfigs is IncrementalAlterConfigs on a GROUP resource of a
// single broker (a cluster forwards it to the controller).
func (b *Broker) alterGroupConfigs(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	if rr.ResourceName == "" {
		return fmt.Errorf("%w: a group config needs a group name", errInvalidConfig)
	}
	cfg, err := topicconf.Apply(b.groupConfigs(rr.ResourceName), rr.Configs)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalidConfig, err)
	}
	if err := topicconf.ValidateGroup(cfg); err != nil {
		return fmt.Errorf("%w: %v", errInvalidConfig, err)
	}
	if validateOnly {
		return nil
	}
	return b.setGroupConfigs(rr.ResourceName, cfg)
}

// describeGroupConfigs lists every supported group config of group, explicit
// or default, for DescribeConfigs.
func (b *Broker) describeGroupConfigs(group string) [][2]string {
	cfg := b.groupConfigs(group)
	defaults := map[string]string{
		"share.auto.offset.reset":       "latest",
		"share.delivery.count.limit":    strconv.Itoa(defShareDeliveryLimit),
		"share.heartbeat.interval.ms":   strconv.FormatInt(defShareHeartbeat.Milliseconds(), 10),
		"share.record.lock.duration.ms": strconv.FormatInt(defShareLockDuration.Milliseconds(), 10),
		"share.session.timeout.ms":      strconv.FormatInt(defShareSessionTimeout.Milliseconds(), 10),
	}
	var out [][2]string
	for _, k := range topicconf.GroupKeys() {
		v, ok := cfg[k.Name]
		if !ok {
			v = defaults[k.Name]
		}
		out = append(out, [2]string{k.Name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// isExplicitGroupConfig says whether group sets key itself.
func (b *Broker) isExplicitGroupConfig(group, key string) bool {
	_, ok := b.groupConfigs(group)[key]
	return ok
}
