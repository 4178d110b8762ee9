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
	if resp.ErrorCode = b.notCoordinator(r.GroupID); resp.ErrorCode != 0 {
		return resp
	}
	if code, msg := b.emptyShareGroup(r.GroupID, false); code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, strp(msg)
		return resp
	}
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		st.Topic = rt.Topic
		parts, ok := b.sharePartsOf(rt.Topic, nil)
		if !ok {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		b.shareState(r.GroupID, shareStateDelete, parts)
		for _, p := range parts {
			st.TopicID = p.id
			if p.code != 0 {
				st.ErrorCode = p.code
			}
		}
		if st.ErrorCode == 0 {
			b.noteShareStateTopic(r.GroupID, rt.Topic, false)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
