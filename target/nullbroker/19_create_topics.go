package nullbroker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics v0-5; v1 added ValidateOnly and error messages, v4 allowed -1
// (broker default) partitions and replication factor, v5 made it flexible
// and returns the created topic's shape. A single broker can only hold one
// replica, and topic configs are accepted and ignored (nothing is stored).

func (b *Broker) createTopics(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		parts := rt.NumPartitions
		if len(rt.ReplicaAssignment) > 0 {
			parts = int32(len(rt.ReplicaAssignment))
		}
		if parts == -1 {
			parts = b.cfg.partitions
		}
		b.mu.Lock()
		_, exists := b.topics[rt.Topic]
		switch {
		case rt.Topic == "":
			st.ErrorCode = kerr.InvalidTopicException.Code
		case exists:
			st.ErrorCode = kerr.TopicAlreadyExists.Code
		case parts < 1:
			st.ErrorCode = kerr.InvalidPartitions.Code
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 && len(rt.ReplicaAssignment) == 0:
			st.ErrorCode = kerr.InvalidReplicationFactor.Code
			st.ErrorMessage = kmsg.StringPtr("the null broker is a single broker: replication factor 1 only")
		case !req.ValidateOnly:
			b.topics[rt.Topic] = b.newTopic(rt.Topic, parts)
		}
		b.mu.Unlock()
		if st.ErrorCode == 0 {
			st.NumPartitions, st.ReplicationFactor = parts, 1
		} else {
			st.NumPartitions, st.ReplicationFactor = -1, -1
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
