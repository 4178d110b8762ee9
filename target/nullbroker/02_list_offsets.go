package nullbroker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets v1-6 (v0's old-style offsets array is not offered); v2 added
// the isolation level, v4 the leader epoch, v6 made it flexible. -1 is the
// end (the produced record count), -2 the start (always 0: nothing is ever
// deleted). Every served record carries the same timestamp, so a time
// lookup finds offset 0 or nothing.

func (b *Broker) listOffsets(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	ts := b.batch.timestamp
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch = 0
			p := b.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.Timestamp, sp.Offset = -1, -1
			case rp.Timestamp == -1:
				sp.Timestamp, sp.Offset = -1, p.end.Load()
			case rp.Timestamp == -2:
				sp.Timestamp, sp.Offset = -1, 0
			case rp.Timestamp <= ts && p.end.Load() > 0:
				sp.Timestamp, sp.Offset = ts, 0
			default:
				sp.Timestamp, sp.Offset = -1, -1
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
