package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterShareGroupOffsets and DeleteShareGroupOffsets on one broker: the
// group-level errors, per-partition and per-topic errors, and the topics a
// describe of every topic then lists.
func TestShareGroupOffsetsAlterDelete(t *testing.T) {
	b, cl, id := shareSetup(t, "30000")
	ctx := context.Background()
	alter := func(group string, topic string, parts ...int32) *kmsg.AlterShareGroupOffsetsResponse {
		t.Helper()
		req := kmsg.NewPtrAlterShareGroupOffsetsRequest()
		req.GroupID = group
		rt := kmsg.NewAlterShareGroupOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range parts {
			rt.Partitions = append(rt.Partitions, kmsg.AlterShareGroupOffsetsRequestTopicPartition{Partition: p, StartOffset: 3})
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	del := func(group string, topics ...string) *kmsg.DeleteShareGroupOffsetsResponse {
		t.Helper()
		req := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
		req.GroupID = group
		for _, n := range topics {
			req.Topics = append(req.Topics, kmsg.DeleteShareGroupOffsetsRequestTopic{Topic: n})
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// described is what a describe of every topic of the group lists:
	// topic → partition → start offset.
	described := func(group string) map[string]map[int32]int64 {
		t.Helper()
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = group
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[int32]int64{}
		for _, rt := range resp.Groups[0].Topics {
			out[rt.Topic] = map[int32]int64{}
			for _, p := range rt.Partitions {
				out[rt.Topic][p.Partition] = p.StartOffset
			}
		}
		return out
	}
	code := func(what string, got int16, want error) {
		t.Helper()
		if err := kerr.ErrorForCode(got); err != want {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
	}

	code("delete, unknown group", del("nobody", "q").ErrorCode, kerr.GroupIDNotFound)
	resp := alter("g2", "q", 0, 7)
	code("alter", resp.ErrorCode, nil)
	if ps := resp.Topics[0].Partitions; len(ps) != 2 || resp.Topics[0].TopicID != id {
		t.Fatalf("alter answered %+v, want topic q (id %x) with 2 partitions", resp.Topics[0], id)
	}
	code("alter partition 0", resp.Topics[0].Partitions[0].ErrorCode, nil)
	code("alter partition 7 of 1", resp.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition)
	code("alter, unknown topic", alter("g2", "nope", 0).Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	if got := described("g2"); len(got) != 1 || got["q"][0] != 3 {
		t.Fatalf("after the alter the group describes as %v, want q partition 0 at 3", got)
	}

	dresp := del("g2", "q", "nope")
	code("delete", dresp.ErrorCode, nil)
	code("delete q", dresp.Topics[0].ErrorCode, nil)
	code("delete, unknown topic", dresp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	if dresp.Topics[0].TopicID != id {
		t.Errorf("delete answered topic id %x, want %x", dresp.Topics[0].TopicID, id)
	}
	if got := described("g2"); len(got) != 0 {
		t.Fatalf("after the delete the group describes as %v, want no topics", got)
	}

	// A group with members, and a classic group's name.
	m := &shareRaw{t: t, cl: cl, group: "g", member: "m1", topic: id}
	code("join", m.heartbeat(0, "q").ErrorCode, nil)
	code("alter, group with members", alter("g", "q", 0).ErrorCode, kerr.NonEmptyGroup)
	code("delete, group with members", del("g", "q").ErrorCode, kerr.NonEmptyGroup)
	classic := newClient(t, b, kgo.ConsumerGroup("classic"), kgo.ConsumeTopics("q"))
	classic.PollFetches(testCtx(t, 5*time.Second))
	code("alter, classic group", alter("classic", "q", 0).ErrorCode, kerr.GroupIDNotFound)
}
