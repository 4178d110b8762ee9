// Package controller is the kbench cluster's controller: it owns topic and
// partition assignment, leaders, ISRs and leader epochs (persisted to disk),
// registers brokers and fences those that stop heartbeating, and moves their
// partitions to in-sync replicas. It speaks the Kafka protocol: brokers use
// BrokerRegistration, BrokerHeartbeat and AlterPartition, and forward the
// admin requests clients send them (CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs); the controller
// pushes topic configs (AlterConfigs) and the full partition state
// (UpdateMetadata) to every live broker after each change.
//
// There is one controller and no quorum: losing it is not survived (brokers
// keep serving with the leadership they have, but nothing fails over).
// Users who need that run Apache Kafka with KRaft.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/wire"
)

// ClientID is the client id the controller uses on its connections to
// brokers; brokers apply AlterConfigs/UpdateMetadata only from it.
const ClientID = "kbench-controller"

// Config configures the controller.
type Config struct {
	// Listen is the loopback address to bind; default 127.0.0.1:0.
	Listen string
	// Dir holds controller.json. Required.
	Dir string
	// SessionTimeout fences a broker whose last heartbeat is older; default 2s.
	SessionTimeout time.Duration
	// ClusterID is the cluster's id; default "kbench-cluster".
	ClusterID string
	// DefaultPartitions and DefaultReplicationFactor apply to CreateTopics
	// with -1; defaults 1 and min(3, live brokers).
	DefaultPartitions        int32
	DefaultReplicationFactor int16
	// Logf receives log lines; default discards.
	Logf func(format string, args ...any)
}

// Controller is a running controller.
type Controller struct {
	cfg Config
	ln  net.Listener

	mu              sync.Mutex
	epoch           int32
	nextBrokerEpoch int64
	topics          map[string]*Topic
	groups          map[string]*GroupConfig
	brokers         map[int32]*Broker
	pushers         map[int32]*pusher
	version         int64 // bumped on every change; pushers send when behind

	stop chan struct{}
	wg   sync.WaitGroup
}

// Start loads the state in cfg.Dir and starts serving.
func Start(ctx context.Context, cfg Config) (*Controller, error) {
	if cfg.Dir == "" {
		return nil, errors.New("controller: dir is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 2 * time.Second
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = "kbench-cluster"
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 1
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	c := &Controller{cfg: cfg, brokers: map[int32]*Broker{}, pushers: map[int32]*pusher{}, stop: make(chan struct{})}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.epoch++
	if err := c.save(); err != nil {
		return nil, fmt.Errorf("controller: persist state: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("controller: listen on %s: %w", cfg.Listen, err)
	}
	c.ln = ln
	c.wg.Add(2)
	go c.acceptLoop()
	go c.fencer()
	return c, nil
}

// Addr is the controller's bound address.
func (c *Controller) Addr() string { return c.ln.Addr().String() }

// Close stops the controller.
func (c *Controller) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	c.ln.Close()
	c.mu.Lock()
	for _, p := range c.pushers {
		p.close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Controller) acceptLoop() {
	defer c.wg.Done()
	for {
		nc, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serveConn(nc)
		}()
	}
}

// serveConn answers one connection's requests in order.
func (c *Controller) serveConn(nc net.Conn) {
	defer nc.Close()
	go func() {
		<-c.stop
		nc.Close()
	}()
	var out []byte
	for {
		frame, err := wire.ReadFrame(nc, 100<<20)
		if err != nil {
			return
		}
		h, req, err := wire.ParseRequest(frame)
		if err != nil {
			c.cfg.Logf("controller: %v", err)
			return
		}
		resp := c.handle(req)
		if resp == nil {
			c.cfg.Logf("controller: unsupported request key %d", h.Key)
			return
		}
		out = wire.AppendResponse(out[:0], h, resp)
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

func (c *Controller) handle(req kmsg.Request) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		for _, k := range []int16{19, 20, 32, 33, 37, 44, 56, 62, 63} {
			v := kmsg.NewApiVersionsResponseApiKey()
			v.ApiKey, v.MaxVersion = k, kmsg.RequestForKey(k).MaxVersion()
			resp.ApiKeys = append(resp.ApiKeys, v)
		}
		return resp
	case *kmsg.BrokerRegistrationRequest:
		return c.handleRegistration(r)
	case *kmsg.BrokerHeartbeatRequest:
		return c.handleHeartbeat(r)
	case *kmsg.AlterPartitionRequest:
		return c.handleAlterPartition(r)
	case *kmsg.CreateTopicsRequest:
		return c.handleCreateTopics(r)
	case *kmsg.DeleteTopicsRequest:
		return c.handleDeleteTopics(r)
	case *kmsg.CreatePartitionsRequest:
		return c.handleCreatePartitions(r)
	case *kmsg.AlterConfigsRequest:
		return c.handleAlterConfigs(r)
	case *kmsg.IncrementalAlterConfigsRequest:
		return c.handleIncrementalAlterConfigs(r)
	}
	return nil
}

// changed records a state change: persist it and wake the pushers. Caller
// holds mu.
func (c *Controller) changed() {
	if err := c.save(); err != nil {
		c.cfg.Logf("controller: persist state: %v", err)
	}
	c.version++
	for _, p := range c.pushers {
		p.kick()
	}
}

// liveBrokers returns the unfenced brokers in id order. Caller holds mu.
func (c *Controller) liveBrokers() []*Broker {
	var out []*Broker
	for _, b := range c.brokers {
		if !b.Fenced {
			out = append(out, b)
		}
	}
	sortBrokers(out)
	return out
}

func (c *Controller) isLive(id int32) bool {
	b := c.brokers[id]
	return b != nil && !b.Fenced
}

// fencer fences brokers whose heartbeats stopped.
func (c *Controller) fencer() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.SessionTimeout / 10)
	defer t.Stop()
	prev := time.Now()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			// A tick that comes late means this process (or the machine)
			// stalled: heartbeats may be queued unprocessed, so judge them
			// on the next tick rather than fence brokers for our own stall.
			late := now.Sub(prev) > c.cfg.SessionTimeout/4
			prev = now
			if late {
				continue
			}
			c.mu.Lock()
			for _, b := range c.brokers {
				if !b.Fenced && now.Sub(b.lastHeartbeat) > c.cfg.SessionTimeout {
					c.cfg.Logf("controller: broker %d missed heartbeats for %s: fencing it", b.ID, c.cfg.SessionTimeout)
					c.fence(b)
				}
			}
			c.mu.Unlock()
		}
	}
}

