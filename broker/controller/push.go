package controller

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/wire"
)

// pusher sends the controller's state to one broker: changed topic configs
// (AlterConfigs) first, then the full partition state (UpdateMetadata). Kicks
// coalesce, so a slow broker never blocks the controller.
type pusher struct {
	c       *Controller
	id      int32
	epoch   int64
	cl      *wire.Client
	kickCh  chan struct{}
	done    chan struct{}
	exited  chan struct{}
	pushed  atomic.Int64 // controller version last applied by the broker
	configs map[string]int64
}

func (c *Controller) startPusher(b *Broker) *pusher {
	p := &pusher{c: c, id: b.ID, epoch: b.Epoch, cl: &wire.Client{Addr: b.Addr(), ClientID: ClientID},
		kickCh: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{}), configs: map[string]int64{}}
	p.pushed.Store(-1)
	go p.loop()
	p.kick()
	return p
}

func (p *pusher) kick() {
	select {
	case p.kickCh <- struct{}{}:
	default:
	}
}

func (p *pusher) close() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.cl.Close()
}

func (p *pusher) loop() {
	defer close(p.exited)
	for {
		select {
		case <-p.done:
			return
		case <-p.kickCh:
		}
		for {
			err := p.pushOnce()
			if err == nil {
				break
			}
			p.c.cfg.Logf("controller: push to broker %d: %v (retrying)", p.id, err)
			select {
			case <-p.done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

func (p *pusher) pushOnce() error {
	c := p.c
	c.mu.Lock()
	b := c.brokers[p.id]
	if b == nil || b.Fenced || b.Epoch != p.epoch {
		c.mu.Unlock()
		return nil // a fenced broker learns nothing until it registers again
	}
	version := c.version
	um, cfgReq, cfgVersions := c.buildPush(b, p.configs)
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cfgReq != nil {
		resp, err := p.cl.Request(ctx, cfgReq)
		if err != nil {
			return err
		}
		for _, r := range resp.(*kmsg.AlterConfigsResponse).Resources {
			if r.ErrorCode != 0 {
				return kerr.ErrorForCode(r.ErrorCode)
			}
		}
		for k, v := range cfgVersions {
			p.configs[k] = v
		}
	}
	resp, err := p.cl.Request(ctx, um)
	if err != nil {
		return err
	}
	if code := resp.(*kmsg.UpdateMetadataResponse).ErrorCode; code != 0 {
		return kerr.ErrorForCode(code)
	}
	if version > p.pushed.Load() {
		p.pushed.Store(version)
	}
	return nil
}

// buildPush builds the UpdateMetadata snapshot for broker b and an
// AlterConfigs for the topics whose configs b has not seen. Caller holds mu.
func (c *Controller) buildPush(b *Broker, sent map[string]int64) (*kmsg.UpdateMetadataRequest, *kmsg.AlterConfigsRequest, map[string]int64) {
	live := c.liveBrokers()
	um := kmsg.NewPtrUpdateMetadataRequest()
	um.Version = 7
	um.ControllerID = -1
	if len(live) > 0 {
		um.ControllerID = live[0].ID // what brokers report to clients
	}
	um.ControllerEpoch = c.epoch
	um.BrokerEpoch = b.Epoch
	for _, lb := range live {
		x := kmsg.NewUpdateMetadataRequestLiveBroker()
		x.ID = lb.ID
		ep := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
		ep.Host, ep.Port, ep.ListenerName = lb.Host, lb.Port, "PLAINTEXT"
		x.Endpoints = append(x.Endpoints, ep)
		um.LiveBrokers = append(um.LiveBrokers, x)
	}
	var cfg *kmsg.AlterConfigsRequest
	versions := map[string]int64{}
	for _, t := range c.sortedTopics() {
		ts := kmsg.NewUpdateMetadataRequestTopicState()
		ts.Topic = t.Name
		ts.TopicID = topicID(t)
		for i, p := range t.Partitions {
			ps := kmsg.NewUpdateMetadataRequestTopicPartition()
			ps.Partition = int32(i)
			ps.ControllerEpoch = c.epoch
			ps.Leader, ps.LeaderEpoch, ps.ZKVersion = p.Leader, p.LeaderEpoch, p.PartitionEpoch
			ps.ISR = append([]int32(nil), p.ISR...)
			ps.Replicas = append([]int32(nil), p.Replicas...)
			for _, r := range p.Replicas {
				if !c.isLive(r) {
					ps.OfflineReplicas = append(ps.OfflineReplicas, r)
				}
			}
			ts.PartitionStates = append(ts.PartitionStates, ps)
		}
		um.TopicStates = append(um.TopicStates, ts)
		// Keyed by topic id: a topic deleted and created again under the
		// same name starts at config version 1 again and must still reach
		// every broker.
		if sent[t.ID] != t.ConfigVersion {
			if cfg == nil {
				cfg = kmsg.NewPtrAlterConfigsRequest()
				cfg.Version = 1
			}
			r := kmsg.NewAlterConfigsRequestResource()
			r.ResourceType = kmsg.ConfigResourceTypeTopic
			r.ResourceName = t.Name
			keys := make([]string, 0, len(t.Configs))
			for k := range t.Configs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				cf := kmsg.NewAlterConfigsRequestResourceConfig()
				cf.Name, cf.Value = k, strp(t.Configs[k])
				r.Configs = append(r.Configs, cf)
			}
			cfg.Resources = append(cfg.Resources, r)
			versions[t.ID] = t.ConfigVersion
		}
	}
	names := make([]string, 0, len(c.groups))
	for name := range c.groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		g := c.groups[name]
		key := "group:" + name // topic ids are hex, so the keys never collide
		if sent[key] == g.Version {
			continue
		}
		if cfg == nil {
			cfg = kmsg.NewPtrAlterConfigsRequest()
			cfg.Version = 1
		}
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeGroupConfig
		r.ResourceName = name
		for k, v := range g.Configs {
			cf := kmsg.NewAlterConfigsRequestResourceConfig()
			cf.Name, cf.Value = k, strp(v)
			r.Configs = append(r.Configs, cf)
		}
		cfg.Resources = append(cfg.Resources, r)
		versions[key] = g.Version
	}
	return um, cfg, versions
}

// waitPushed waits until every live broker applied version v, or timeout.
func (c *Controller) waitPushed(v int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		done := true
		for _, b := range c.liveBrokers() {
			if p := c.pushers[b.ID]; p != nil && p.pushed.Load() < v {
				done = false
			}
		}
		c.mu.Unlock()
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
