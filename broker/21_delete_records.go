package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords v0-v2 (v2 flexible): moves the log start offset up to the
// requested offset (-1: the high watermark); whole segments below it are
// deleted, and reads below it get OFFSET_OUT_OF_RANGE.

func (b *Broker) handleDeleteRecords(r *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, code := b.leaderPartition(rt.Topic, rp.Partition)
			switch {
			case code != 0:
				sp.ErrorCode = code
			default:
				off := rp.Offset
				hw := p.hw.Load()
				if off == -1 {
					off = hw
				}
				if off < 0 || off > hw {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
					break
				}
				if err := p.log.DeleteRecordsBefore(off); err != nil {
					b.cfg.Logf("delete records %s-%d: %v", p.topic, p.index, err)
					sp.ErrorCode = kerr.KafkaStorageError.Code
					break
				}
				sp.LowWatermark = p.log.StartOffset()
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
