package nullbroker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce v3-9 (v3 is the first carrying v2 record batches); v5 added the
// log start offset to the response, v8 per-record errors, v9 flexible.
// Nothing is stored: each partition's offset counter advances by the record
// counts read from the batch headers, and the batch bytes are dropped; with
// a store (StoreDir) they are appended to the partition's file as received.
// Batches are not decompressed or CRC-checked: the ceiling does the least
// any broker could do.

func (c *conn) produce(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	arrived := false
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, 0, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LogAppendTime = -1
			p := c.b.partition(rt.Topic, rp.Partition)
			n, err := countRecords(rp.Records)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case err != nil:
				sp.ErrorCode = kerr.CorruptMessage.Code
			case p.path != "":
				base, err := p.appendBatch(rp.Records, n)
				if err != nil {
					sp.ErrorCode = kerr.KafkaStorageError.Code
					break
				}
				sp.BaseOffset = base
				arrived = arrived || n > 0
			default:
				sp.BaseOffset = p.end.Add(n) - n
				arrived = arrived || n > 0
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if arrived {
		c.b.recordsArrived()
	}
	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}
