package broker

import (
	"errors"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/storage"
)

// Fetch v0-v12. v3 adds max_bytes; v4 isolation level, last stable offset and
// aborted transactions; v5 log start offset; v7 fetch sessions (KIP-227: we
// always answer full responses with session id 0, which tells the client not
// to use incremental fetches); v9 current leader epoch; v11 rack / preferred
// replica; v12 is flexible. Records are only served below the high watermark
// and go from the segment files to the socket with sendfile (fetchwire.go).

func (b *Broker) handleFetch(c *conn, r *kmsg.FetchRequest) reply {
	if r.SessionID != 0 && r.SessionEpoch > 0 {
		// We never hand out session ids, so an incremental fetch refers to an
		// unknown session.
		return reply{fetch: fetchError(r, kerr.FetchSessionIDNotFound.Code)}
	}
	fw, n := b.buildFetch(r)
	wait := time.Duration(r.MaxWaitMillis) * time.Millisecond
	if wait <= 0 || n >= int64(r.MinBytes) || fw.hasErr {
		return reply{fetch: fw}
	}
	fw.free()
	return reply{later: func() reply { return reply{fetch: b.longPoll(c, r, wait)} }}
}

// longPoll waits until min_bytes are available, the wait expires, or the
// connection or broker closes, then builds the response.
func (b *Broker) longPoll(c *conn, r *kmsg.FetchRequest, wait time.Duration) *fetchWire {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	ch := make(chan struct{}, 1)
	var parts []*partition
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			if p := b.topics.partition(rt.Topic, rp.Partition); p != nil {
				parts = append(parts, p)
			}
		}
	}
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
		// Re-check after registering so an append between build and
		// register is not missed.
		fw, n := b.buildFetch(r)
		if n >= int64(r.MinBytes) || fw.hasErr {
			return fw
		}
		select {
		case <-ch:
			fw.free()
		case <-deadline.C:
			return fw
		case <-c.done:
			return fw
		case <-b.stop:
			return fw
		}
	}
}

// buildFetch reads every requested partition and returns the encoded
// response and the number of record bytes in it.
func (b *Broker) buildFetch(r *kmsg.FetchRequest) (*fetchWire, int64) {
	fw := newFetchWire(r.Version)
	fw.header(0, 0)
	remaining := int64(math.MaxInt32)
	if r.Version >= 3 {
		remaining = int64(r.MaxBytes)
	}
	var total int64
	readCommitted := r.Version >= 4 && r.IsolationLevel == 1
	// A follower (replica id >= 0) reads up to the log end, and its fetch
	// offset tells the leader how far it has replicated.
	replica := r.ReplicaID >= 0
	now := time.Now()
	fw.arrayLen(len(r.Topics))
	for _, rt := range r.Topics {
		fw.str(rt.Topic)
		fw.arrayLen(len(rt.Partitions))
		t := b.topics.get(rt.Topic)
		for _, rp := range rt.Partitions {
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.partitions) {
				fw.partitionError(rp.Partition, kerr.UnknownTopicOrPartition.Code)
				fw.hasErr = true
				continue
			}
			p := t.partitions[rp.Partition]
			if p == nil || !p.isLeader.Load() {
				fw.partitionError(rp.Partition, kerr.NotLeaderForPartition.Code)
				fw.hasErr = true
				continue
			}
			if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, p.epoch.Load()); code != 0 {
				fw.partitionError(rp.Partition, code)
				fw.hasErr = true
				continue
			}
			leo := p.log.EndOffset()
			start := p.log.StartOffset()
			if rp.FetchOffset < start || rp.FetchOffset > leo {
				fw.partitionHeader(rp.Partition, kerr.OffsetOutOfRange.Code, p.hw.Load(), p.lso.Load(), start, nil)
				fw.records(nil)
				fw.hasErr = true
				continue
			}
			// Only an offset inside the log is a follower's position: one
			// past the end would raise the HW over records it lacks.
			if replica {
				if isr, epochs := p.followerFetched(r.ReplicaID, rp.FetchOffset, now); isr != nil {
					b.cfg.Logf("%s-%d: replica %d caught up, expanding ISR to %v", p.topic, p.index, r.ReplicaID, isr)
					b.alterISR(p, isr, epochs)
				}
			}
			hw := p.hw.Load()
			lso := p.lso.Load()
			limit := hw
			switch {
			case replica:
				limit = leo
			case readCommitted:
				limit = lso
			}
			var slice *storage.Slice
			if rp.FetchOffset < limit && remaining > 0 {
				maxBytes := min(int64(rp.PartitionMaxBytes), remaining)
				s, err := p.log.Read(rp.FetchOffset, maxBytes, limit)
				switch {
				case errors.Is(err, storage.ErrOffsetOutOfRange):
					// Retention moved the start between our check and the read.
					fw.partitionHeader(rp.Partition, kerr.OffsetOutOfRange.Code, hw, lso, p.log.StartOffset(), nil)
					fw.records(nil)
					fw.hasErr = true
					continue
				case err != nil:
					b.cfg.Logf("fetch %s-%d at %d: %v", p.topic, p.index, rp.FetchOffset, err)
					fw.partitionError(rp.Partition, kerr.KafkaStorageError.Code)
					fw.hasErr = true
					continue
				}
				// Only the first partition with data may exceed the limits
				// (KIP-74), so a client can always make progress.
				if s.Bytes > maxBytes && total > 0 {
					s.Release()
				} else {
					slice = s
				}
			}
			var aborted []abortedTxn
			if readCommitted && slice != nil {
				p.appendMu.Lock()
				aborted = p.ps.abortedIn(rp.FetchOffset, limit)
				p.appendMu.Unlock()
			}
			fw.partitionHeader(rp.Partition, 0, hw, lso, start, aborted)
			fw.records(slice)
			if slice != nil {
				total += slice.Bytes
				remaining -= slice.Bytes
			}
		}
		fw.tags()
	}
	fw.tags()
	return fw, total
}

// fetchError is a response with only a top-level error code.
func fetchError(r *kmsg.FetchRequest, code int16) *fetchWire {
	fw := newFetchWire(r.Version)
	fw.header(code, 0)
	fw.arrayLen(0)
	fw.tags()
	return fw
}
