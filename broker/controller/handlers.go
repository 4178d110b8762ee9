package controller

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/internal/topicconf"
)

func sortBrokers(bs []*Broker) { sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID }) }

func strp(s string) *string { return &s }

// BrokerRegistration: a broker (re)joins. A broker that registers again
// without having been fenced restarted faster than the session timeout: it is
// fenced first, so its partitions fail over and it rejoins as a follower.
// One only known from controller.json (both restarted) is not.
func (c *Controller) handleRegistration(r *kmsg.BrokerRegistrationRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	if len(r.Listeners) == 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch prev := c.brokers[r.BrokerID]; {
	case prev != nil && prev.Restored:
		// Restarted along with the controller: it keeps what it led, at a
		// new leader epoch, so its followers (and an in-sync check
		// against the epoch's start offset) see that it restarted.
		// Fencing it would drain ISRs towards brokers still down.
		for _, t := range c.topics {
			for _, p := range t.Partitions {
				if p.Leader == r.BrokerID {
					p.LeaderEpoch++
					p.PartitionEpoch++
				}
			}
		}
	case prev != nil && !prev.Fenced:
		c.cfg.Logf("controller: broker %d registered again while live: fencing its old incarnation", r.BrokerID)
		c.fence(prev)
	}
	c.nextBrokerEpoch++
	b := &Broker{ID: r.BrokerID, Host: r.Listeners[0].Host, Port: int32(r.Listeners[0].Port), Epoch: c.nextBrokerEpoch, lastHeartbeat: time.Now()}
	c.brokers[b.ID] = b
	// Offline partitions whose last in-sync replica is back get it as leader.
	for _, t := range c.topics {
		for _, p := range t.Partitions {
			if p.Leader == -1 && contains(p.ISR, b.ID) {
				p.Leader = b.ID
				p.LeaderEpoch++
				p.PartitionEpoch++
			}
		}
	}
	if old := c.pushers[b.ID]; old != nil {
		old.close()
	}
	c.pushers[b.ID] = c.startPusher(b)
	c.cfg.Logf("controller: broker %d registered at %s, epoch %d", b.ID, b.Addr(), b.Epoch)
	c.changed()
	resp.BrokerEpoch = b.Epoch
	return resp
}

// BrokerHeartbeat keeps a broker unfenced. A fenced or unknown broker gets
// STALE_BROKER_EPOCH and must register again. WantShutdown moves its
// leadership away first (controlled shutdown).
func (c *Controller) handleHeartbeat(r *kmsg.BrokerHeartbeatRequest) kmsg.Response {
	received := time.Now() // before waiting for the lock: the broker is alive now
	resp := r.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.brokers[r.BrokerID]
	if b == nil || b.Epoch != r.BrokerEpoch || b.Fenced {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		resp.IsFenced = true
		return resp
	}
	if received.After(b.lastHeartbeat) {
		b.lastHeartbeat = received
	}
	if b.Restored {
		// A broker that outlived a controller restart: push to it again.
		b.Restored = false
		if c.pushers[b.ID] == nil {
			c.pushers[b.ID] = c.startPusher(b)
		}
	}
	resp.IsCaughtUp = true
	resp.IsFenced = false // the schema's default is true
	if r.WantShutdown {
		c.cfg.Logf("controller: broker %d shutting down: moving its leadership", b.ID)
		c.fence(b)
		resp.ShouldShutdown = true
		resp.IsFenced = true
	}
	return resp
}