// fence marks b fenced, removes it from every ISR and moves leadership of its
// partitions to an in-sync replica (or any live replica when unclean
// election is enabled; otherwise the partition goes offline). Caller holds mu.
func (c *Controller) fence(b *Broker) {
	b.Fenced, b.Restored = true, false
	for _, t := range c.topics {
		unclean := t.Configs["unclean.leader.election.enable"] == "true"
		for _, p := range t.Partitions {
			if !contains(p.Replicas, b.ID) {
				continue
			}
			changed := false
			if contains(p.ISR, b.ID) && len(p.ISR) > 1 {
				// The ISR never empties: its last member keeps the claim to
				// lead when it returns, as in KRaft.
				p.ISR = without(p.ISR, b.ID)
				changed = true
			}
			if p.Leader == b.ID {
				c.elect(p, unclean)
				changed = true
			}
			if changed {
				p.PartitionEpoch++
			}
		}
	}
	c.changed()
}

// elect picks a new leader for p among live ISR members in replica order;
// with unclean, any live replica. Caller holds mu.
func (c *Controller) elect(p *Partition, unclean bool) {
	newLeader := int32(-1)
	for _, r := range p.Replicas {
		if contains(p.ISR, r) && c.isLive(r) {
			newLeader = r
			break
		}
	}
	if newLeader == -1 && unclean {
		for _, r := range p.Replicas {
			if c.isLive(r) {
				newLeader = r
				p.ISR = []int32{r}
				c.cfg.Logf("controller: unclean leader election: replica %d leads without being in sync", r)
				break
			}
		}
	}
	if newLeader != p.Leader {
		p.Leader = newLeader
		p.LeaderEpoch++
	}
}

// State is a copy of the controller's view, for tests and the cluster CLI.
type State struct {
	Brokers []Broker
	Topics  map[string]Topic
}

// Snapshot copies the current state.
func (c *Controller) Snapshot() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{Topics: map[string]Topic{}}
	for _, b := range c.brokers {
		s.Brokers = append(s.Brokers, *b)
	}
	for name, t := range c.topics {
		ct := *t
		ct.Partitions = nil
		for _, p := range t.Partitions {
			cp := *p
			cp.Replicas = append([]int32(nil), p.Replicas...)
			cp.ISR = append([]int32(nil), p.ISR...)
			ct.Partitions = append(ct.Partitions, &cp)
		}
		s.Topics[name] = ct
	}
	return s
}
