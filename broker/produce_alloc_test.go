package broker

import (
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// multiProduceFrame encodes a v9 produce request of one batch for each of the
// given partitions of topic.
func multiProduceFrame(t testing.TB, topic string, acks int16, corr int32, parts ...int32) []byte {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(10, 100)})
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return frame(req, corr)
}

// TestProducePipelinedResponsesStayDistinct pipelines produce requests to
// two topics of different shapes on one connection: the request struct,
// frame buffer and responses are reused between requests (pool.go), so
// every answer must still name its own request's topic, partitions and
// offsets.
func TestProducePipelinedResponsesStayDistinct(t *testing.T) {
	br := startBroker(t)
	for _, name := range []string{"alpha", "a-much-longer-topic-name"} {
		if _, err := br.topics.create(name, 3, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	c := dialBench(t, br)
	const n = 60
	for i := range n {
		var f []byte
		if i%2 == 0 {
			f = multiProduceFrame(t, "alpha", 1, int32(i), 0, 2)
		} else {
			f = multiProduceFrame(t, "a-much-longer-topic-name", 1, int32(i), 1)
		}
		if _, err := c.nc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		raw := c.readResponse(t)
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		// correlation id, empty header tags, then the body
		if got := int32(raw[0])<<24 | int32(raw[1])<<16 | int32(raw[2])<<8 | int32(raw[3]); got != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, got)
		}
		if err := resp.ReadFrom(raw[5:]); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if len(resp.Topics) != 1 {
			t.Fatalf("response %d: %d topics", i, len(resp.Topics))
		}
		rt := resp.Topics[0]
		wantTopic, wantParts := "alpha", []int32{0, 2}
		if i%2 == 1 {
			wantTopic, wantParts = "a-much-longer-topic-name", []int32{1}
		}
		if rt.Topic != wantTopic || len(rt.Partitions) != len(wantParts) {
			t.Fatalf("response %d: topic %q with %d partitions, want %q with %d", i, rt.Topic, len(rt.Partitions), wantTopic, len(wantParts))
		}
		for j, sp := range rt.Partitions {
			// each partition got one 10-record batch per request to it
			if want := int64(i/2) * 10; sp.Partition != wantParts[j] || sp.ErrorCode != 0 || sp.BaseOffset != want {
				t.Fatalf("response %d partition %d: %+v, want partition %d at offset %d", i, j, sp, wantParts[j], want)
			}
		}
	}
}

// TestProduceAllocationsPerRequest counts the broker's heap allocations per
// pipelined acks=1 produce request (the target: about 0). The raw client
// allocates nothing per request, so the process-wide count is the broker's.
// Expected: none (produce_decode.go keeps even the nested partition slices).
func TestProduceAllocationsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's own allocations would be counted")
	}
	br := startBroker(t, func(c *Config) { c.Logf = func(string, ...any) {} })
	if _, err := br.topics.create("allocs", 2, nil, false); err != nil {
		t.Fatal(err)
	}
	f := multiProduceFrame(t, "allocs", 1, 7, 0, 1)
	c := dialBench(t, br)
	run := func(n int) {
		const window = 8
		inflight := 0
		for range n {
			if _, err := c.nc.Write(f); err != nil {
				t.Fatal(err)
			}
			if inflight++; inflight == window {
				c.readResponse(t)
				inflight--
			}
		}
		for ; inflight > 0; inflight-- {
			c.readResponse(t)
		}
	}
	run(500) // warm pools, buffers and the log's index
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 4000
	run(n)
	runtime.ReadMemStats(&after)
	per := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.2f allocations, %.0f bytes per produce request", per, float64(after.TotalAlloc-before.TotalAlloc)/n)
	if per > 0.5 {
		t.Errorf("%.2f heap allocations per produce request, want at most 0.5", per)
	}
}
