package broker

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ShareFetch v1-v2 (flexible; v0 was Kafka 4.0's early access). v1 adds
// MaxRecords and BatchSize; v2 (Kafka 4.2) ShareAcquireMode (1: never more
// than MaxRecords, 0: whole batches) and IsRenewAck (the request only renews
// locks). Acknowledgements ride along per partition and are answered in
// AcknowledgeErrorCode. Epoch 0 opens a share session (acknowledgements are
// then INVALID_REQUEST: there is nothing acquired in a new session), -1
// acknowledges and closes it. An empty answer waits up to MaxWaitMillis for
// records: new ones, released ones, or ones whose lock expired.

func (b *Broker) handleShareFetch(c *conn, r *kmsg.ShareFetchRequest) reply {
	resp := r.ResponseKind().(*kmsg.ShareFetchResponse)
	group, member := deref(r.GroupID), deref(r.MemberID)
	cfg := b.shareConfig(group)
	resp.AcquisitionLockTimeoutMillis = int32(cfg.limits.lock.Milliseconds())
	fail := func(code int16, msg string) reply {
		resp.ErrorCode, resp.ErrorMessage = code, strp(msg)
		return reply{msg: resp}
	}
	if group == "" || member == "" || len(member) > 36 {
		return fail(kerr.InvalidRequest.Code, "GroupId and MemberId (1-36 characters) are required")
	}
	var acks []shareAcks
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			pa := shareAcks{tp: shareTP{t.TopicID, p.Partition}}
			for _, a := range p.AcknowledgementBatches {
				pa.acks = append(pa.acks, shareAck{first: a.FirstOffset, last: a.LastOffset, types: a.AcknowledgeTypes})
			}
			acks = append(acks, pa)
		}
	}
	renew := r.Version >= 2 && r.IsRenewAck
	if renew && (r.MaxBytes != 0 || r.MinBytes != 0 || r.MaxRecords != 0 || r.MaxWaitMillis != 0) {
		return fail(kerr.InvalidRequest.Code, "a renew-only ShareFetch must not fetch")
	}
	maxType := ackReject
	if renew {
		maxType = ackRenew
	}

	key := shareSessionKey{group, member}
	s := &b.share
	s.mu.Lock()
	s.initLocked()
	sess := s.sessions[key]
	switch {
	case r.ShareSessionEpoch == -1:
		if sess == nil {
			s.mu.Unlock()
			return fail(kerr.ShareSessionNotFound.Code, "no share session for this member")
		}
	case r.ShareSessionEpoch == 0:
		if len(acks) > 0 {
			s.mu.Unlock()
			return fail(kerr.InvalidRequest.Code, "a new share session has nothing to acknowledge")
		}
		b.watchConnLocked(c)
		sess = &shareSession{parts: map[shareTP]bool{}, conn: c}
		s.sessions[key] = sess
	case sess == nil:
		s.mu.Unlock()
		return fail(kerr.ShareSessionNotFound.Code, "no share session for this member")
	case r.ShareSessionEpoch != sess.epoch:
		s.mu.Unlock()
		return fail(kerr.InvalidShareSessionEpoch.Code, "share session epoch does not match")
	}
	if r.ShareSessionEpoch >= 0 {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				tp := shareTP{t.TopicID, p.Partition}
				if _, ok := sess.parts[tp]; !ok {
					sess.parts[tp] = true
				}
			}
		}
		for _, f := range r.ForgottenTopicsData {
			for _, p := range f.Partitions {
				delete(sess.parts, shareTP{f.TopicID, p})
			}
		}
		sess.bump()
	}
	s.mu.Unlock()

	names := b.topicNamesByID()
	now := time.Now()
	sf := newShareFetchResp(b, resp)
	b.applyShareAcks(group, member, acks, maxType, names, now, func(tp shareTP, code int16, p *partition) {
		sp := sf.partition(tp)
		sp.AcknowledgeErrorCode = code
		if code == kerr.NotLeaderForPartition.Code {
			sf.leader(sp, p)
		}
	})
	if r.ShareSessionEpoch == -1 {
		s.mu.Lock()
		if s.sessions[key] == sess {
			b.releaseSessionLocked(key, sess)
			delete(s.sessions, key)
		}
		s.mu.Unlock()
		return reply{msg: resp}
	}
	if renew {
		return reply{msg: resp}
	}
	fetch := func(now time.Time) int {
		return b.shareFetchOnce(sf, key, sess, r, cfg, names, now)
	}
	if n := fetch(now); n > 0 || r.MaxWaitMillis <= 0 {
		return reply{msg: resp}
	}
	wait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	return reply{later: func() reply {
		b.shareLongPoll(c, sess, names, wait, fetch)
		return reply{msg: resp}
	}}
}

