package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterShareGroupOffsets v0 (flexible). Sets share-partition start offsets
// of an empty share group (NON_EMPTY_GROUP while it has members), creating
// the group if needed; each partition's leader applies it
// (share_state.go). A classic group's name is GROUP_ID_NOT_FOUND.

func (b *Broker) handleAlterShareGroupOffsets(r *kmsg.AlterShareGroupOffsetsRequest) *kmsg.AlterShareGroupOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
	if resp.ErrorCode = b.notCoordinator(r.GroupID); resp.ErrorCode != 0 {
		return resp
	}
	if code, msg := b.emptyShareGroup(r.GroupID, true); code != 0 {
		resp.ErrorCode, resp.ErrorMessage = code, strp(msg)
		return resp
	}
	for _, rt := range r.Topics {
		st := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		st.Topic = rt.Topic
		only := make([]int32, len(rt.Partitions))
		for i, p := range rt.Partitions {
			only[i] = p.Partition
		}
		parts, ok := b.sharePartsOf(rt.Topic, only)
		for i := range parts {
			parts[i].start = rt.Partitions[i].StartOffset
		}
		if ok {
			b.shareState(r.GroupID, shareStateWrite, parts)
			b.noteShareStateTopic(r.GroupID, rt.Topic, true)
		}
		for i, p := range rt.Partitions {
			sp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, kerr.UnknownTopicOrPartition.Code
			if ok {
				st.TopicID, sp.ErrorCode = parts[i].id, parts[i].code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// emptyShareGroup checks that id is a share group without members (creating
// it when create is set).
func (b *Broker) emptyShareGroup(id string, create bool) (int16, string) {
	if b.classicGroupExists(id) {
		return kerr.GroupIDNotFound.Code, "group " + id + " is not a share group"
	}
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	g := s.groups[id]
	switch {
	case g == nil && create:
		s.groups[id] = newShareGroup(id)
	case g == nil:
		return kerr.GroupIDNotFound.Code, "share group " + id + " not found"
	case len(g.members) > 0:
		return kerr.NonEmptyGroup.Code, "share group " + id + " has members"
	}
	return 0, ""
}

// noteShareStateTopic records (or forgets) that the group has state on topic.
func (b *Broker) noteShareStateTopic(id, topic string, has bool) {
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[id]; g != nil {
		if has {
			g.stateTopics[topic] = true
		} else {
			delete(g.stateTopics, topic)
		}
	}
}
