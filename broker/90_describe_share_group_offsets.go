package broker

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeShareGroupOffsets v0-v1 (flexible; v1 adds Lag, reported as -1:
// unknown). Per partition the share-partition start offset, read from the
// partition's leader (share_state.go); -1 where the group has no state.
// Null topics mean every topic the group has state on.

func (b *Broker) handleDescribeShareGroupOffsets(r *kmsg.DescribeShareGroupOffsetsRequest) *kmsg.DescribeShareGroupOffsetsResponse {
	resp := r.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
	for _, rg := range r.Groups {
		g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
		g.GroupID = rg.GroupID
		if g.ErrorCode = b.notCoordinator(rg.GroupID); g.ErrorCode == 0 {
			b.describeShareOffsets(rg, &g)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}

func (b *Broker) describeShareOffsets(rg kmsg.DescribeShareGroupOffsetsRequestGroup, g *kmsg.DescribeShareGroupOffsetsResponseGroup) {
	topics := rg.Topics
	if topics == nil {
		s := &b.share
		s.mu.Lock()
		sg := s.groups[rg.GroupID]
		if sg == nil {
			s.mu.Unlock()
			g.ErrorCode, g.ErrorMessage = kerr.GroupIDNotFound.Code, strp("share group "+rg.GroupID+" not found")
			return
		}
		for t := range sg.stateTopics {
			topics = append(topics, kmsg.DescribeShareGroupOffsetsRequestGroupTopic{Topic: t})
		}
		s.mu.Unlock()
		slices.SortFunc(topics, func(a, c kmsg.DescribeShareGroupOffsetsRequestGroupTopic) int {
			return strings.Compare(a.Topic, c.Topic)
		})
	}
	for _, rt := range topics {
		st := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
		st.Topic = rt.Topic
		only := rt.Partitions
		if rg.Topics == nil {
			only = nil // every partition
		}
		parts, ok := b.sharePartsOf(rt.Topic, only)
		if !ok {
			for _, p := range rt.Partitions {
				sp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				sp.Partition, sp.StartOffset, sp.ErrorCode = p, -1, kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			g.Topics = append(g.Topics, st)
			continue
		}
		b.shareState(rg.GroupID, shareStateRead, parts)
		for _, p := range parts {
			st.TopicID = p.id
			sp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
			sp.Partition, sp.StartOffset, sp.LeaderEpoch, sp.ErrorCode = p.partition, p.start, p.epoch, p.code
			st.Partitions = append(st.Partitions, sp)
		}
		g.Topics = append(g.Topics, st)
	}
}
