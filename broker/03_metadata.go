package broker

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata v0-v12. v1 adds controller id and null-means-all topics (v0:
// empty means all); v2 cluster id; v4 allow_auto_topic_creation; v7 leader
// epoch; v8 authorized operations (we report none: -2147483648); v9 is
// flexible; v10 topic ids (KIP-516: consumer-group assignments name topics
// by id); v11 drops cluster authorized operations; v12 looks topics up by id
// when the name is null (UNKNOWN_TOPIC_ID if none has it).

func (b *Broker) handleMetadata(r *kmsg.MetadataRequest) reply {
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	img := b.image.Load()
	if b.clustered() && img != nil {
		for _, ib := range img.brokers {
			br := kmsg.NewMetadataResponseBroker()
			br.NodeID, br.Host, br.Port = ib.id, ib.host, ib.port
			resp.Brokers = append(resp.Brokers, br)
		}
		resp.ControllerID = img.controllerID
	} else {
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID = b.cfg.NodeID
		br.Host = b.advHost
		br.Port = b.advPort
		resp.Brokers = append(resp.Brokers, br)
		resp.ControllerID = b.cfg.NodeID
	}
	cid := b.cfg.ClusterID
	resp.ClusterID = &cid

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	autoCreate := b.cfg.AutoCreateTopics && (r.Version < 4 || r.AllowAutoTopicCreation)
	if all {
		for _, t := range b.topics.snapshot() {
			resp.Topics = append(resp.Topics, b.topicMetadata(t, img))
		}
		return reply{msg: resp}
	}
	var missing []string
	for _, rt := range r.Topics {
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		} else if rt.TopicID != ([16]byte{}) {
			// v12: a topic asked for by id alone.
			if t := b.topicByID(rt.TopicID); t != nil {
				resp.Topics = append(resp.Topics, b.topicMetadata(t, img))
			} else {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID, mt.ErrorCode = rt.TopicID, kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, mt)
			}
			continue
		}
		if t := b.topics.get(name); t != nil {
			resp.Topics = append(resp.Topics, b.topicMetadata(t, img))
			continue
		}
		if autoCreate && b.clustered() {
			missing = append(missing, name)
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &name
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if autoCreate {
			t, err := b.topics.create(name, b.cfg.DefaultPartitions, nil, false)
			switch {
			case errors.Is(err, errTopicExists):
				t = b.topics.get(name)
			case err != nil:
				mt.ErrorCode = kerr.InvalidTopicException.Code
			default:
				b.cfg.Logf("auto-created topic %s with %d partitions", name, b.cfg.DefaultPartitions)
			}
			if t != nil {
				resp.Topics = append(resp.Topics, b.topicMetadata(t, img))
				continue
			}
		}
		resp.Topics = append(resp.Topics, mt)
	}
	if len(missing) == 0 {
		return reply{msg: resp}
	}
	// Cluster: auto-creation goes through the controller; answer
	// LEADER_NOT_AVAILABLE (retriable) for what it is still creating.
	return reply{later: func() reply {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10000
		for _, name := range missing {
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = name, b.cfg.DefaultPartitions, -1
			req.Topics = append(req.Topics, t)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cr, err := b.link.ctrl.Request(ctx, req)
		img := b.image.Load()
		for i, name := range missing {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = strp(name)
			mt.ErrorCode = kerr.LeaderNotAvailable.Code
			if err == nil {
				if code := cr.(*kmsg.CreateTopicsResponse).Topics[i].ErrorCode; code != 0 && code != kerr.TopicAlreadyExists.Code {
					mt.ErrorCode = code
				}
			}
			if t := b.topics.get(name); t != nil && mt.ErrorCode == kerr.LeaderNotAvailable.Code {
				mt = b.topicMetadata(t, img)
			}
			resp.Topics = append(resp.Topics, mt)
		}
		return reply{msg: resp}
	}}
}

func (b *Broker) topicMetadata(t *topic, img *clusterImage) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic = &name
	mt.TopicID = t.id
	mt.IsInternal = isInternalTopic(t.name)
	if b.clustered() && img != nil && img.topics[t.name] != nil {
		for i, ip := range img.topics[t.name].partitions {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = int32(i)
			mp.Leader, mp.LeaderEpoch = ip.leader, ip.leaderEpoch
			mp.Replicas, mp.ISR, mp.OfflineReplicas = ip.replicas, ip.isr, ip.offline
			if ip.leader < 0 {
				mp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			mt.Partitions = append(mt.Partitions, mp)
		}
		return mt
	}
	for _, p := range t.partitions {
		if p == nil {
			continue
		}
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

// topicByID finds a topic by its id (Metadata v12, share assignments); nil
// if there is none.
func (b *Broker) topicByID(id [16]byte) *topic {
	for _, t := range b.topics.snapshot() {
		if t.id == id {
			return t
		}
	}
	return nil
}
