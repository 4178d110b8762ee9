package nullbroker

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func start(t *testing.T, opts ...Opt) *Broker {
	t.Helper()
	b, err := Start(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func client(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, name string, parts int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// TestProduceConsumeRoundTrip produces with franz-go (idempotent acks=all,
// and acks=1 with zstd), checks the offsets handed out, then consumes
// everything back and checks every record is the prebuilt one, at
// contiguous offsets, and that nothing beyond the produced count arrives.
func TestProduceConsumeRoundTrip(t *testing.T) {
	value := bytes.Repeat([]byte("v"), 300)
	hdr := kmsg.Header{Key: "h", Value: []byte("0123456789abcdef")}
	b := start(t, FetchRecord([]byte("k"), value, hdr), BatchBytes(4096))
	const topic, parts = "rt", 3
	createTopic(t, client(t, b), topic, parts)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	produced := map[int32][]int64{}
	for _, opts := range [][]kgo.Opt{
		{kgo.RequiredAcks(kgo.AllISRAcks())},
		{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(), kgo.ProducerBatchCompression(kgo.ZstdCompression())},
	} {
		cl := client(t, b, append(opts, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
		for i := range 500 {
			r := &kgo.Record{Value: bytes.Repeat([]byte{byte(i)}, 10+i%50)}
			res := cl.ProduceSync(ctx, r)
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			produced[r.Partition] = append(produced[r.Partition], r.Offset)
		}
	}
	var total int64
	for p := int32(0); p < parts; p++ {
		offs := produced[p]
		for i, o := range offs {
			if o != int64(i) {
				t.Fatalf("partition %d: record %d got offset %d, want %d", p, i, o, i)
			}
		}
		if got := b.End(topic, p); got != int64(len(offs)) {
			t.Errorf("partition %d: end %d, want %d", p, got, len(offs))
		}
		total += int64(len(offs))
	}
	if total != 1000 {
		t.Fatalf("produced %d records, want 1000", total)
	}

	cons := client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	next := map[int32]int64{}
	var got int64
	for got < total && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch errors: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if r.Offset != next[r.Partition] {
				t.Fatalf("partition %d: got offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			if string(r.Key) != "k" || !bytes.Equal(r.Value, value) || len(r.Headers) != 1 ||
				r.Headers[0].Key != hdr.Key || !bytes.Equal(r.Headers[0].Value, hdr.Value) {
				t.Fatalf("record %d/%d: got key %q, %d value bytes, headers %v; want the prebuilt record", r.Partition, r.Offset, r.Key, len(r.Value), r.Headers)
			}
		})
	}
	if got != total {
		t.Fatalf("consumed %d records, want %d", got, total)
	}
	// Nothing beyond the end: a further poll times out empty.
	short, cancelShort := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancelShort()
	if n := cons.PollFetches(short).NumRecords(); n != 0 {
		t.Errorf("got %d records past the end, want none", n)
	}
	for p := int32(0); p < parts; p++ {
		if next[p] != int64(len(produced[p])) {
			t.Errorf("partition %d: consumed up to %d, want %d", p, next[p], len(produced[p]))
		}
	}
}

// TestFetchWakesOnProduce: a consumer waiting at the end gets a new record
// well before its fetch max wait.
func TestFetchWakesOnProduce(t *testing.T) {
	b := start(t)
	createTopic(t, client(t, b), "wake", 1)
	cons := client(t, b, kgo.ConsumeTopics("wake"), kgo.FetchMaxWait(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Let the consumer reach the (empty) end and start waiting.
	polled := make(chan int, 1)
	go func() { polled <- cons.PollFetches(ctx).NumRecords() }()
	time.Sleep(500 * time.Millisecond)
	prod := client(t, b, kgo.DefaultProduceTopic("wake"))
	sent := time.Now()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-polled:
		if n != 1 {
			t.Fatalf("got %d records, want 1", n)
		}
		if d := time.Since(sent); d > 3*time.Second {
			t.Errorf("record arrived %v after produce, want well under the 10s max wait", d)
		}
	case <-ctx.Done():
		t.Fatal("consumer never got the record")
	}
}

// TestFetchLimits: a partition gets at least one batch even when it exceeds
// the partition limit, and later partitions respect the request limit.
func TestFetchLimits(t *testing.T) {
	b := start(t, FetchRecord(nil, make([]byte, 1000)), BatchBytes(8000))
	cl := client(t, b)
	createTopic(t, cl, "lim", 2)
	prod := client(t, b, kgo.DefaultProduceTopic("lim"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := context.Background()
	for p := range int32(2) {
		for range 100 {
			prod.Produce(ctx, &kgo.Record{Partition: p, Value: []byte("x")}, nil)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	batch := len(b.batch.byCount[b.batch.max()])
	for _, tc := range []struct {
		name                   string
		partMax, reqMax        int32
		wantBytes0, wantBytes1 int
	}{
		{"partition limit below one batch", 10, 1 << 20, batch, 0},
		{"two batches per partition", int32(2 * batch), 1 << 20, 2 * batch, 2 * batch},
		{"request limit reached in the first partition", 1 << 20, int32(batch), batch, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrFetchRequest()
			req.MaxBytes, req.MaxWaitMillis, req.ReplicaID = tc.reqMax, 0, -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "lim"
			for p := range int32(2) {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes = p, tc.partMax
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			ps := resp.Topics[0].Partitions
			if got0, got1 := len(ps[0].RecordBatches), len(ps[1].RecordBatches); got0 != tc.wantBytes0 || got1 != tc.wantBytes1 {
				t.Errorf("got %d and %d record bytes, want %d and %d", got0, got1, tc.wantBytes0, tc.wantBytes1)
			}
			if ps[0].HighWatermark != 100 {
				t.Errorf("high watermark %d, want 100", ps[0].HighWatermark)
			}
		})
	}
}

func TestListOffsetsAndErrors(t *testing.T) {
	b := start(t)
	cl := client(t, b)
	createTopic(t, cl, "lo", 1)
	prod := client(t, b, kgo.DefaultProduceTopic("lo"))
	ctx := context.Background()
	for range 7 {
		prod.Produce(ctx, &kgo.Record{Value: []byte("x")}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		topic    string
		ts, want int64
		code     int16
	}{
		{"end", "lo", -1, 7, 0},
		{"start", "lo", -2, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tc.topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = tc.ts
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != tc.code || p.Offset != tc.want {
				t.Errorf("got offset %d error %d, want %d error %d", p.Offset, p.ErrorCode, tc.want, tc.code)
			}
		})
	}
	// A second create fails; replication factor 3 is refused.
	for _, tc := range []struct {
		name  string
		rf    int16
		topic string
		code  int16
	}{
		{"exists", 1, "lo", kerr.TopicAlreadyExists.Code},
		{"replication factor 3", 3, "new", kerr.InvalidReplicationFactor.Code},
	} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.topic, 1, tc.rf
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Topics[0].ErrorCode; got != tc.code {
			t.Errorf("%s: got error %d, want %d", tc.name, got, tc.code)
		}
	}
}

// TestApiVersionsUnknownVersion speaks raw bytes: ApiVersions v99 gets a v0
// response with UNSUPPORTED_VERSION and the ApiVersions entry (KIP-511).
func TestApiVersionsUnknownVersion(t *testing.T) {
	b := start(t)
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	var req []byte
	req = binary.BigEndian.AppendUint16(req, uint16(kmsg.ApiVersions.Int16()))
	req = binary.BigEndian.AppendUint16(req, 99)
	req = binary.BigEndian.AppendUint32(req, 42)
	req = binary.BigEndian.AppendUint16(req, 0xffff) // null client id
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := nc.Write(append(frame, req...)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	if corr := binary.BigEndian.Uint32(body); corr != 42 {
		t.Fatalf("correlation id %d, want 42", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 || resp.ApiKeys[0].MaxVersion != 3 {
		t.Errorf("got error %d keys %+v, want UNSUPPORTED_VERSION and ApiVersions 0-3", resp.ErrorCode, resp.ApiKeys)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:9092"} {
		if b, err := Start(context.Background(), Listen(addr)); err == nil {
			b.Close()
			t.Errorf("listen %q: started, want refused", addr)
		}
	}
}

// TestTemplates checks the prebuilt batches: franz-go-readable, CRC valid,
// sizes near the batch size.
func TestTemplates(t *testing.T) {
	c := cfg{value: make([]byte, 100), batchBytes: 16384, timestampMs: 1000}
	tm, err := buildTemplates(c)
	if err != nil {
		t.Fatal(err)
	}
	full := tm.byCount[tm.max()]
	if len(full) > 16384 || len(full) < 16384-200 {
		t.Errorf("full batch is %d bytes, want just under 16384", len(full))
	}
	for n := int64(1); n <= tm.max(); n++ {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(tm.byCount[n]); err != nil {
			t.Fatal(err)
		}
		if int64(rb.NumRecords) != n || int(rb.Length) != len(tm.byCount[n])-12 {
			t.Fatalf("batch %d: %d records, length %d", n, rb.NumRecords, rb.Length)
		}
		got, err := countRecords(tm.byCount[n])
		if err != nil || got != n {
			t.Fatalf("countRecords(batch %d) = %d, %v", n, got, err)
		}
	}
	// Served batches get the asked offset and keep a valid CRC.
	served, size := tm.serve(nil, 1000, 1000+tm.max()+3, 1<<20, true)
	out := appendBatches(nil, served)
	if size != len(out) {
		t.Errorf("serve reported %d bytes, the batches hold %d", size, len(out))
	}
	n, err := countRecords(out)
	if err != nil || n != tm.max()+3 {
		t.Fatalf("served %d records (%v), want %d", n, err, tm.max()+3)
	}
	if off := int64(binary.BigEndian.Uint64(out)); off != 1000 {
		t.Errorf("first base offset %d, want 1000", off)
	}
}

func FuzzCountRecords(f *testing.F) {
	tm, err := buildTemplates(cfg{value: make([]byte, 10), batchBytes: 200})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tm.byCount[1])
	f.Add(append(append([]byte(nil), tm.byCount[2]...), tm.byCount[1]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := countRecords(b)
		if err == nil && n < 0 {
			t.Fatalf("negative count %d", n)
		}
	})
}
