package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicAdmin(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, b))

	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": strp("60000")}, "a"); err != nil {
		t.Fatalf("create: %v", err)
	}
	cases := []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]*string
		topic   string
		want    error
	}{
		{"exists", 1, 1, nil, "a", kerr.TopicAlreadyExists},
		{"bad name", 1, 1, nil, "bad/name", kerr.InvalidTopicException},
		{"rf too high", 1, 3, nil, "b", kerr.InvalidReplicationFactor},
		{"unknown config", 1, 1, map[string]*string{"no.such.config": strp("1")}, "c", kerr.InvalidConfig},
		{"bad config value", 1, 1, map[string]*string{"retention.ms": strp("soon")}, "d", kerr.InvalidConfig},
		{"unknown cleanup policy", 1, 1, map[string]*string{"cleanup.policy": strp("shrink")}, "e", kerr.InvalidConfig},
		{"zero partitions", 0, 1, nil, "f", kerr.InvalidPartitions},
	}
	for _, tc := range cases {
		t.Run("create/"+tc.name, func(t *testing.T) {
			resp, err := adm.CreateTopic(ctx, tc.parts, tc.rf, tc.configs, tc.topic)
			if err == nil {
				err = resp.Err
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// The cluster's controller answers a manual replica assignment the same
	// way (broker/controller: INVALID_REPLICA_ASSIGNMENT), not as a bad factor.
	t.Run("create/manual assignment", func(t *testing.T) {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "manual", -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, []int32{1}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if got := kerr.ErrorForCode(resp.Topics[0].ErrorCode); !errors.Is(got, kerr.InvalidReplicaAssignment) {
			t.Fatalf("got %v, want %v", got, kerr.InvalidReplicaAssignment)
		}
	})

	t.Run("describe configs", func(t *testing.T) {
		rcs, err := adm.DescribeTopicConfigs(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rcs.On("a", nil)
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if got["retention.ms"] != "60000" || got["cleanup.policy"] != "delete" || got["segment.bytes"] != "1073741824" {
			t.Fatalf("configs: %v", got)
		}
	})
	t.Run("incremental alter", func(t *testing.T) {
		_, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: strp("100000")}, {Op: kadm.DeleteConfig, Name: "retention.ms"}}, "a")
		if err != nil {
			t.Fatal(err)
		}
		tp := b.topics.get("a")
		if tp.configs["segment.bytes"] != "100000" || tp.configs["retention.ms"] != "" || tp.settings.log.SegmentBytes != 100000 {
			t.Fatalf("configs after alter: %v", tp.configs)
		}
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "bogus", Value: strp("1")}}, "a")
		if err == nil {
			err = resps[0].Err
		}
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Fatalf("unknown key: got %v, want INVALID_CONFIG", err)
		}
	})
	t.Run("legacy alter replaces all", func(t *testing.T) {
		resps, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: strp("2048")}}, "a")
		if err == nil {
			err = resps[0].Err
		}
		if err != nil {
			t.Fatal(err)
		}
		tp := b.topics.get("a")
		if len(tp.configs) != 1 || tp.settings.maxMessageBytes != 2048 {
			t.Fatalf("configs after AlterConfigs: %v", tp.configs)
		}
	})
	t.Run("create partitions", func(t *testing.T) {
		resps, err := adm.UpdatePartitions(ctx, 5, "a")
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(b.topics.get("a").partitions); n != 5 {
			t.Fatalf("got %d partitions, want 5", n)
		}
		resps, _ = adm.UpdatePartitions(ctx, 3, "a")
		if !errors.Is(resps.Error(), kerr.InvalidPartitions) {
			t.Fatalf("shrinking: got %v, want INVALID_PARTITIONS", resps.Error())
		}
	})
	t.Run("describe cluster", func(t *testing.T) {
		req := kmsg.NewPtrDescribeClusterRequest()
		resp, err := req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ClusterID != "kbench-cluster" || len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 1 {
			t.Fatalf("describe cluster: %+v", resp)
		}
	})
	t.Run("delete", func(t *testing.T) {
		resps, err := adm.DeleteTopics(ctx, "a", "never-existed")
		if err != nil {
			t.Fatal(err)
		}
		if err := resps["a"].Err; err != nil {
			t.Fatalf("delete a: %v", err)
		}
		if err := resps["never-existed"].Err; !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("delete unknown: got %v", err)
		}
		if b.topics.get("a") != nil {
			t.Fatalf("topic a still exists")
		}
	})
	t.Run("auto create", func(t *testing.T) {
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = strp("auto-made")
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if mt := resp.Topics[0]; mt.ErrorCode != 0 || len(mt.Partitions) != 1 || b.topics.get("auto-made") == nil {
			t.Fatalf("auto-create: %+v", mt)
		}
		req.AllowAutoTopicCreation = false
		req.Topics[0].Topic = strp("not-auto-made")
		resp, err = req.RequestWith(ctx, newClient(t, b))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("no auto-create: got error %d", resp.Topics[0].ErrorCode)
		}
	})
}

