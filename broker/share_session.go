package broker

import (
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records"
)

// Share sessions and share partitions on a partition leader (Kafka's
// SharePartitionManager). A share consumer opens one session per broker
// (ShareFetch epoch 0), names the partitions it reads from that broker, and
// then counts the session epoch up with every ShareFetch and
// ShareAcknowledge; epoch -1 closes the session and releases the records it
// still holds, as does the connection closing. A wrong epoch is
// INVALID_SHARE_SESSION_EPOCH, an unknown session SHARE_SESSION_NOT_FOUND.
//
// Lock order: shareState.mu, then a sharePart's mu. Log reads happen under
// the sharePart's mu only.

type shareSessionKey struct{ group, member string }

type shareTP struct {
	topic     [16]byte
	partition int32
}

type shareSession struct {
	epoch int32            // the epoch the next request must carry
	parts map[shareTP]bool // in the session → must appear in the next response
	conn  *conn
}

type sharePartKey struct {
	group string
	tp    shareTP
}

// sharePart is a share partition with the log partition it tracks.
type sharePart struct {
	mu sync.Mutex
	p  *partition
	sp *sharePartition
}

func (s *shareSession) bump() {
	if s.epoch == math.MaxInt32 {
		s.epoch = 1
		return
	}
	s.epoch++
}

// sharePartFor returns the group's state on a partition this broker leads,
// creating it on first use; the code is the partition's error otherwise.
func (b *Broker) sharePartFor(group string, tp shareTP, names map[[16]byte]string) (*sharePart, int16) {
	name, ok := names[tp.topic]
	if !ok {
		return nil, kerr.UnknownTopicID.Code
	}
	p := b.topics.partition(name, tp.partition)
	if p == nil {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	key := sharePartKey{group, tp}
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	if !p.isLeader.Load() {
		delete(s.parts, key) // a later leadership starts afresh
		return nil, kerr.NotLeaderForPartition.Code
	}
	part := s.parts[key]
	if part == nil || part.p != p {
		part = &sharePart{p: p, sp: newSharePartition()}
		s.parts[key] = part
	}
	return part, 0
}

// releaseSessionLocked releases every record the member holds on the
// session's partitions. Caller holds shareState.mu.
func (b *Broker) releaseSessionLocked(key shareSessionKey, sess *shareSession) {
	lim := b.shareConfig(key.group).limits
	for tp := range sess.parts {
		part := b.share.parts[sharePartKey{key.group, tp}]
		if part == nil {
			continue
		}
		part.mu.Lock()
		released := part.sp.releaseMember(key.member, lim)
		part.mu.Unlock()
		if released {
			part.p.wake()
		}
	}
}

// closeShareSessions drops the sessions a closed connection opened,
// releasing their records.
func (b *Broker) closeShareSessions(c *conn) {
	s := &b.share
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, sess := range s.sessions {
		if sess.conn == c {
			b.releaseSessionLocked(key, sess)
			delete(s.sessions, key)
		}
	}
}

// watchConnLocked arranges closeShareSessions for c once: a connection
// that already has a session is watched. Caller holds shareState.mu.
func (b *Broker) watchConnLocked(c *conn) {
	for _, sess := range b.share.sessions {
		if sess.conn == c {
			return // already watched
		}
	}
	go func() {
		select {
		case <-c.done:
			b.closeShareSessions(c)
		case <-b.stop:
		}
	}()
}

// shareTicker expires record locks and share-group members.
func (b *Broker) shareTicker() {
	defer b.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.expireShareLocks(now)
			b.expireShareMembers(now)
		}
	}
}

func (b *Broker) expireShareLocks(now time.Time) {
	s := &b.share
	s.mu.Lock()
	parts := make([]*sharePart, 0, len(s.parts))
	groups := make([]string, 0, len(s.parts))
	for key, part := range s.parts {
		parts = append(parts, part)
		groups = append(groups, key.group)
	}
	s.mu.Unlock()
	for i, part := range parts {
		lim := b.shareConfig(groups[i]).limits
		part.mu.Lock()
		released := part.sp.expire(now, lim)
		part.mu.Unlock()
		if released {
			part.p.wake()
		}
	}
}

// shareAcks is one partition's acknowledgements in a request.
type shareAcks struct {
	tp   shareTP
	acks []shareAck
}

// applyShareAcks applies acknowledgements, calling result with each
// partition's outcome.
func (b *Broker) applyShareAcks(group, member string, all []shareAcks, maxType int8, names map[[16]byte]string, now time.Time, result func(tp shareTP, code int16, p *partition)) {
	if len(all) == 0 {
		return
	}
	lim := b.shareConfig(group).limits
	for _, pa := range all {
		if !validAcks(pa.acks, maxType) {
			result(pa.tp, kerr.InvalidRequest.Code, nil)
			continue
		}
		part, code := b.sharePartFor(group, pa.tp, names)
		if code != 0 {
			var p *partition
			if name, ok := names[pa.tp.topic]; ok {
				p = b.topics.partition(name, pa.tp.partition)
			}
			result(pa.tp, code, p)
			continue
		}
		part.mu.Lock()
		full, spso := part.sp.full(lim), part.sp.spso
		code, released := part.sp.ack(member, pa.acks, now, lim)
		freed := full && part.sp.spso != spso
		part.mu.Unlock()
		if released || freed {
			part.p.wake() // fetches waiting for records, or for room in the window
		}
		result(pa.tp, code, part.p)
	}
}

// acquire hands up to want records of part to member and returns their
// ranges and the record bytes that hold them. budget bounds how many new
// bytes are read from the log; recordLimit (ShareAcquireMode 1) forbids
// rounding up to whole batches.
func (b *Broker) acquire(part *sharePart, member string, cfg shareGroupConfig, want int, budget int64, recordLimit bool, now time.Time) ([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, []byte, error) {
	part.mu.Lock()
	defer part.mu.Unlock()
	sp, p, lim := part.sp, part.p, cfg.limits
	logStart, hw := p.log.StartOffset(), p.hw.Load()
	if cfg.earliest {
		sp.start(logStart)
	} else {
		sp.start(hw)
	}
	sp.truncateTo(logStart)
	sp.expire(now, lim)
	ranges, n := sp.acquireAvailable(member, want, now, lim, nil)
	scanFrom := sp.speo()
	var scanned []byte
	if n < want && scanFrom < hw && !sp.full(lim) {
		buf, err := p.log.ReadBytes(scanFrom, min(budget, 1<<20), hw)
		if err != nil {
			return ranges, nil, err
		}
		used, err := records.Iterate(buf, func(h records.Header, _ []byte) bool {
			if h.LastOffset() < sp.speo() {
				return true // a batch the window already holds
			}
			if n >= want || sp.full(lim) {
				return false
			}
			quota := -1
			if recordLimit {
				quota = want - n
			}
			var k int
			ranges, k = sp.extend(h, member, quota, now, lim, ranges)
			n += k
			return true
		})
		if err != nil {
			return ranges, nil, err
		}
		scanned = buf[:used]
	}
	if len(ranges) == 0 {
		return nil, nil, nil
	}
	first, last := ranges[0].FirstOffset, ranges[len(ranges)-1].LastOffset
	if first >= scanFrom {
		return ranges, scanned, nil // only new records: the scan read holds them
	}
	// Redelivered records: read from the first of them to the last range's
	// end; the window bounds how much that is.
	buf, err := p.log.ReadBytes(max(first, logStart), math.MaxInt32, last+1)
	return ranges, buf, err
}
