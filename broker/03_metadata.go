package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata v0-v9. v1 adds controller id and null-means-all topics (v0: empty
// means all); v2 cluster id; v4 allow_auto_topic_creation; v7 leader epoch;
// v8 authorized operations (we report none: -2147483648); v9 is flexible.

func (b *Broker) handleMetadata(r *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID = b.cfg.NodeID
	br.Host = b.advHost
	br.Port = b.advPort
	resp.Brokers = append(resp.Brokers, br)
	cid := b.cfg.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = b.cfg.NodeID

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	if all {
		for _, t := range b.topics.snapshot() {
			resp.Topics = append(resp.Topics, b.topicMetadata(t))
		}
		return resp
	}
	for _, rt := range r.Topics {
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		}
		t := b.topics.get(name)
		if t == nil && autoCreate {
			var err error
			t, err = b.topics.create(name, b.cfg.DefaultPartitions, nil, false)
			if errors.Is(err, errTopicExists) {
				t = b.topics.get(name)
			} else if err != nil {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = &name
				mt.ErrorCode = kerr.InvalidTopicException.Code
				resp.Topics = append(resp.Topics, mt)
				continue
			} else {
				b.cfg.Logf("auto-created topic %s with %d partitions", name, b.cfg.DefaultPartitions)
			}
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = &name
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.topicMetadata(t))
	}
	return resp
}

func (b *Broker) topicMetadata(t *topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	for _, p := range t.partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = b.cfg.NodeID
		mp.LeaderEpoch = p.epoch.Load()
		mp.Replicas = []int32{b.cfg.NodeID}
		mp.ISR = []int32{b.cfg.NodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
