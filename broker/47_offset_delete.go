package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete v0 (KIP-496): removes committed offsets of partitions the
// group no longer consumes. A consumer group refuses topics its members
// subscribe to (GROUP_SUBSCRIBED_TO_TOPIC); a non-consumer group must be
// Empty (NON_EMPTY_GROUP).

func (b *Broker) handleOffsetDelete(r *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if resp.ErrorCode = b.notCoordinator(r.Group); resp.ErrorCode != 0 {
		return resp
	}
	code, codes := b.groups.deleteOffsets(r, time.Now())
	resp.ErrorCode = code
	if code != 0 {
		return resp
	}
	resp.Topics = answerEach(r.Topics, func(t kmsg.OffsetDeleteRequestTopic, st *kmsg.OffsetDeleteResponseTopic) {
		st.Topic = t.Topic
		st.Partitions = answerEach(t.Partitions, func(p kmsg.OffsetDeleteRequestTopicPartition, sp *kmsg.OffsetDeleteResponseTopicPartition) {
			sp.Partition, sp.ErrorCode = p.Partition, codes[topicPartition{t.Topic, p.Partition}]
		})
	})
	return resp
}

func (c *groupCoordinator) deleteOffsets(r *kmsg.OffsetDeleteRequest, now time.Time) (int16, map[topicPartition]int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Group == "" {
		return kerr.InvalidGroupID.Code, nil
	}
	g := c.group(r.Group, now)
	switch {
	case g == nil:
		return kerr.GroupIDNotFound.Code, nil
	case g.state != groupEmpty && g.protocolType != "consumer":
		return kerr.NonEmptyGroup.Code, nil
	}
	codes := map[topicPartition]int16{}
	var del []topicPartition
	for _, t := range r.Topics {
		// Without readable subscriptions, assume every topic is in use.
		inUse := g.state != groupEmpty && (g.subscribed == nil || g.subscribed[t.Topic])
		for _, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			switch _, exists := c.topicID(t.Topic, p.Partition); {
			case inUse:
				codes[tp] = kerr.GroupSubscribedToTopic.Code
			case !exists:
				codes[tp] = kerr.UnknownTopicOrPartition.Code
			default:
				del = append(del, tp)
			}
		}
	}
	wait, code := c.offsets.deleteOffsets(r.Group, del, time.Now().UnixMilli())
	if code == 0 {
		code = wait() // an admin request: waiting under the lock keeps it simple
	}
	if code != 0 {
		for _, tp := range del {
			codes[tp] = code
		}
	}
	return 0, codes
}
