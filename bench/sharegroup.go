package bench

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share-group consumption (group.protocol=share, KIP-932). The broker hands
// each record to one member at a time and takes it back for another member
// when the holder neither acknowledges it within the record lock nor keeps
// its connection: records arrive out of order and can arrive twice. So a
// share run tracks, per partition, which offsets it has seen (a bitmap from
// the offset the run started at) instead of a position: a second delivery
// of a seen offset is counted as redelivered and not measured again, and a
// partition's position is the first offset not yet seen.

// shareSeen is one partition's delivered offsets from base on.
type shareSeen struct {
	base  int64
	words []uint64
}

// mark records offset and reports whether it was new.
func (s *shareSeen) mark(offset int64) bool {
	i := offset - s.base
	w, bit := int(i/64), uint64(1)<<(i%64)
	for w >= len(s.words) {
		s.words = append(s.words, 0)
	}
	if s.words[w]&bit != 0 {
		return false
	}
	s.words[w] |= bit
	return true
}

// next is the first offset at or after from not yet seen.
func (s *shareSeen) next(from int64) int64 {
	i := from - s.base
	for w := int(i / 64); w < len(s.words); w++ {
		rest := ^s.words[w]
		if w == int(i/64) {
			rest &= ^uint64(0) << (i % 64)
		}
		if rest != 0 {
			return s.base + int64(w*64+bits.TrailingZeros64(rest))
		}
	}
	return s.base + int64(len(s.words)*64)
}

// shareDeliveries counts what a share run saw beyond first deliveries.
type shareDeliveries struct {
	deliveries  int64 // every record handed to a consumer, from the run's start offsets
	maxDelivery int32 // the highest delivery count the broker reported
}

// prepareShareGroup makes the group start at the log start of partitions
// it has not read yet (Kafka's default is the end), so a run misses none of
// the records it counts from its start offsets on.
func (a *admin) prepareShareGroup(ctx context.Context, group string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "share.auto.offset.reset", kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, c)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, a.cl)
	if err == nil && len(resp.Resources) == 1 {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("set share.auto.offset.reset=earliest on share group %s: %w", group, err)
	}
	return nil
}

// shareAssigned reports the members of a share group and how many of the
// topic's partitions they hold between them.
func (a *admin) shareAssigned(ctx context.Context, group, topic string) (members, partitions int, err error) {
	req := kmsg.NewPtrShareGroupDescribeRequest()
	req.GroupIDs = []string{group}
	resp, err := req.RequestWith(ctx, a.cl)
	if err != nil {
		return 0, 0, err
	}
	if len(resp.Groups) != 1 {
		return 0, 0, fmt.Errorf("share group %s: %d groups described", group, len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.ErrorCode == kerr.GroupIDNotFound.Code {
		return 0, 0, nil // nobody joined yet
	}
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return 0, 0, err
	}
	held := map[int32]bool{}
	for _, m := range g.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			if tp.Topic == topic {
				for _, p := range tp.Partitions {
					held[p] = true
				}
			}
		}
	}
	return len(g.Members), len(held), nil
}

// waitShareGroup waits until all n consumers are members and every
// partition is assigned.
func (r *run) waitShareGroup(ctx context.Context, n int) error {
	group, topic := r.p.consumer.groupID, r.cfg.Topic.Name
	return pollUntil(ctx, 30*time.Second, fmt.Sprintf("share group %s to assign all %d partitions to its %d consumers", group, r.parts, n), func() (bool, error) {
		members, held, err := r.adm.shareAssigned(ctx, group, topic)
		if kerr.IsRetriable(err) {
			return false, nil // the coordinator is still loading or moving
		}
		if err != nil {
			return false, err
		}
		return members == n && held == int(r.parts), nil
	})
}

// shareConsumed measures one poll of a share consumer. Caller holds posMu
// and the consumer meter's lock.
func (r *run) shareConsumed(c *consumer, fs kgo.Fetches, now time.Duration) {
	hooks := r.cfg.Hooks
	fs.EachRecord(func(rec *kgo.Record) {
		seen := r.shareSeen[rec.Partition]
		if seen == nil || rec.Offset < seen.base {
			return // before the run started
		}
		r.groupStats.deliveries++
		r.groupStats.maxDelivery = max(r.groupStats.maxDelivery, rec.DeliveryCount())
		if !seen.mark(rec.Offset) {
			r.redelivered.Add(1)
			return
		}
		if pos := r.pos[rec.Partition]; rec.Offset == pos {
			r.pos[rec.Partition] = seen.next(pos)
		}
		if r.cfg.Mode == ModeConsume && r.cfg.NumRecords > 0 && r.taken.Add(1) > r.cfg.NumRecords {
			return
		}
		intended, ours, timed := r.stamp(rec)
		c.m.consumed(intended, now, len(rec.Key)+len(rec.Value), ours, timed)
		if hooks != nil && hooks.OnConsume != nil {
			hooks.OnConsume(rec)
		}
	})
	// Processed means accepted. Without this a closing client would
	// release its last poll's records, and the next run of the same group
	// would read them again.
	c.cl.MarkAcks(kgo.AckAccept)
}
