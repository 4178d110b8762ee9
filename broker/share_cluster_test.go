package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// In a cluster a share group's configs reach every broker through the
// controller, its members fetch from every partition leader, and its
// offsets admin reaches the leaders from the coordinator.
func TestShareGroupCluster(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 40*time.Second)
	var seeds []string
	for _, b := range tc.brokers {
		seeds = append(seeds, b.Addr())
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("sc"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if resp, err := kadm.NewClient(admin).CreateTopic(ctx, 3, 3, nil, "sc"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	setGroupConfig(t, admin, "scg", "share.auto.offset.reset", "earliest")
	for id, b := range tc.brokers {
		if got := b.shareConfig("scg"); !got.earliest {
			t.Fatalf("broker %d did not get the group config", id)
		}
	}
	const n = 600
	for i := range n {
		admin.Produce(ctx, &kgo.Record{Value: []byte{byte(i >> 8), byte(i)}}, nil)
	}
	if err := admin.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[[2]byte]int{}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics("sc"), kgo.ShareGroup("scg"))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			for cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				mu.Lock()
				for _, r := range fs.Records() {
					seen[[2]byte(r.Value)]++
				}
				// Accept now: a closing client releases the records of
				// its last poll that it has not acknowledged.
				cl.MarkAcks(kgo.AckAccept)
				if len(seen) == n {
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("consumed %d distinct records, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("record %v delivered %d times", v, c)
		}
	}

	// The members left: every partition's start offset is its end (all
	// accepted), read back from each leader through the coordinator.
	describe := func() map[int32]int64 {
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = "scg"
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		for _, rt := range resp.Groups[0].Topics {
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 {
					t.Fatalf("describe partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
				}
				out[p.Partition] = p.StartOffset
			}
		}
		return out
	}
	var total int64
	for _, o := range describe() {
		total += o
	}
	if total != n {
		t.Fatalf("start offsets sum to %d (%v), want %d", total, describe(), n)
	}
	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = "scg"
	at := kmsg.NewAlterShareGroupOffsetsRequestTopic()
	at.Topic = "sc"
	for p := range int32(3) {
		at.Partitions = append(at.Partitions, kmsg.AlterShareGroupOffsetsRequestTopicPartition{Partition: p, StartOffset: 1})
	}
	alter.Topics = append(alter.Topics, at)
	resp, err := alter.RequestWith(ctx, admin)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("alter: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	for p, o := range describe() {
		if o != 1 {
			t.Fatalf("partition %d start offset %d after the alter, want 1", p, o)
		}
	}

	// Deleting the group deletes its state on every leader.
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"scg"}
	dresp, err := del.RequestWith(ctx, admin)
	if err != nil || dresp.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete group: %v %v", err, kerr.ErrorForCode(dresp.Groups[0].ErrorCode))
	}
	for id, b := range tc.brokers {
		b.share.mu.Lock()
		n := len(b.share.parts)
		b.share.mu.Unlock()
		if n != 0 {
			t.Errorf("broker %d keeps %d share partitions of the deleted group", id, n)
		}
	}
}
