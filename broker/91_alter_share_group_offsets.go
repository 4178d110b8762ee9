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
	if resp.ErrorCode, resp.ErrorMessage = b.emptyShareGroup(r.GroupID, true); resp.ErrorCode != 0 {
		return resp
	}
	for _, rt := range r.Topics {
		st := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		st.Topic = rt.Topic
		only, starts := make([]int32, len(rt.Partitions)), make([]int64, len(rt.Partitions))
		for i, p := range rt.Partitions {
			only[i], starts[i] = p.Partition, p.StartOffset
		}
		parts, ok := b.applyShareOffsets(r.GroupID, rt.Topic, only, starts)
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

// emptyShareGroup is what altering or deleting a share group's offsets
// checks first: this broker coordinates id, and id is a share group without
// members (created when create is set). It returns the error code and
// message for the response, 0 when the change may go ahead.
func (b *Broker) emptyShareGroup(id string, create bool) (int16, *string) {
	if code := b.notCoordinator(id); code != 0 {
		return code, nil
	}
	if b.classicGroupExists(id) {
		return kerr.GroupIDNotFound.Code, strp("group " + id + " is not a share group")
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
		return kerr.GroupIDNotFound.Code, strp("share group " + id + " not found")
	case len(g.members) > 0:
		return kerr.NonEmptyGroup.Code, strp("share group " + id + " has members")
	}
	return 0, nil
}

// applyShareOffsets sets the group's share-partition start offset of the
// topic's partition only[i] to starts[i], at the partitions' leaders; with
// both nil it deletes the group's state on every partition of the topic.
// It notes whether the group has state on the topic: yes after a write, no
// after a delete that every partition took. The parts carry each
// partition's outcome, in the order of only; ok is false for an unknown
// topic.
func (b *Broker) applyShareOffsets(group, topic string, only []int32, starts []int64) (parts []shareStatePart, ok bool) {
	write := starts != nil
	op := int8(shareStateDelete)
	if write {
		op = shareStateWrite
	}
	if parts, ok = b.sharePartsOf(topic, only); !ok {
		return nil, false
	}
	for i := range starts {
		parts[i].start = starts[i]
	}
	b.shareState(group, op, parts)
	for _, p := range parts {
		if p.code != 0 && !write {
			return parts, true // the topic keeps state where the delete failed
		}
	}
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[group]; g != nil {
		if write {
			g.stateTopics[topic] = true
		} else {
			delete(g.stateTopics, topic)
		}
	}
	return parts, true
}
