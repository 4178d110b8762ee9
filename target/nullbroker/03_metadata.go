package nullbroker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata v0-9; v1 made a null topic list mean "all topics" (v0: an empty
// one), v4 added AllowAutoTopicCreation, v9 made it flexible (v10's topic
// ids are not offered). The null broker is the leader of every partition,
// its only replica and ISR, at leader epoch 0.

func (b *Broker) metadata(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = NodeID, b.host, b.port
	resp.Brokers = append(resp.Brokers, br)
	resp.ClusterID = kmsg.StringPtr("nullbroker")
	resp.ControllerID = NodeID

	all := req.Topics == nil || (version == 0 && len(req.Topics) == 0)
	var names []string
	if all {
		b.mu.RLock()
		for name := range b.topics {
			names = append(names, name)
		}
		b.mu.RUnlock()
	} else {
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	create := b.cfg.autoCreate && (version < 4 || req.AllowAutoTopicCreation)
	for _, name := range names {
		b.mu.RLock()
		t := b.topics[name]
		b.mu.RUnlock()
		if t == nil && create {
			t = b.getOrCreate(name, b.cfg.partitions)
		}
		st := kmsg.NewMetadataResponseTopic()
		st.Topic = kmsg.StringPtr(name)
		if t == nil {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		for i := range t.parts {
			sp := kmsg.NewMetadataResponseTopicPartition()
			sp.Partition, sp.Leader, sp.LeaderEpoch = int32(i), NodeID, 0
			sp.Replicas, sp.ISR = []int32{NodeID}, []int32{NodeID}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// getOrCreate returns the topic, creating it with n partitions if needed.
func (b *Broker) getOrCreate(name string, n int32) *topic {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.topics[name]; t != nil {
		return t
	}
	t := b.newTopic(name, n)
	b.topics[name] = t
	return t
}
