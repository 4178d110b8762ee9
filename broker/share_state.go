package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share-group offsets admin (DescribeShareGroupOffsets, AlterShareGroupOffsets,
// DeleteShareGroupOffsets) runs on the group coordinator, but a share
// partition's state lives on the partition's leader. The coordinator reaches
// it with Kafka's share-state requests (ReadShareGroupStateSummary,
// WriteShareGroupState, DeleteShareGroupState), which in Kafka go to the
// share coordinator: in kbench each leader is the share coordinator of the
// partitions it leads. A leader answers them for itself without a request.

const (
	shareStateRead int8 = iota
	shareStateWrite
	shareStateDelete
)

// shareStatePart is one partition of a share-state call: its input (start
// for a write) and its outcome.
type shareStatePart struct {
	topic     string
	id        [16]byte
	partition int32
	start     int64 // write: the new SPSO; read: the SPSO, -1 without state
	epoch     int32 // read: the leader epoch
	code      int16
}

// readShareState is ReadShareGroupStateSummary for one partition led here.
func (b *Broker) readShareState(group string, tp shareTP, names map[[16]byte]string) (start int64, epoch int32, code int16) {
	part, code := b.sharePartFor(group, tp, names)
	if code != 0 {
		return -1, -1, code
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.sp.spso, part.p.epoch.Load(), 0
}

// writeShareState sets the SPSO of a partition led here and forgets every
// in-flight record: the group is empty, so nothing is acquired.
func (b *Broker) writeShareState(group string, tp shareTP, start int64, names map[[16]byte]string) int16 {
	if start < 0 {
		return kerr.InvalidRequest.Code
	}
	part, code := b.sharePartFor(group, tp, names)
	if code != 0 {
		return code
	}
	part.mu.Lock()
	defer part.mu.Unlock()
	part.sp = newSharePartition()
	part.sp.start(max(start, part.p.log.StartOffset()))
	return 0
}

// deleteShareState drops a partition's share state; the next fetch starts
// from share.auto.offset.reset again.
func (b *Broker) deleteShareState(group string, tp shareTP, names map[[16]byte]string) int16 {
	if _, code := b.sharePartFor(group, tp, names); code != 0 {
		return code
	}
	s := &b.share
	s.mu.Lock()
	delete(s.parts, sharePartKey{group, tp})
	s.mu.Unlock()
	return 0
}

// partitionLeader is the partition's leader id and address ("" for this
// broker).
func (b *Broker) partitionLeader(topic string, p int32) (int32, string, bool) {
	img := b.image.Load()
	if !b.clustered() || img == nil {
		return b.cfg.NodeID, "", true
	}
	it := img.topics[topic]
	if it == nil || int(p) >= len(it.partitions) || it.partitions[p].leader < 0 {
		return -1, "", false
	}
	leader := it.partitions[p].leader
	if leader == b.cfg.NodeID {
		return leader, "", true
	}
	addr, ok := img.brokerAddr(leader)
	return leader, addr, ok
}

// shareState runs op on every partition of parts at its leader and fills in
// the outcomes.
func (b *Broker) shareState(group string, op int8, parts []shareStatePart) {
	names := b.topicNamesByID()
	remote := map[string][]int{} // leader address → indexes into parts
	for i := range parts {
		sp := &parts[i]
		if sp.code != 0 {
			continue
		}
		_, addr, ok := b.partitionLeader(sp.topic, sp.partition)
		switch {
		case !ok:
			sp.code = kerr.LeaderNotAvailable.Code
		case addr != "":
			remote[addr] = append(remote[addr], i)
		default:
			tp := shareTP{sp.id, sp.partition}
			switch op {
			case shareStateRead:
				sp.start, sp.epoch, sp.code = b.readShareState(group, tp, names)
			case shareStateWrite:
				sp.code = b.writeShareState(group, tp, sp.start, names)
			case shareStateDelete:
				sp.code = b.deleteShareState(group, tp, names)
			}
		}
	}
	for addr, idx := range remote {
		if err := b.sendShareState(addr, group, op, parts, idx); err != nil {
			b.cfg.Logf("share group %s: share state at %s: %v", group, addr, err)
			for _, i := range idx {
				parts[i].code = kerr.CoordinatorNotAvailable.Code
			}
		}
	}
}

// sendShareState sends one share-state request for parts[idx] to addr.
func (b *Broker) sendShareState(addr, group string, op int8, parts []shareStatePart, idx []int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl := b.markers.get(addr, b.cfg.NodeID)
	at := map[shareTP]int{}
	for _, i := range idx {
		at[shareTP{parts[i].id, parts[i].partition}] = i
	}
	switch op {
	case shareStateRead:
		req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		req.GroupID = group
		for _, i := range idx {
			t := kmsg.NewReadShareGroupStateSummaryRequestTopic()
			t.TopicID = parts[i].id
			p := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
			p.Partition, p.LeaderEpoch = parts[i].partition, -1
			t.Partitions = append(t.Partitions, p)
			req.Topics = append(req.Topics, t)
		}
		resp, err := cl.Request(ctx, req)
		if err != nil {
			return err
		}
		for _, t := range resp.(*kmsg.ReadShareGroupStateSummaryResponse).Topics {
			for _, p := range t.Partitions {
				if i, ok := at[shareTP{t.TopicID, p.Partition}]; ok {
					parts[i].start, parts[i].epoch, parts[i].code = p.StartOffset, p.LeaderEpoch, p.ErrorCode
				}
			}
		}
	case shareStateWrite:
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = group
		for _, i := range idx {
			t := kmsg.NewWriteShareGroupStateRequestTopic()
			t.TopicID = parts[i].id
			p := kmsg.NewWriteShareGroupStateRequestTopicPartition()
			p.Partition, p.StartOffset, p.LeaderEpoch = parts[i].partition, parts[i].start, -1
			t.Partitions = append(t.Partitions, p)
			req.Topics = append(req.Topics, t)
		}
		resp, err := cl.Request(ctx, req)
		if err != nil {
			return err
		}
		for _, t := range resp.(*kmsg.WriteShareGroupStateResponse).Topics {
			for _, p := range t.Partitions {
				if i, ok := at[shareTP{t.TopicID, p.Partition}]; ok {
					parts[i].code = p.ErrorCode
				}
			}
		}
	case shareStateDelete:
		req := kmsg.NewPtrDeleteShareGroupStateRequest()
		req.GroupID = group
		for _, i := range idx {
			t := kmsg.NewDeleteShareGroupStateRequestTopic()
			t.TopicID = parts[i].id
			p := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
			p.Partition = parts[i].partition
			t.Partitions = append(t.Partitions, p)
			req.Topics = append(req.Topics, t)
		}
		resp, err := cl.Request(ctx, req)
		if err != nil {
			return err
		}
		for _, t := range resp.(*kmsg.DeleteShareGroupStateResponse).Topics {
			for _, p := range t.Partitions {
				if i, ok := at[shareTP{t.TopicID, p.Partition}]; ok {
					parts[i].code = p.ErrorCode
				}
			}
		}
	default:
		return fmt.Errorf("unknown share state operation %d", op)
	}
	return nil
}

// sharePartsOf lists the partitions of topic for a share-state call; ok is
// false when the topic does not exist.
func (b *Broker) sharePartsOf(topic string, only []int32) ([]shareStatePart, bool) {
	t := b.topics.get(topic)
	if t == nil {
		return nil, false
	}
	var out []shareStatePart
	add := func(p int32) {
		sp := shareStatePart{topic: topic, id: t.id, partition: p, start: -1}
		if p < 0 || int(p) >= len(t.partitions) {
			sp.code = kerr.UnknownTopicOrPartition.Code
		}
		out = append(out, sp)
	}
	if only == nil {
		for p := range t.partitions {
			add(int32(p))
		}
	}
	for _, p := range only {
		add(p)
	}
	return out, true
}
