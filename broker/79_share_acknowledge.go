package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareAcknowledge v1-v2 (flexible; v0 was Kafka 4.0's early access). v2
// adds IsRenewAck (type 4 renews a lock) and AcquisitionLockTimeoutMillis.
// It needs an open share session: epoch 0 is INVALID_SHARE_SESSION_EPOCH,
// -1 acknowledges and closes the session. Acknowledging a record the member
// does not hold is INVALID_RECORD_STATE for its partition, and nothing of
// that partition's batches is applied.

func (b *Broker) handleShareAcknowledge(r *kmsg.ShareAcknowledgeRequest) *kmsg.ShareAcknowledgeResponse {
	resp := r.ResponseKind().(*kmsg.ShareAcknowledgeResponse)
	group, member := deref(r.GroupID), deref(r.MemberID)
	resp.AcquisitionLockTimeoutMillis = int32(b.shareConfig(group).limits.lock.Milliseconds())
	fail := func(code int16, msg string) *kmsg.ShareAcknowledgeResponse {
		resp.ErrorCode, resp.ErrorMessage = code, strp(msg)
		return resp
	}
	if group == "" || member == "" || len(member) > 36 {
		return fail(kerr.InvalidRequest.Code, "GroupId and MemberId (1-36 characters) are required")
	}
	if r.ShareSessionEpoch == 0 {
		return fail(kerr.InvalidShareSessionEpoch.Code, "ShareAcknowledge needs an open share session")
	}
	maxType := ackReject
	if r.Version >= 2 && r.IsRenewAck {
		maxType = ackRenew
	}
	key := shareSessionKey{group, member}
	s := &b.share
	s.mu.Lock()
	s.initLocked()
	sess := s.sessions[key]
	switch {
	case sess == nil:
		s.mu.Unlock()
		return fail(kerr.ShareSessionNotFound.Code, "no share session for this member")
	case r.ShareSessionEpoch > 0 && r.ShareSessionEpoch != sess.epoch:
		s.mu.Unlock()
		return fail(kerr.InvalidShareSessionEpoch.Code, "share session epoch does not match")
	case r.ShareSessionEpoch > 0:
		sess.bump()
	}
	s.mu.Unlock()

	var acks []shareAcks
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			pa := shareAcks{tp: shareTP{t.TopicID, p.Partition}}
			for _, a := range p.AcknowledgementBatches {
				pa.acks = append(pa.acks, shareAck{first: a.FirstOffset, last: a.LastOffset, types: a.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	names := b.topicNamesByID()
	ends := false
	b.applyShareAcks(group, member, acks, maxType, names, time.Now(), func(tp shareTP, code int16, p *partition) {
		ti := -1
		for i := range resp.Topics {
			if resp.Topics[i].TopicID == tp.topic {
				ti = i
			}
		}
		if ti < 0 {
			t := kmsg.NewShareAcknowledgeResponseTopic()
			t.TopicID = tp.topic
			resp.Topics = append(resp.Topics, t)
			ti = len(resp.Topics) - 1
		}
		sp := kmsg.NewShareAcknowledgeResponseTopicPartition()
		sp.Partition, sp.ErrorCode = tp.partition, code
		sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = -1, -1
		if code == kerr.NotLeaderForPartition.Code && p != nil {
			sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = b.currentLeader(p)
			if img := b.image.Load(); img != nil && !ends {
				ends = true
				for _, ib := range img.brokers {
					ne := kmsg.NewShareAcknowledgeResponseNodeEndpoint()
					ne.NodeID, ne.Host, ne.Port = ib.id, ib.host, ib.port
					resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
				}
			}
		}
		resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, sp)
	})
	if r.ShareSessionEpoch == -1 {
		s.mu.Lock()
		if s.sessions[key] == sess {
			b.releaseSessionLocked(key, sess)
			delete(s.sessions, key)
		}
		s.mu.Unlock()
	}
	return resp
}