// AlterPartition: a leader shrinks or expands its ISR.
func (c *Controller) handleAlterPartition(r *kmsg.AlterPartitionRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.brokers[r.BrokerID]; b == nil || b.Fenced || (r.BrokerEpoch != -1 && b.Epoch != r.BrokerEpoch) {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	changed := false
	for _, rt := range r.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.Topic = rt.Topic
		t := c.topics[rt.Topic]
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			p := t.Partitions[rp.Partition]
			switch {
			case p.Leader != r.BrokerID:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.LeaderEpoch != p.LeaderEpoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.PartitionEpoch != p.PartitionEpoch:
				sp.ErrorCode = kerr.InvalidUpdateVersion.Code
			default:
				ok := contains(rp.NewISR, p.Leader)
				for _, id := range rp.NewISR {
					ok = ok && contains(p.Replicas, id) && c.isLive(id)
				}
				if !ok {
					sp.ErrorCode = kerr.IneligibleReplica.Code
					break
				}
				p.ISR = append([]int32(nil), rp.NewISR...)
				p.PartitionEpoch++
				changed = true
				c.cfg.Logf("controller: %s-%d ISR now %v (partition epoch %d)", rt.Topic, rp.Partition, p.ISR, p.PartitionEpoch)
			}
			sp.LeaderID, sp.LeaderEpoch, sp.ISR, sp.PartitionEpoch = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if changed {
		c.changed()
	}
	return resp
}

// assign places partitions [from, to) of a topic round-robin over the live
// brokers, starting at a random broker, replicas on consecutive brokers.
func assign(live []*Broker, from, to int, rf int) []*Partition {
	start := rand.IntN(len(live))
	var out []*Partition
	for i := from; i < to; i++ {
		p := &Partition{}
		for j := 0; j < rf; j++ {
			p.Replicas = append(p.Replicas, live[(start+i+j)%len(live)].ID)
		}
		p.ISR = append([]int32(nil), p.Replicas...)
		p.Leader = p.Replicas[0]
		out = append(out, p)
	}
	return out
}

func (c *Controller) handleCreateTopics(r *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	c.change(func() bool {
		live := c.liveBrokers()
		created := false
		for _, rt := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			fail := func(code int16, msg string) {
				st.ErrorCode = code
				st.ErrorMessage = strp(msg)
			}
			parts := rt.NumPartitions
			if parts == -1 {
				parts = c.cfg.DefaultPartitions
			}
			rf := rt.ReplicationFactor
			defaulted := rf == -1
			if defaulted {
				rf = c.cfg.DefaultReplicationFactor
				if rf <= 0 {
					rf = int16(min(3, len(live)))
				}
			}
			configs := map[string]string{}
			for _, cf := range rt.Configs {
				if cf.Value != nil {
					configs[cf.Name] = *cf.Value
				}
			}
			// An internal topic's brokers ask with the replication factor
			// left to this controller, whose view of the live brokers is
			// the current one; min.insync.replicas follows it.
			if _, set := configs["min.insync.replicas"]; defaulted && !set && (rt.Topic == "__consumer_offsets" || rt.Topic == "__transaction_state") {
				configs["min.insync.replicas"] = strconv.Itoa(int(min(2, rf)))
			}
			switch {
			case topicconf.ValidateName(rt.Topic) != nil:
				fail(kerr.InvalidTopicException.Code, topicconf.ValidateName(rt.Topic).Error())
			case c.topics[rt.Topic] != nil:
				fail(kerr.TopicAlreadyExists.Code, "topic "+rt.Topic+" already exists")
			case parts < 1 || parts > 100000:
				fail(kerr.InvalidPartitions.Code, fmt.Sprintf("%d partitions: must be 1..100000", parts))
			case len(rt.ReplicaAssignment) > 0:
				fail(kerr.InvalidReplicaAssignment.Code, "manual replica assignment is not supported; use num_partitions and replication_factor")
			case rf < 1 || int(rf) > len(live):
				fail(kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor %d: must be 1..%d (live brokers)", rf, len(live)))
			case topicconf.Validate(configs) != nil:
				fail(kerr.InvalidConfig.Code, topicconf.Validate(configs).Error())
			case r.ValidateOnly:
				st.NumPartitions, st.ReplicationFactor = parts, rf
			default:
				t := &Topic{Name: rt.Topic, Configs: configs, ConfigVersion: 1, Partitions: assign(live, 0, int(parts), int(rf))}
				var id [16]byte
				crand.Read(id[:])
				t.ID = hex.EncodeToString(id[:])
				c.topics[t.Name] = t
				st.TopicID = id
				st.NumPartitions, st.ReplicationFactor = parts, rf
				created = true
				c.cfg.Logf("controller: created topic %s: %d partitions, replication factor %d", t.Name, parts, rf)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return created
	})
	return resp
}

func (c *Controller) handleDeleteTopics(r *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	c.change(func() bool {
		deleted := false
		names := append([]string(nil), r.TopicNames...)
		for _, t := range r.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
		for _, name := range names {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic = strp(name)
			if c.topics[name] == nil {
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				delete(c.topics, name)
				deleted = true
				c.cfg.Logf("controller: deleted topic %s", name)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return deleted
	})
	return resp
}

func (c *Controller) handleCreatePartitions(r *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	c.change(func() bool {
		live := c.liveBrokers()
		changed := false
		for _, rt := range r.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			t := c.topics[rt.Topic]
			switch {
			case t == nil:
				st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(rt.Assignment) > 0:
				st.ErrorCode, st.ErrorMessage = kerr.InvalidReplicaAssignment.Code, strp("manual assignment is not supported")
			case int(rt.Count) <= len(t.Partitions) || rt.Count > 100000:
				st.ErrorCode = kerr.InvalidPartitions.Code
				st.ErrorMessage = strp(fmt.Sprintf("topic has %d partitions; the new total %d must be larger (and <= 100000)", len(t.Partitions), rt.Count))
			case len(t.Partitions[0].Replicas) > len(live):
				st.ErrorCode, st.ErrorMessage = kerr.InvalidReplicationFactor.Code, strp("not enough live brokers for the topic's replication factor")
			case r.ValidateOnly:
			default:
				t.Partitions = append(t.Partitions, assign(live, len(t.Partitions), int(rt.Count), len(t.Partitions[0].Replicas))...)
				changed = true
			}
			resp.Topics = append(resp.Topics, st)
		}
		return changed
	})
	return resp
}

// setConfigs validates and stores a topic's full explicit config set.
// Caller holds mu.
func (c *Controller) setConfigs(name string, configs map[string]string, validateOnly bool) (int16, *string) {
	t := c.topics[name]
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code, strp("unknown topic " + name)
	}
	if err := topicconf.Validate(configs); err != nil {
		return kerr.InvalidConfig.Code, strp(err.Error())
	}
	if !validateOnly {
		t.Configs = configs
		t.ConfigVersion++
	}
	return 0, nil
}

func (c *Controller) handleAlterConfigs(r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	c.change(func() bool {
		changed := false
		for _, rr := range r.Resources {
			sr := kmsg.NewAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			if rr.ResourceType != kmsg.ConfigResourceTypeTopic {
				sr.ErrorCode, sr.ErrorMessage = kerr.InvalidRequest.Code, strp("only topic configs can be altered")
			} else {
				cfg := map[string]string{}
				for _, cf := range rr.Configs {
					if cf.Value != nil {
						cfg[cf.Name] = *cf.Value
					}
				}
				sr.ErrorCode, sr.ErrorMessage = c.setConfigs(rr.ResourceName, cfg, r.ValidateOnly)
				changed = changed || (sr.ErrorCode == 0 && !r.ValidateOnly)
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return changed
	})
	return resp
}

func (c *Controller) handleIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	c.change(func() bool {
		changed := false
		for _, rr := range r.Resources {
			sr := kmsg.NewIncrementalAlterConfigsResponseResource()
			sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
			t := c.topics[rr.ResourceName]
			switch {
			case rr.ResourceType == kmsg.ConfigResourceTypeGroupConfig:
				sr.ErrorCode, sr.ErrorMessage = c.alterGroupConfigs(rr, r.ValidateOnly)
				changed = changed || (sr.ErrorCode == 0 && !r.ValidateOnly)
			case rr.ResourceType != kmsg.ConfigResourceTypeTopic:
				sr.ErrorCode, sr.ErrorMessage = kerr.InvalidRequest.Code, strp("only topic and group configs can be altered")
			case t == nil:
				sr.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				cfg, err := topicconf.Apply(t.Configs, rr.Configs)
				if err != nil {
					sr.ErrorCode, sr.ErrorMessage = kerr.InvalidConfig.Code, strp(err.Error())
					break
				}
				sr.ErrorCode, sr.ErrorMessage = c.setConfigs(rr.ResourceName, cfg, r.ValidateOnly)
				changed = changed || (sr.ErrorCode == 0 && !r.ValidateOnly)
			}
			resp.Resources = append(resp.Resources, sr)
		}
		return changed
	})
	return resp
}

// change runs mutate under mu. When mutate reports a change, the change is
// published and, once mu is released, the brokers are given up to 5 s to
// apply it.
func (c *Controller) change(mutate func() (changed bool)) {
	if v, ok := c.publish(mutate); ok {
		c.waitPushed(v, 5*time.Second)
	}
}

// publish runs mutate under mu and publishes what it changed, returning
// the new version.
func (c *Controller) publish(mutate func() bool) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !mutate() {
		return 0, false
	}
	c.changed()
	return c.version, true
}

// alterGroupConfigs applies SET and DELETE to a group's configs. Caller holds mu.
func (c *Controller) alterGroupConfigs(rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) (int16, *string) {
	if rr.ResourceName == "" {
		return kerr.InvalidRequest.Code, strp("a group config needs a group name")
	}
	var current map[string]string
	g := c.groups[rr.ResourceName]
	if g != nil {
		current = g.Configs
	}
	cfg, err := topicconf.Apply(current, rr.Configs)
	if err != nil {
		return kerr.InvalidConfig.Code, strp(err.Error())
	}
	if err := topicconf.ValidateGroup(cfg); err != nil {
		return kerr.InvalidConfig.Code, strp(err.Error())
	}
	if validateOnly {
		return 0, nil
	}
	if g == nil {
		g = &GroupConfig{}
		c.groups[rr.ResourceName] = g
	}
	g.Configs = cfg
	g.Version++
	return 0, nil
}
