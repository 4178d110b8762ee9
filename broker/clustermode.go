package broker

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/controller"
	"github.com/kbench/kbench/broker/wire"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Cluster mode: with Config.Controller set, the broker registers with the
// controller (BrokerRegistration), heartbeats (BrokerHeartbeat), forwards
// clients' topic administration to it, and applies the topic configs
// (AlterConfigs) and partition state (UpdateMetadata) the controller pushes:
// it opens the partitions it replicates, leads those it was elected for and
// follows the others (fetcher.go).

// clusterImage is the latest partition state pushed by the controller.
type clusterImage struct {
	controllerID int32
	brokers      []imageBroker // live brokers, by id
	topics       map[string]*imageTopic
}

type imageBroker struct {
	id   int32
	host string
	port int32
	addr string // host:port, made once per image (replica fetchers ask for it every round)
}

type imageTopic struct {
	id         [16]byte
	partitions []imagePartition
}

type imagePartition struct {
	leader, leaderEpoch, partitionEpoch int32
	replicas, isr, offline              []int32
}

func (img *clusterImage) brokerAddr(id int32) (string, bool) {
	for _, b := range img.brokers {
		if b.id == id {
			return b.addr, true
		}
	}
	return "", false
}

// clusterLink is the broker's side of the controller relationship.
type clusterLink struct {
	// hb carries registration and heartbeats on a connection of their own,
	// so a slow forwarded admin request (CreateTopics waits for brokers to
	// apply it) never delays a heartbeat past the session timeout.
	hb *wire.Client
	// ctrl carries forwarded admin requests and AlterPartition.
	ctrl *wire.Client

	mu          sync.Mutex
	brokerEpoch int64
	configs     map[string]map[string]string // pushed topic configs, by topic
}

func (b *Broker) clustered() bool { return b.cfg.Controller != "" }

