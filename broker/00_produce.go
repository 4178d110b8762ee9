package broker

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
)

// Produce v0-v9. Only magic-v2 record batches are accepted (v0-v2 requests
// carrying message sets of magic 0/1 get UNSUPPORTED_VERSION per partition);
// v3 adds transactional id; v5 log start offset; v8 record errors; v9 is
// flexible. Batches are validated (CRC-32C, header consistency, uncompressed
// record framing) but compressed batches are not decompressed, and are stored
// exactly as received with only baseOffset and partitionLeaderEpoch rewritten
// (both precede the CRC-covered bytes). acks=0 gets no response.

func (b *Broker) handleProduce(r *kmsg.ProduceRequest) reply {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	badAcks := r.Acks != 0 && r.Acks != 1 && r.Acks != -1
	now := time.Now().UnixMilli()
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.get(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			switch {
			case badAcks:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p := t.partitions[rp.Partition]
				sp.ErrorCode, sp.BaseOffset = b.produceTo(p, &t.settings, rp.Records, now)
				if sp.ErrorCode == 0 && t.settings.logAppendTime {
					sp.LogAppendTime = now
				}
				sp.LogStartOffset = p.log.StartOffset()
			}
			if sp.ErrorCode != 0 && r.Version >= 8 {
				sp.ErrorMessage = strp(kerr.ErrorForCode(sp.ErrorCode).Error())
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if r.Acks == 0 {
		return reply{none: true}
	}
	return reply{msg: resp}
}

// produceTo validates and appends one partition's records; it returns the
// Kafka error code and the base offset assigned.
func (b *Broker) produceTo(p *partition, s *topicSettings, recs []byte, now int64) (int16, int64) {
	if len(recs) == 0 {
		return kerr.CorruptMessage.Code, -1
	}
	if _, err := records.Validate(recs, s.maxMessageBytes); err != nil {
		return recordsErrorCode(err), -1
	}
	if s.logAppendTime {
		records.Iterate(recs, func(_ records.Header, batch []byte) bool {
			records.SetLogAppendTime(batch, now)
			return true
		})
	}
	p.appendMu.Lock()
	chk := p.ps.check(recs)
	if chk.code != 0 || chk.duplicate {
		p.appendMu.Unlock()
		if chk.duplicate {
			// A retried batch already in the log: acknowledge it with its
			// original offset instead of appending it again.
			return 0, chk.dupBase
		}
		return chk.code, -1
	}
	base, last, err := p.log.Append(recs, p.epoch.Load())
	if err == nil {
		p.ps.appended(chk, base, last)
		p.hw.Store(last + 1)
		p.updateLSO()
	}
	p.appendMu.Unlock()
	if err != nil {
		b.cfg.Logf("append %s-%d: %v", p.topic, p.index, err)
		return kerr.KafkaStorageError.Code, -1
	}
	p.wake()
	return 0, base
}

func recordsErrorCode(err error) int16 {
	switch {
	case errors.Is(err, records.ErrTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, records.ErrUnsupportedMagic):
		return kerr.UnsupportedVersion.Code
	case errors.Is(err, records.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	default:
		return kerr.CorruptMessage.Code
	}
}
