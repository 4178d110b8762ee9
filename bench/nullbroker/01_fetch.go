package nullbroker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch v4-12 (v4 is the first carrying v2 record batches); v7 added fetch
// sessions, v11 the preferred read replica, v12 made it flexible (v13
// switches to topic ids, which the null broker does not have). Sessions are
// declined with session id 0, so clients send full fetches. Records come
// from the prebuilt batches, rebased to the offset asked for, up to the
// partition's end (its produced record count): every record served was
// produced, even though none was stored.

func (c *conn) fetch(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	minBytes := max(int(req.MinBytes), 1)
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	var timer *time.Timer
	for {
		// Register before looking, so records produced in between wake us.
		var wake <-chan struct{}
		if wait > 0 {
			c.b.waiters.Add(1)
			wake = c.b.wakeChan()
		}
		resp, n := c.fetchOnce(req)
		if n >= minBytes || wait <= 0 {
			if wait > 0 {
				c.b.waiters.Add(-1)
			}
			return resp, nil
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-wake:
			c.b.waiters.Add(-1)
		case <-timer.C:
			c.b.waiters.Add(-1)
			wait = 0 // one last look, then answer whatever there is
		case <-c.b.ctx.Done():
			c.b.waiters.Add(-1)
			return nil, c.b.ctx.Err()
		}
	}
}

// fetchOnce builds the response from what is there now and returns the
// record bytes it holds.
func (c *conn) fetchOnce(req *kmsg.FetchRequest) (*kmsg.FetchResponse, int) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	c.recs = c.recs[:0]
	remaining := int(req.MaxBytes)
	if req.Version < 3 || remaining <= 0 {
		remaining = maxFrame
	}
	total := 0
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, 0, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.PreferredReadReplica = -1
			p := c.b.partition(rt.Topic, rp.Partition)
			if p == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			end := p.end.Load()
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = end, end, 0
			switch {
			case rp.FetchOffset < 0 || rp.FetchOffset > end:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			case rp.FetchOffset < end && (total == 0 || remaining > 0):
				// Past the first batch of the response the limits hold
				// strictly.
				limit := min(int(rp.PartitionMaxBytes), remaining)
				at := len(c.recs)
				c.recs = c.b.batch.appendBatches(c.recs, rp.FetchOffset, end, limit, total == 0)
				// A later append may move c.recs; this slice keeps
				// pointing at the bytes already written.
				sp.RecordBatches = c.recs[at:len(c.recs):len(c.recs)]
				n := len(sp.RecordBatches)
				total += n
				remaining -= n
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, total
}
