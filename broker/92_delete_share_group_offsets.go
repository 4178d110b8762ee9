package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteShareGroupOffsets v0 (flexible). Drops an empty share group's state
// on whole topics (NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND
// for an unknown group); consuming them again starts from
// share.auto.offset.reset.

func (b *Broker) handleDeleteShareGroupOffsets(r *kmsg.DeleteShareGroupOffsetsRequest) *kmsg.DeleteShareGroupOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteShareGroupOffsetsResponse)
	if resp.ErrorCode, resp.ErrorMessage = b.emptyShareGroup(r.GroupID, false); resp.ErrorCode != 0 {
		return resp
	}
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		st.Topic = rt.Topic
		parts, ok := b.applyShareOffsets(r.GroupID, rt.Topic, nil, nil)
		if !ok {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		for _, p := range parts {
			st.TopicID = p.id
			if p.code != 0 {
				st.ErrorCode = p.code
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
