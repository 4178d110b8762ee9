package nullbroker

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// With a store, every produced batch lands in its partition's file, in
// offset order and byte for byte as sent: the file parses back into record
// batches holding every record. Deleting the topic removes the files.
func TestStoreAppendsEveryBatch(t *testing.T) {
	dir := t.TempDir()
	b := start(t, StoreDir(dir))
	const topic, parts = "st", 2
	admin := client(t, b)
	createTopic(t, admin, topic, parts)
	cl := client(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent := map[int32]int64{}
	for i := range 300 {
		r := &kgo.Record{Value: bytes.Repeat([]byte{byte(i)}, 100)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		sent[r.Partition]++
	}
	for p := int32(0); p < parts; p++ {
		raw, err := os.ReadFile(filepath.Join(dir, topic+"-"+strconv.Itoa(int(p))+".log"))
		if err != nil {
			t.Fatal(err)
		}
		var records, next int64
		for len(raw) > 0 {
			if len(raw) < 61 {
				t.Fatalf("partition %d: %d trailing bytes, not a batch", p, len(raw))
			}
			size := 12 + int(binary.BigEndian.Uint32(raw[8:12]))
			var batch kmsg.RecordBatch
			if err := batch.ReadFrom(raw[:size]); err != nil {
				t.Fatalf("partition %d: batch at record %d: %v", p, next, err)
			}
			records += int64(batch.NumRecords)
			next += int64(batch.LastOffsetDelta) + 1
			raw = raw[size:]
		}
		if records != sent[p] || b.End(topic, p) != sent[p] {
			t.Fatalf("partition %d: %d records in the file, end %d; want %d", p, records, b.End(topic, p), sent[p])
		}
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = []string{topic}
	if _, err := req.RequestWith(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.log")); len(left) != 0 {
		t.Fatalf("files left after deleting the topic: %v", left)
	}
}