func TestListOffsetsAndDeleteRecords(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("lo"), kgo.ProducerLinger(0))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "lo"); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, lo kadm.ListedOffsets, err error, wantOff int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o, _ := lo.Lookup("lo", 0)
		if o.Err != nil || o.Offset != wantOff {
			t.Fatalf("%s: got offset %d err %v, want %d", name, o.Offset, o.Err, wantOff)
		}
	}
	lo, err := adm.ListEndOffsets(ctx, "lo")
	check("latest", lo, err, 10)
	lo, err = adm.ListStartOffsets(ctx, "lo")
	check("earliest", lo, err, 0)
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(4*time.Minute+time.Second).UnixMilli(), "lo")
	check("by timestamp", lo, err, 5)
	lo, err = adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), "lo")
	check("timestamp after all", lo, err, 10) // kadm maps "none" to the end offset

	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.Offset != 9 || p.Timestamp != base.Add(9*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp: got offset %d ts %d", p.Offset, p.Timestamp)
	}

	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{"lo": {0: {Topic: "lo", Partition: 0, At: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := dr.Lookup("lo", 0); d.Err != nil || d.LowWatermark != 4 {
		t.Fatalf("delete records: low watermark %d err %v, want 4", d.LowWatermark, d.Err)
	}
	lo, err = adm.ListStartOffsets(ctx, "lo")
	check("earliest after delete", lo, err, 4)
	dr, _ = adm.DeleteRecords(ctx, kadm.Offsets{"lo": {0: {Topic: "lo", Partition: 0, At: 50}}})
	if d, _ := dr.Lookup("lo", 0); !errors.Is(d.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete beyond HW: got %v, want OFFSET_OUT_OF_RANGE", d.Err)
	}
	// Reading below the new start is out of range; the consumer resets.
	c := newClient(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"lo": {0: kgo.NewOffset().At(1)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := c.PollRecords(ctx, 100)
	if recs := fs.Records(); len(recs) == 0 || recs[0].Offset != 4 {
		t.Fatalf("consume after delete: got %d records first offset %v", len(recs), recs)
	}
}

func TestLogAppendTime(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("lat"))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": strp("LogAppendTime")}, "lat"); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1000, 0)
	before := time.Now().Add(-time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x"), Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, b, kgo.ConsumeTopics("lat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := c.PollFetches(ctx).Records()
	if len(recs) != 1 || recs[0].Timestamp.Before(before) || recs[0].Attrs.TimestampType() != 1 {
		t.Fatalf("got %v, want a log-append timestamp after %v", recs, before)
	}
}

func TestFetchLongPollAndLimits(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 30*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("lp"), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "lp"); err != nil {
		t.Fatal(err)
	}
	fetch := func(maxWait int32, minBytes, maxBytes, partMax int32) (*kmsg.FetchResponse, time.Duration) {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 12
		req.MaxWaitMillis = maxWait
		req.MinBytes = minBytes
		req.MaxBytes = maxBytes
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "lp"
		for p := int32(0); p < 2; p++ {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rp.PartitionMaxBytes = partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		start := time.Now()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp, time.Since(start)
	}
	// Empty log: the fetch waits max_wait.
	if _, d := fetch(300, 1, 1<<20, 1<<20); d < 250*time.Millisecond {
		t.Fatalf("empty fetch returned after %v, want ~300ms", d)
	}
	// An append wakes a waiting fetch long before max_wait.
	go func() {
		time.Sleep(200 * time.Millisecond)
		cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 3000), Partition: 1})
	}()
	resp, d := fetch(10000, 1, 1<<20, 1<<20)
	if d > 5*time.Second || len(resp.Topics[0].Partitions[1].RecordBatches) == 0 {
		t.Fatalf("woken fetch: took %v, %d bytes", d, len(resp.Topics[0].Partitions[1].RecordBatches))
	}
	for i := 0; i < 5; i++ {
		v := make([]byte, 3000)
		rand.Read(v) // incompressible, so each batch is > 3000 bytes
		cl.ProduceSync(ctx, &kgo.Record{Value: v, Partition: 0})
	}
	// partition_max_bytes smaller than one batch: still one whole batch for the
	// first partition with data (KIP-74), nothing from the second.
	resp, _ = fetch(0, 1, 1<<20, 100)
	p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
	if n := len(p0.RecordBatches); n < 3000 || n > 3200 {
		t.Fatalf("partition 0: got %d bytes, want exactly one batch", n)
	}
	if len(p1.RecordBatches) != 0 {
		t.Fatalf("partition 1: got %d bytes, want none past the limit", len(p1.RecordBatches))
	}
	// max_bytes bounds the whole response.
	resp, _ = fetch(0, 1, 7000, 1<<20)
	total := len(resp.Topics[0].Partitions[0].RecordBatches) + len(resp.Topics[0].Partitions[1].RecordBatches)
	if total > 7000 || total < 3000 {
		t.Fatalf("max_bytes 7000: got %d bytes", total)
	}
	if p0.HighWatermark != 5 || p0.LogStartOffset != 0 {
		t.Fatalf("hw %d logStart %d", p0.HighWatermark, p0.LogStartOffset)
	}
}
