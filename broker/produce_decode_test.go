package broker

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// produceBodies are encoded produce request bodies (no header) of every
// version this broker reads, in several shapes.
func produceBodies() (versions []int16, bodies [][]byte) {
	batch := recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(3, 20)})
	txn := "txn-1"
	for v := int16(0); v <= maxDecodedProduceVersion; v++ {
		for shape := range 4 {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.Acks, req.TimeoutMillis = v, int16(shape%3)-1, int32(1000*shape)
			if shape == 1 {
				req.TransactionID = &txn
			}
			for ti := range shape {
				rt := kmsg.NewProduceRequestTopic()
				rt.Topic = string(rune('a'+ti)) + "-topic"
				for pi := range ti + 1 {
					rp := kmsg.NewProduceRequestTopicPartition()
					rp.Partition = int32(pi)
					if pi != 1 { // partition 1 sends null records
						rp.Records = batch
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
			}
			versions = append(versions, v)
			bodies = append(bodies, req.AppendTo(nil))
		}
	}
	return versions, bodies
}

// sameProduce reports how a differs from b, ignoring unknown tags (kmsg
// keeps them, the decoder skips them: the broker reads none).
func sameProduce(a, b *kmsg.ProduceRequest) string {
	switch {
	case (a.TransactionID == nil) != (b.TransactionID == nil) || a.TransactionID != nil && *a.TransactionID != *b.TransactionID:
		return "transactional id"
	case a.Acks != b.Acks || a.TimeoutMillis != b.TimeoutMillis:
		return "acks or timeout"
	case len(a.Topics) != len(b.Topics):
		return "topic count"
	}
	for i := range a.Topics {
		ta, tb := &a.Topics[i], &b.Topics[i]
		if ta.Topic != tb.Topic || len(ta.Partitions) != len(tb.Partitions) {
			return "topic " + ta.Topic
		}
		for j := range ta.Partitions {
			pa, pb := &ta.Partitions[j], &tb.Partitions[j]
			if pa.Partition != pb.Partition || (pa.Records == nil) != (pb.Records == nil) || !bytes.Equal(pa.Records, pb.Records) {
				return "partition of " + ta.Topic
			}
		}
	}
	return ""
}

// FuzzProduceDecode checks the reusing produce decoder against kmsg's own:
// the same verdict on every input, and the same request when both accept.
// The decoder is reused across inputs, as a connection reuses it.
func FuzzProduceDecode(f *testing.F) {
	versions, bodies := produceBodies()
	for i, body := range bodies {
		f.Add(versions[i], body)
		f.Add(versions[i], body[:len(body)/2])
	}
	var dec produceDecoder
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		if version < 0 || version > maxDecodedProduceVersion {
			return
		}
		want := kmsg.NewPtrProduceRequest()
		want.Version = version
		wantErr := want.ReadFrom(body)
		got, err := dec.decode(version, body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("v%d: decoder error %v, kmsg error %v", version, err, wantErr)
		}
		if err == nil {
			if d := sameProduce(got, want); d != "" {
				t.Fatalf("v%d: %s differs from kmsg's decoding", version, d)
			}
		}
	})
}

// TestProduceDecodeReusesAcrossShapes decodes every shape after every
// other with one decoder: stale topics, partitions or a stale transactional
// id from a larger earlier request must never show through.
func TestProduceDecodeReusesAcrossShapes(t *testing.T) {
	versions, bodies := produceBodies()
	var dec produceDecoder
	for i := range bodies {
		for j := range bodies {
			for _, k := range []int{i, j} {
				want := kmsg.NewPtrProduceRequest()
				want.Version = versions[k]
				if err := want.ReadFrom(bodies[k]); err != nil {
					t.Fatal(err)
				}
				got, err := dec.decode(versions[k], bodies[k])
				if err != nil {
					t.Fatalf("body %d (v%d): %v", k, versions[k], err)
				}
				if d := sameProduce(got, want); d != "" {
					t.Fatalf("body %d (v%d) after body %d: %s differs", k, versions[k], i, d)
				}
			}
		}
	}
}
