package broker

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFranzRoundTrip produces with every codec and acks setting and reads
// everything back, checking order, keys, values, headers and offsets.
func TestFranzRoundTrip(t *testing.T) {
	b := startBroker(t)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	acks := map[string]kgo.Acks{"0": kgo.NoAck(), "1": kgo.LeaderAck(), "all": kgo.AllISRAcks()}
	adm := kadm.NewClient(newClient(t, b))
	for cname, codec := range codecs {
		for aname, ack := range acks {
			t.Run(fmt.Sprintf("codec=%s/acks=%s", cname, aname), func(t *testing.T) {
				ctx := testCtx(t, 30*time.Second)
				topic := "rt-" + cname + "-" + aname
				if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
					t.Fatalf("create topic: %v", err)
				}
				opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(ack), kgo.DefaultProduceTopic(topic)}
				if aname != "all" {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				p := newClient(t, b, opts...)
				const n = 3000
				for i := 0; i < n; i++ {
					r := &kgo.Record{Key: []byte("k" + strconv.Itoa(i%17)), Value: bytes.Repeat([]byte(strconv.Itoa(i)), 20),
						Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}}
					p.Produce(ctx, r, func(r *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
				if err := p.Flush(ctx); err != nil {
					t.Fatalf("flush: %v", err)
				}
				c := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				seen := make(map[string]bool, n)
				lastOffset := map[int32]int64{}
				for len(seen) < n {
					fs := c.PollFetches(ctx)
					if err := ctx.Err(); err != nil {
						t.Fatalf("got %d records, want %d: %v", len(seen), n, err)
					}
					fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
					fs.EachRecord(func(r *kgo.Record) {
						i, _ := strconv.Atoi(string(r.Headers[0].Value))
						if want := bytes.Repeat([]byte(strconv.Itoa(i)), 20); !bytes.Equal(r.Value, want) {
							t.Fatalf("record %d: value mismatch", i)
						}
						if string(r.Key) != "k"+strconv.Itoa(i%17) {
							t.Fatalf("record %d: got key %q", i, r.Key)
						}
						if last, ok := lastOffset[r.Partition]; ok && r.Offset != last+1 {
							t.Fatalf("partition %d: offset %d follows %d", r.Partition, r.Offset, last)
						}
						lastOffset[r.Partition] = r.Offset
						if seen[string(r.Headers[0].Value)] {
							t.Fatalf("record %d read twice", i)
						}
						seen[string(r.Headers[0].Value)] = true
					})
				}
				if len(seen) != n {
					t.Fatalf("got %d records, want %d", len(seen), n)
				}
			})
		}
	}
	if b.SendfileBytes() == 0 {
		t.Fatalf("no record bytes were sent with sendfile")
	}
}
