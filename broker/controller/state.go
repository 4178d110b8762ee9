package controller

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	Leader         int32   `json:"leader"` // -1: offline
	LeaderEpoch    int32   `json:"leaderEpoch"`
	PartitionEpoch int32   `json:"partitionEpoch"`
}

// Topic is one topic.
type Topic struct {
	Name          string            `json:"name"`
	ID            string            `json:"id"` // 32 hex digits
	Configs       map[string]string `json:"configs,omitempty"`
	ConfigVersion int64             `json:"configVersion"`
	Partitions    []*Partition      `json:"partitions"`
}

// Broker is a registered broker.
type Broker struct {
	ID     int32  `json:"id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Epoch  int64  `json:"epoch"`
	Fenced bool   `json:"fenced"`
	// Restored: loaded from controller.json at start and not heard from
	// since (no registration or heartbeat yet). It counts as live until the
	// session timeout fences it.
	Restored bool `json:"-"`

	lastHeartbeat time.Time
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("%s:%d", b.Host, b.Port) }

// persisted is what survives a controller restart: topics, assignments and
// broker registrations. A restored broker that does not heartbeat within
// the session timeout is fenced, so partitions it led move on even if it
// never returns (as a KRaft controller does after a failover).
type persisted struct {
	Epoch       int32             `json:"controllerEpoch"`
	BrokerEpoch int64             `json:"nextBrokerEpoch"`
	Topics      map[string]*Topic `json:"topics"`
	Brokers     []*Broker         `json:"brokers,omitempty"`
	// Groups are group-level configs (share groups' settings).
	Groups map[string]*GroupConfig `json:"groupConfigs,omitempty"`
}

// GroupConfig is one group's configs, versioned like a topic's so pushers
// send only what a broker has not seen.
type GroupConfig struct {
	Configs map[string]string `json:"configs"`
	Version int64             `json:"version"`
}

func (c *Controller) statePath() string { return filepath.Join(c.cfg.Dir, "controller.json") }

func (c *Controller) load() error {
	c.topics = map[string]*Topic{}
	c.groups = map[string]*GroupConfig{}
	raw, err := os.ReadFile(c.statePath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("parse %s: %w", c.statePath(), err)
	}
	c.epoch = p.Epoch
	c.nextBrokerEpoch = p.BrokerEpoch
	if p.Topics != nil {
		c.topics = p.Topics
	}
	if p.Groups != nil {
		c.groups = p.Groups
	}
	now := time.Now()
	for _, b := range p.Brokers {
		b.Restored, b.lastHeartbeat = !b.Fenced, now
		c.brokers[b.ID] = b
	}
	return nil
}

// save persists the state atomically. Caller holds mu.
func (c *Controller) save() error {
	brokers := make([]*Broker, 0, len(c.brokers))
	for _, b := range c.brokers {
		brokers = append(brokers, b)
	}
	sortBrokers(brokers)
	raw, err := json.MarshalIndent(persisted{Epoch: c.epoch, BrokerEpoch: c.nextBrokerEpoch, Topics: c.topics, Brokers: brokers, Groups: c.groups}, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(c.statePath(), raw, true)
}

func topicID(t *Topic) [16]byte {
	var id [16]byte
	raw, _ := hex.DecodeString(t.ID)
	copy(id[:], raw)
	return id
}

func (c *Controller) sortedTopics() []*Topic {
	out := make([]*Topic, 0, len(c.topics))
	for _, t := range c.topics {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func without(s []int32, v int32) []int32 {
	out := make([]int32, 0, len(s))
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