// register announces this broker to the controller, retrying until ctx ends.
func (b *Broker) register(ctx context.Context) error {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 0
	req.BrokerID = b.cfg.NodeID
	req.ClusterID = b.cfg.ClusterID
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", b.advHost, uint16(b.advPort)
	req.Listeners = append(req.Listeners, l)
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := b.link.hb.Request(rctx, req)
		cancel()
		if err == nil {
			r := resp.(*kmsg.BrokerRegistrationResponse)
			if r.ErrorCode == 0 {
				b.link.mu.Lock()
				b.link.brokerEpoch = max(b.link.brokerEpoch, r.BrokerEpoch)
				b.link.mu.Unlock()
				b.cfg.Logf("registered with controller %s, broker epoch %d", b.cfg.Controller, r.BrokerEpoch)
				return nil
			}
			err = kerr.ErrorForCode(r.ErrorCode)
		}
		b.cfg.Logf("register with controller %s: %v", b.cfg.Controller, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("register with controller %s: %w", b.cfg.Controller, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (b *Broker) brokerEpoch() int64 {
	b.link.mu.Lock()
	defer b.link.mu.Unlock()
	return b.link.brokerEpoch
}

// heartbeats keeps the registration alive. A STALE_BROKER_EPOCH answer means
// the controller fenced us: stop leading everything and register again.
func (b *Broker) heartbeats() {
	defer b.wg.Done()
	t := time.NewTicker(b.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		req := kmsg.NewPtrBrokerHeartbeatRequest()
		req.Version = 0
		req.BrokerID = b.cfg.NodeID
		req.BrokerEpoch = b.brokerEpoch()
		req.CurrentMetadataOffset = -1
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := b.link.hb.Request(ctx, req)
		cancel()
		if err != nil {
			b.cfg.Logf("heartbeat: %v", err)
			continue
		}
		if r := resp.(*kmsg.BrokerHeartbeatResponse); r.ErrorCode == kerr.StaleBrokerEpoch.Code || r.IsFenced {
			b.cfg.Logf("fenced by the controller: giving up leadership and registering again")
			b.fenceSelf()
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-b.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			b.register(ctx)
			cancel()
		}
	}
}

// controlledShutdown asks the controller to move this broker's leadership
// away before it stops (BrokerHeartbeat with WantShutdown).
func (b *Broker) controlledShutdown() {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID = b.cfg.NodeID
	req.BrokerEpoch = b.brokerEpoch()
	req.CurrentMetadataOffset = -1
	req.WantShutdown = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := b.link.hb.Request(ctx, req); err != nil {
		b.cfg.Logf("controlled shutdown: %v", err)
	}
}

// SetReplicationDelay adds d before each replication fetch this broker makes
// as a follower (a fault for benchmarks; 0 clears it).
func (b *Broker) SetReplicationDelay(d time.Duration) { b.fetchers.delay.Store(int64(d)) }

// SetReplicationBandwidth caps this broker's replication fetches at bps
// bytes per second (0: no cap).
func (b *Broker) SetReplicationBandwidth(bps int64) { b.fetchers.bandwidth.Store(bps) }

// SetDropProduce makes the broker drop that fraction of produce responses
// after appending, closing the connection as a network failure would; the
// clients retry (duplicates unless they are idempotent).
func (b *Broker) SetDropProduce(fraction float64) { b.dropProduce.Store(math.Float64bits(fraction)) }

// fenceSelf stops leading and following until the controller's next push.
func (b *Broker) fenceSelf() {
	for _, t := range b.topics.snapshot() {
		for _, p := range t.partitions {
			if p != nil {
				p.stepDown()
			}
		}
	}
	b.fetchers.stopAll()
}

// fromController reports whether a request came from the controller.
func fromController(h *reqHeader) bool { return h.clientID == controller.ClientID }

// applyConfigs stores configs pushed by the controller (full sets per topic).
func (b *Broker) applyConfigs(r *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	b.link.mu.Lock()
	for _, rr := range r.Resources {
		cfg := map[string]string{}
		for _, c := range rr.Configs {
			if c.Value != nil {
				cfg[c.Name] = *c.Value
			}
		}
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		resp.Resources = append(resp.Resources, sr)
		if rr.ResourceType == kmsg.ConfigResourceTypeGroupConfig {
			if err := b.setGroupConfigs(rr.ResourceName, cfg); err != nil {
				b.cfg.Logf("apply configs of group %s: %v", rr.ResourceName, err)
			}
			continue
		}
		b.link.configs[rr.ResourceName] = cfg
	}
	b.link.mu.Unlock()
	for _, rr := range r.Resources {
		if rr.ResourceType != kmsg.ConfigResourceTypeGroupConfig && b.topics.get(rr.ResourceName) != nil {
			b.link.mu.Lock()
			cfg := b.link.configs[rr.ResourceName]
			b.link.mu.Unlock()
			if err := b.topics.setConfigs(rr.ResourceName, cfg, false); err != nil {
				b.cfg.Logf("apply configs of %s: %v", rr.ResourceName, err)
			}
		}
	}
	return resp
}

// applyMetadata applies the controller's partition state: open what we
// replicate, take or give up leadership, follow the right leaders, and drop
// topics that no longer exist.
func (b *Broker) applyMetadata(r *kmsg.UpdateMetadataRequest) *kmsg.UpdateMetadataResponse {
	resp := r.ResponseKind().(*kmsg.UpdateMetadataResponse)
	// A push for a newer epoch than ours can only follow our own
	// registration, whose answer may still be on its way: accept it.
	b.link.mu.Lock()
	stale := r.BrokerEpoch < b.link.brokerEpoch
	if !stale {
		b.link.brokerEpoch = r.BrokerEpoch
	}
	b.link.mu.Unlock()
	if stale {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	img := &clusterImage{controllerID: r.ControllerID, topics: map[string]*imageTopic{}}
	for _, lb := range r.LiveBrokers {
		if len(lb.Endpoints) > 0 {
			host, port := lb.Endpoints[0].Host, lb.Endpoints[0].Port
			img.brokers = append(img.brokers, imageBroker{id: lb.ID, host: host, port: port, addr: net.JoinHostPort(host, strconv.Itoa(int(port)))})
		}
	}
	slices.SortFunc(img.brokers, func(a, c imageBroker) int { return int(a.id - c.id) })
	for _, ts := range r.TopicStates {
		it := &imageTopic{id: ts.TopicID, partitions: make([]imagePartition, len(ts.PartitionStates))}
		for _, ps := range ts.PartitionStates {
			if ps.Partition < 0 || int(ps.Partition) >= len(it.partitions) {
				resp.ErrorCode = kerr.InvalidRequest.Code
				return resp
			}
			it.partitions[ps.Partition] = imagePartition{leader: ps.Leader, leaderEpoch: ps.LeaderEpoch, partitionEpoch: ps.ZKVersion,
				replicas: ps.Replicas, isr: ps.ISR, offline: ps.OfflineReplicas}
		}
		img.topics[ts.Topic] = it
	}
	b.image.Store(img)

	self := b.cfg.NodeID
	b.link.mu.Lock()
	configs := make(map[string]map[string]string, len(b.link.configs))
	for k, v := range b.link.configs {
		configs[k] = v
	}
	b.link.mu.Unlock()
	for name, it := range img.topics {
		t, err := b.topics.ensureClustered(name, it, configs[name], self)
		if err != nil {
			b.cfg.Logf("apply metadata for %s: %v", name, err)
			resp.ErrorCode = kerr.KafkaStorageError.Code
			continue
		}
		for i, ip := range it.partitions {
			p := t.partitions[i]
			if p == nil {
				continue
			}
			leader, isLeader := p.leaderState()
			epoch := p.epoch.Load()
			switch {
			case ip.leader == self && (!isLeader || epoch != ip.leaderEpoch):
				b.fetchers.remove(p)
				if err := p.becomeLeader(self, ip.leaderEpoch, ip.partitionEpoch, ip.replicas, ip.isr); err != nil {
					b.cfg.Logf("%s-%d: record leader epoch %d: %v", name, i, ip.leaderEpoch, err)
				}
				b.cfg.Logf("%s-%d: leader at epoch %d, ISR %v", name, i, ip.leaderEpoch, ip.isr)
			case ip.leader == self:
				p.setISR(ip.partitionEpoch, ip.isr)
			case isLeader || leader != ip.leader || epoch != ip.leaderEpoch:
				p.becomeFollower(self, ip.leader, ip.leaderEpoch, ip.partitionEpoch, ip.replicas, ip.isr)
				b.fetchers.remove(p)
				if ip.leader >= 0 {
					b.fetchers.add(ip.leader, p)
				}
				b.cfg.Logf("%s-%d: following %d at epoch %d", name, i, ip.leader, ip.leaderEpoch)
			default:
				p.setISR(ip.partitionEpoch, ip.isr)
			}
		}
	}
	b.syncCoordinators()
	for _, t := range b.topics.snapshot() {
		if img.topics[t.name] == nil {
			for _, p := range t.partitions {
				if p != nil {
					b.fetchers.remove(p)
				}
			}
			b.topics.delete(t.name)
			b.cfg.Logf("deleted topic %s", t.name)
		}
	}
	return resp
}

// ensureClustered makes the local topic match the controller's: partitions
// this broker replicates are opened (recovering their logs), others are nil.
func (ts *topics) ensureClustered(name string, it *imageTopic, configs map[string]string, self int32) (*topic, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.m[name]
	if t != nil && t.id != it.id {
		// Deleted and re-created under the same name: start over.
		ts.mu.Unlock()
		ts.delete(name)
		ts.mu.Lock()
		t = nil
	}
	if t == nil {
		if configs == nil {
			configs = map[string]string{}
		}
		t = &topic{name: name, id: it.id, configs: configs, settings: resolveTopicSettings(ts.cfg, configs)}
		if t.id == ([16]byte{}) {
			return nil, fmt.Errorf("topic %s has no id", name)
		}
		// A fresh topic must not reuse an old incarnation's data.
		if err := ts.dropStaleDirs(t); err != nil {
			return nil, err
		}
	}
	parts := slices.Clone(t.partitions)
	for len(parts) < len(it.partitions) {
		parts = append(parts, nil)
	}
	for i, ip := range it.partitions {
		mine := slices.Contains(ip.replicas, self)
		switch {
		case mine && parts[i] == nil:
			p, err := ts.openPartition(t, int32(i))
			if err != nil {
				return nil, err
			}
			p.rs.self = self
			p.rs.leader = -1
			parts[i] = p
		case !mine && parts[i] != nil:
			parts[i].wake()
			parts[i].log.Delete()
			parts[i] = nil
		}
	}
	nt := *t
	nt.partitions = parts
	ts.m[name] = &nt
	return &nt, nil
}

// dropStaleDirs removes partition directories of this topic name that belong
// to another incarnation (a topic id file records which). Caller holds mu.
func (ts *topics) dropStaleDirs(t *topic) error {
	idPath := partitionDir(ts.cfg.DataDir, t.name, 0) + ".topic-id"
	want := fmt.Sprintf("%x", t.id)
	if raw, err := os.ReadFile(idPath); err == nil && string(raw) == want {
		return nil
	}
	for i := 0; ; i++ {
		dir := partitionDir(ts.cfg.DataDir, t.name, int32(i))
		if _, err := os.Stat(dir); err != nil {
			break
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return atomicfile.Write(idPath, []byte(want), true)
}

// forward sends a client's admin request to the controller and returns its
// answer; errors become the request's own error shape.
func (b *Broker) forward(req kmsg.Request) reply {
	return reply{later: func() reply {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := b.link.ctrl.Request(ctx, req)
		if err == nil {
			resp.SetVersion(req.GetVersion())
			return reply{msg: resp}
		}
		b.cfg.Logf("forward key %d to controller: %v", req.Key(), err)
		return reply{msg: forwardError(req)}
	}}
}

// forwardError answers a forwarded request whose controller could not be
// reached with a retriable error for every resource.
func forwardError(req kmsg.Request) kmsg.Response {
	code := kerr.RequestTimedOut.Code
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		resp.Topics = answerEach(r.Topics, func(t kmsg.CreateTopicsRequestTopic, st *kmsg.CreateTopicsResponseTopic) {
			st.Topic, st.ErrorCode = t.Topic, code
		})
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		resp.Topics = answerEach(r.TopicNames, func(n string, st *kmsg.DeleteTopicsResponseTopic) { st.Topic, st.ErrorCode = strp(n), code })
		return resp
	case *kmsg.CreatePartitionsRequest:
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		resp.Topics = answerEach(r.Topics, func(t kmsg.CreatePartitionsRequestTopic, st *kmsg.CreatePartitionsResponseTopic) {
			st.Topic, st.ErrorCode = t.Topic, code
		})
		return resp
	case *kmsg.AlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		resp.Resources = answerEach(r.Resources, func(rr kmsg.AlterConfigsRequestResource, sr *kmsg.AlterConfigsResponseResource) {
			sr.ResourceType, sr.ResourceName, sr.ErrorCode = rr.ResourceType, rr.ResourceName, code
		})
		return resp
	case *kmsg.IncrementalAlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		resp.Resources = answerEach(r.Resources, func(rr kmsg.IncrementalAlterConfigsRequestResource, sr *kmsg.IncrementalAlterConfigsResponseResource) {
			sr.ResourceType, sr.ResourceName, sr.ErrorCode = rr.ResourceType, rr.ResourceName, code
		})
		return resp
	}
	panic(fmt.Sprintf("broker: forwardError for key %d", req.Key()))
}

// alterISR proposes a new ISR to the controller and applies its answer.
func (b *Broker) alterISR(p *partition, isr []int32, epochs [2]int32) {
	go func() {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.Version = 1
		req.BrokerID = b.cfg.NodeID
		req.BrokerEpoch = b.brokerEpoch()
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.Topic = p.topic
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = p.index, epochs[0], epochs[1], isr
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := b.link.ctrl.Request(ctx, req)
		if err != nil {
			b.cfg.Logf("alter partition %s-%d: %v", p.topic, p.index, err)
			p.alterDone(kerr.RequestTimedOut.Code, 0, 0, nil)
			return
		}
		r := resp.(*kmsg.AlterPartitionResponse)
		if r.ErrorCode != 0 || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			p.alterDone(kerr.UnknownServerError.Code, 0, 0, nil)
			return
		}
		sp := r.Topics[0].Partitions[0]
		if sp.ErrorCode == 0 {
			b.cfg.Logf("%s-%d: ISR now %v", p.topic, p.index, sp.ISR)
		}
		p.alterDone(sp.ErrorCode, sp.LeaderEpoch, sp.PartitionEpoch, sp.ISR)
	}()
}

// shrinkISRs drops followers that have not caught up within
// replica.lag.time.max.ms from the ISRs this broker leads.
func (b *Broker) shrinkISRs(now time.Time) {
	for _, t := range b.topics.snapshot() {
		for _, p := range t.partitions {
			if p == nil {
				continue
			}
			if isr, epochs := p.laggingISR(now, b.cfg.ReplicaLagTimeMax); isr != nil {
				b.cfg.Logf("%s-%d: shrinking ISR to %v (followers lagged more than %s)", p.topic, p.index, isr, b.cfg.ReplicaLagTimeMax)
				b.alterISR(p, isr, epochs)
			}
		}
	}
}
