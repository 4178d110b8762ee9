package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fastGroups shortens the coordinator's timings for tests that do not
// measure them: no initial rebalance delay, sessions down to 500 ms.
func fastGroups(b *Broker) {
	b.groups.configure(func(s *groupSettings) {
		s.initialDelay = 0
		s.minSession = 500 * time.Millisecond
	})
}

// produceN writes n records round-robin over the topic's partitions and
// returns how many landed in each.
func produceN(ctx context.Context, t *testing.T, b *Broker, topic string, n int) map[int32]int64 {
	t.Helper()
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	counts := map[int32]int64{}
	for i := 0; i < n; i++ {
		r := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%06d", i))})
		if err := r.FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		counts[r[0].Record.Partition]++
	}
	return counts
}

func createTopic(ctx context.Context, t *testing.T, b *Broker, topic string, partitions int32) {
	t.Helper()
	resp, err := kadm.NewClient(newClient(t, b)).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// committed reads a group's committed offsets with kadm.
func committed(ctx context.Context, t *testing.T, b *Broker, group string) map[int32]int64 {
	t.Helper()
	offs, err := kadm.NewClient(newClient(t, b)).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Fatalf("fetch offsets %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.At
	})
	return out
}

func TestGroupFranzConsumeCommitRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir })
	fastGroups(b)
	ctx := testCtx(t, 30*time.Second)
	createTopic(ctx, t, b, "gfc", 4)
	want := produceN(ctx, t, b, "gfc", 400)

	cl := newClient(t, b, kgo.ConsumerGroup("gfc-group"), kgo.ConsumeTopics("gfc"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	seen := 0
	for seen < 400 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		seen += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.Close()
	got := committed(ctx, t, b, "gfc-group")
	for p, n := range want {
		if got[p] != n {
			t.Fatalf("partition %d: committed %d, want %d", p, got[p], n)
		}
	}
	b.Close()

	b2 := startBroker(t, func(c *Config) { c.DataDir = dir })
	after := committed(ctx, t, b2, "gfc-group")
	for p, n := range want {
		if after[p] != n {
			t.Fatalf("after restart, partition %d: committed %d, want %d", p, after[p], n)
		}
	}
}
