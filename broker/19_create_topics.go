package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics v0-v5. v1 adds validate_only and error messages; v4 lets
// num_partitions/replication_factor be -1 (broker default); v5 is flexible and
// returns the created topic's partitions, replication factor and configs.

func (b *Broker) handleCreateTopics(r *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		parts := rt.NumPartitions
		if parts == -1 {
			parts = b.cfg.DefaultPartitions
		}
		configs := make(map[string]string, len(rt.Configs))
		for _, c := range rt.Configs {
			if c.Value == nil {
				continue
			}
			configs[c.Name] = *c.Value
		}
		var err error
		switch {
		case len(rt.ReplicaAssignment) > 0:
			err = fmt.Errorf("%w: manual replica assignment is not supported; use num_partitions and replication_factor", errInvalidAssignment)
		case rt.ReplicationFactor != -1 && (rt.ReplicationFactor < 1 || rt.ReplicationFactor > 1):
			err = fmt.Errorf("%w: %d, this broker has 1 node (valid: 1 or -1)", errInvalidReplication, rt.ReplicationFactor)
		default:
			var t *topic
			t, err = b.topics.create(rt.Topic, parts, configs, r.ValidateOnly)
			if err == nil && t != nil {
				st.TopicID = t.id
			}
		}
		st.ErrorCode = errorCode(err)
		st.ErrorMessage = errMessage(err)
		if err == nil {
			st.NumPartitions = parts
			st.ReplicationFactor = 1
			for _, d := range describeTopicConfigs(&b.cfg, configs) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name = d.name
				c.Value = strp(d.value)
				c.Source = int8(kmsg.ConfigSourceDefaultConfig)
				if !d.isDefault {
					c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
				}
				st.Configs = append(st.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
