package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/wire"
)

// WriteTxnMarkers v0-v1 (v1 flexible): the transaction coordinator asks a
// partition leader to append commit/abort markers. In a cluster the
// coordinator writes its own partitions' markers directly and sends this
// request to the leaders of the others. A marker is acknowledged only once
// replicated (acks=all); the coordinator retries until every one is.

func (b *Broker) handleWriteTxnMarkers(r *kmsg.WriteTxnMarkersRequest) *kmsg.WriteTxnMarkersResponse {
	resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range r.Markers {
		sm := kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = m.ProducerID
		for _, mt := range m.Topics {
			st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = mt.Topic
			for _, i := range mt.Partitions {
				sp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition = i
				p, code := b.leaderPartition(mt.Topic, i)
				if code == 0 {
					code = b.markPartition(p, m.ProducerID, m.ProducerEpoch, m.Committed)
				}
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			sm.Topics = append(sm.Topics, st)
		}
		resp.Markers = append(resp.Markers, sm)
	}
	return resp
}

// markPartition writes one transaction marker to a partition this broker
// leads and waits until it is replicated. The "marker" of a
// __consumer_offsets partition settles the offsets the producer staged for
// that partition's groups.
func (b *Broker) markPartition(p *partition, pid int64, epoch int16, commit bool) int16 {
	t := b.topics.get(p.topic)
	if t == nil {
		return kerr.UnknownTopicOrPartition.Code
	}
	if p.topic == offsetsTopic {
		// Not coordinatorStatus: the transaction coordinator may hold its
		// lock here, which starting a load or an unload would take again.
		if code := b.loadedStatus(offsetsTopic, p.index); code != 0 {
			return code
		}
		return b.groups.completeTxn(pid, commit, p.index, len(t.partitions))
	}
	wait, code := p.writeMarker(pid, epoch, commit, t.settings.minInsync)
	if code != 0 {
		return code
	}
	return wait()
}

// partitionExists reports whether topic has partition index, whether or not
// this broker hosts it.
func (b *Broker) partitionExists(topic string, index int32) bool {
	t := b.topics.get(topic)
	return t != nil && index >= 0 && int(index) < len(t.partitions)
}

// markerClients caches connections to other brokers for marker writes.
type markerClients struct {
	mu sync.Mutex
	m  map[string]*wire.Client
}

func (mc *markerClients) get(addr string, self int32) *wire.Client {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = map[string]*wire.Client{}
	}
	c := mc.m[addr]
	if c == nil {
		c = &wire.Client{Addr: addr, ClientID: fmt.Sprintf("kbench-broker-%d", self)}
		mc.m[addr] = c
	}
	return c
}

// writeMarkers appends a transaction's markers to every partition in it:
// directly where this broker leads, through WriteTxnMarkers elsewhere, each
// acknowledged only once replicated. It retries failures (leadership moving,
// replicas missing) for up to 15 s; the caller retries after that.
func (b *Broker) writeMarkers(pid int64, epoch int16, commit bool, parts map[string][]int32) error {
	pending := map[string][]int32{}
	for t, ps := range parts {
		pending[t] = append([]int32(nil), ps...)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		remote := map[int32]map[string][]int32{} // leader -> topic -> partitions
		next := map[string][]int32{}
		var lastErr error
		for t, ps := range pending {
			for _, i := range ps {
				if !b.partitionExists(t, i) {
					continue // deleted: nothing to mark
				}
				if p, code := b.leaderPartition(t, i); code == 0 {
					if code = b.markPartition(p, pid, epoch, commit); code == 0 {
						continue
					}
					lastErr = fmt.Errorf("marker to %s-%d: %w", t, i, kerr.ErrorForCode(code))
					next[t] = append(next[t], i)
					continue
				}
				leader := int32(-1)
				if img := b.image.Load(); img != nil && img.topics[t] != nil && int(i) < len(img.topics[t].partitions) {
					leader = img.topics[t].partitions[i].leader
				}
				if leader < 0 || leader == b.cfg.NodeID {
					lastErr = fmt.Errorf("%s-%d has no leader", t, i)
					leader = -1
				}
				if remote[leader] == nil {
					remote[leader] = map[string][]int32{}
				}
				remote[leader][t] = append(remote[leader][t], i)
			}
		}
		for leader, tps := range remote {
			if leader < 0 {
				for t, ps := range tps {
					next[t] = append(next[t], ps...)
				}
				continue
			}
			if err := b.sendMarkers(leader, pid, epoch, commit, tps, next); err != nil {
				lastErr = err
			}
		}
		if len(next) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("markers not written to %v: %w", next, lastErr)
		}
		pending = next
		time.Sleep(100 * time.Millisecond)
	}
}

// sendMarkers sends one WriteTxnMarkers to leader; partitions that failed
// are added to retry.
func (b *Broker) sendMarkers(leader int32, pid int64, epoch int16, commit bool, tps map[string][]int32, retry map[string][]int32) error {
	fail := func(err error) error {
		for t, ps := range tps {
			retry[t] = append(retry[t], ps...)
		}
		return err
	}
	img := b.image.Load()
	if img == nil {
		return fail(fmt.Errorf("no cluster metadata"))
	}
	addr, ok := img.brokerAddr(leader)
	if !ok {
		return fail(fmt.Errorf("broker %d is not live", leader))
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, commit
	for t, ps := range tps {
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = t, ps
		m.Topics = append(m.Topics, mt)
	}
	req.Markers = append(req.Markers, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := b.markers.get(addr, b.cfg.NodeID).Request(ctx, req)
	if err != nil {
		return fail(err)
	}
	var lastErr error
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					retry[rt.Topic] = append(retry[rt.Topic], rp.Partition)
					lastErr = kerr.ErrorForCode(rp.ErrorCode)
				}
			}
		}
	}
	return lastErr
}