// shareFetchOnce acquires records on the session's partitions into the
// response and returns how many it acquired. Partitions are visited from a
// point that rotates with the session epoch, so one busy partition does not
// starve the others of MaxRecords.
func (b *Broker) shareFetchOnce(sf *shareFetchResp, key shareSessionKey, sess *shareSession, r *kmsg.ShareFetchRequest, cfg shareGroupConfig, names map[[16]byte]string, now time.Time) int {
	s := &b.share
	s.mu.Lock()
	tps := make([]shareTP, 0, len(sess.parts))
	for tp := range sess.parts {
		tps = append(tps, tp)
	}
	epoch := sess.epoch
	s.mu.Unlock()
	sortShareTPs(tps)
	maxRecords := int(r.MaxRecords)
	if maxRecords <= 0 {
		maxRecords = defShareMaxRecords
	}
	budget := int64(r.MaxBytes)
	total := 0
	for i := range tps {
		tp := tps[(i+int(epoch))%len(tps)]
		part, code := b.sharePartFor(key.group, tp, names)
		if code != 0 {
			sp := sf.partition(tp)
			sp.ErrorCode = code
			if code == kerr.NotLeaderForPartition.Code {
				sf.leader(sp, b.topics.partition(names[tp.topic], tp.partition))
			}
			continue
		}
		if total >= maxRecords || budget <= 0 {
			continue
		}
		ranges, recs, err := b.acquire(part, key.member, cfg, maxRecords-total, budget, r.ShareAcquireMode == 1, now)
		if err != nil {
			b.cfg.Logf("share fetch %s on %x-%d: %v", key.group, tp.topic, tp.partition, err)
			sf.partition(tp).ErrorCode = kerr.KafkaStorageError.Code
			continue
		}
		if len(ranges) == 0 {
			continue
		}
		sp := sf.partition(tp)
		sp.Records, sp.AcquiredRecords = recs, ranges
		for _, a := range ranges {
			total += int(a.LastOffset - a.FirstOffset + 1)
		}
		budget -= int64(len(recs))
	}
	// Partitions new to the session, or that failed before, are reported
	// even without records, so the client knows the broker took them.
	s.mu.Lock()
	for _, tp := range tps {
		report, in := sess.parts[tp]
		if !in {
			continue
		}
		if report && !sf.has(tp) {
			sf.partition(tp)
		}
		if sf.has(tp) {
			sess.parts[tp] = sf.partition(tp).ErrorCode != 0
		}
	}
	s.mu.Unlock()
	return total
}

// shareLongPoll re-runs fetch whenever a session partition may have records
// (an append, a release, an expired lock) until it acquires some, the wait
// ends, or the connection or broker closes.
func (b *Broker) shareLongPoll(c *conn, sess *shareSession, names map[[16]byte]string, wait time.Duration, fetch func(time.Time) int) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	ch := make(chan struct{}, 1)
	var parts []*partition
	b.share.mu.Lock()
	for tp := range sess.parts {
		if p := b.topics.partition(names[tp.topic], tp.partition); p != nil {
			parts = append(parts, p)
		}
	}
	b.share.mu.Unlock()
	defer func() {
		for _, p := range parts {
			p.removeWaiter(ch)
		}
	}()
	for {
		for _, p := range parts {
			p.removeWaiter(ch)
			p.addWaiter(ch)
		}
		if fetch(time.Now()) > 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			return
		case <-c.done:
			return
		case <-b.stop:
			return
		}
	}
}

// shareFetchResp indexes a ShareFetch response's partitions.
type shareFetchResp struct {
	b    *Broker
	resp *kmsg.ShareFetchResponse
	at   map[shareTP][2]int
	ends bool // NodeEndpoints filled
}

func newShareFetchResp(b *Broker, resp *kmsg.ShareFetchResponse) *shareFetchResp {
	return &shareFetchResp{b: b, resp: resp, at: map[shareTP][2]int{}}
}

func (f *shareFetchResp) has(tp shareTP) bool { _, ok := f.at[tp]; return ok }

func (f *shareFetchResp) partition(tp shareTP) *kmsg.ShareFetchResponseTopicPartition {
	if at, ok := f.at[tp]; ok {
		return &f.resp.Topics[at[0]].Partitions[at[1]]
	}
	ti := -1
	for i := range f.resp.Topics {
		if f.resp.Topics[i].TopicID == tp.topic {
			ti = i
		}
	}
	if ti < 0 {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = tp.topic
		f.resp.Topics = append(f.resp.Topics, t)
		ti = len(f.resp.Topics) - 1
	}
	sp := kmsg.NewShareFetchResponseTopicPartition()
	sp.Partition = tp.partition
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = -1, -1
	f.resp.Topics[ti].Partitions = append(f.resp.Topics[ti].Partitions, sp)
	f.at[tp] = [2]int{ti, len(f.resp.Topics[ti].Partitions) - 1}
	return &f.resp.Topics[ti].Partitions[len(f.resp.Topics[ti].Partitions)-1]
}

// leader fills the current leader of p and the brokers' endpoints, so the
// client can move the partition without a metadata round trip.
func (f *shareFetchResp) leader(sp *kmsg.ShareFetchResponseTopicPartition, p *partition) {
	if p == nil {
		return
	}
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = f.b.currentLeader(p)
	if f.ends {
		return
	}
	f.ends = true
	if img := f.b.image.Load(); img != nil {
		for _, ib := range img.brokers {
			ne := kmsg.NewShareFetchResponseNodeEndpoint()
			ne.NodeID, ne.Host, ne.Port = ib.id, ib.host, ib.port
			f.resp.NodeEndpoints = append(f.resp.NodeEndpoints, ne)
		}
	}
}

// currentLeader is p's leader and leader epoch in the cluster image (-1, -1
// when unknown).
func (b *Broker) currentLeader(p *partition) (id, epoch int32) {
	if img := b.image.Load(); img != nil {
		if it := img.topics[p.topic]; it != nil && int(p.index) < len(it.partitions) {
			ip := it.partitions[p.index]
			return ip.leader, ip.leaderEpoch
		}
	}
	return -1, -1
}

func sortShareTPs(tps []shareTP) {
	slices.SortFunc(tps, func(a, b shareTP) int {
		if c := bytes.Compare(a.topic[:], b.topic[:]); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
