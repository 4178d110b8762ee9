package broker

import (
	"errors"
	"strings"
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

// ackWait is an acks=all partition waiting for its high watermark.
type ackWait struct {
	p       *partition
	target  int64
	minISR  int
	t, part int // the partition's place in the response
	done    bool
}

func (b *Broker) handleProduce(r *kmsg.ProduceRequest) reply {
	// r is the connection's reused request and its strings alias the frame
	// buffer the next produce request overwrites (conn.go): nothing of r may
	// outlive this call, so the response carries the topic's own name.
	resp := newProduceResponse(r.Version)
	badAcks := r.Acks != 0 && r.Acks != 1 && r.Acks != -1
	now := time.Now().UnixMilli()
	var parked *ackRequest
	for i := range r.Topics {
		rt := &r.Topics[i]
		t := b.topics.get(rt.Topic)
		name := ""
		if t != nil {
			name = t.name
		} else {
			name = strings.Clone(rt.Topic)
		}
		st := addProduceTopic(resp, name)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := addProducePartition(st, rp.Partition)
			switch {
			case badAcks:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case isInternalTopic(name):
				sp.ErrorCode = kerr.InvalidTopicException.Code // only coordinators write there
			case t.partitions[rp.Partition] == nil:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				p := t.partitions[rp.Partition]
				var next int64
				sp.ErrorCode, sp.BaseOffset, next = b.produceTo(p, &t.settings, rp.Records, now, r.Acks)
				if sp.ErrorCode == 0 && t.settings.logAppendTime {
					sp.LogAppendTime = now
				}
				sp.LogStartOffset = p.log.StartOffset()
				// An ISR that shrank after the append may have let the HW
				// pass it: the parked slot then answers
				// NOT_ENOUGH_REPLICAS_AFTER_APPEND at once.
				if sp.ErrorCode == 0 && r.Acks == -1 && (p.hw.Load() < next || int(p.isrLen.Load()) < t.settings.minInsync) {
					if parked == nil {
						parked = &ackRequest{resp: resp, messages: r.Version >= 8, timeout: time.Duration(max(r.TimeoutMillis, 1)) * time.Millisecond}
					}
					parked.slots = append(parked.slots, ackWait{p: p, target: next, minISR: t.settings.minInsync, t: i, part: j})
				}
			}
			if sp.ErrorCode != 0 && r.Version >= 8 {
				sp.ErrorMessage = strp(kerr.ErrorForCode(sp.ErrorCode).Error())
			}
		}
	}
	if r.Acks == 0 {
		produceRespPool.Put(resp)
		return reply{none: true}
	}
	if parked == nil {
		return reply{msg: resp}
	}
	// acks=all: answer once the high watermark passes every batch, or with
	// REQUEST_TIMED_OUT after the request's timeout (purgatory.go).
	parked.remaining = len(parked.slots)
	return reply{acks: parked}
}

// produceTo validates and appends one partition's records; it returns the
// Kafka error code, the base offset assigned and the offset after the last
// record (what the high watermark must reach for acks=all).
func (b *Broker) produceTo(p *partition, s *topicSettings, recs []byte, now int64, acks int16) (int16, int64, int64) {
	if !p.isLeader.Load() {
		return kerr.NotLeaderForPartition.Code, -1, -1
	}
	if len(recs) == 0 {
		return kerr.CorruptMessage.Code, -1, -1
	}
	if _, err := records.Validate(recs, s.maxMessageBytes); err != nil {
		return recordsErrorCode(err), -1, -1
	}
	if s.logAppendTime {
		records.Iterate(recs, func(_ records.Header, batch []byte) bool {
			records.SetLogAppendTime(batch, now)
			return true
		})
	}
	p.appendMu.Lock()
	if !p.isLeader.Load() { // lost leadership since the check above
		p.appendMu.Unlock()
		return kerr.NotLeaderForPartition.Code, -1, -1
	}
	// ISR changes take appendMu too (setISR), so the ISR checked here is
	// the one the append happens under.
	if acks == -1 && int(p.isrLen.Load()) < s.minInsync {
		p.appendMu.Unlock()
		return kerr.NotEnoughReplicas.Code, -1, -1
	}
	chk := p.ps.check(recs)
	if chk.code != 0 || chk.duplicate {
		p.appendMu.Unlock()
		if chk.duplicate {
			// A retried batch already in the log: acknowledge it with its
			// original offset instead of appending it again.
			return 0, chk.dupBase, chk.dupEnd + 1
		}
		return chk.code, -1, -1
	}
	base, last, err := p.log.Append(recs, p.epoch.Load())
	if err == nil {
		p.ps.appended(chk, base, last)
		p.openTxnsChanged()
		p.leaderAppended()
	}
	p.appendMu.Unlock()
	if err != nil {
		b.cfg.Logf("append %s-%d: %v", p.topic, p.index, err)
		return kerr.KafkaStorageError.Code, -1, -1
	}
	p.wake()
	return 0, base, last + 1
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
