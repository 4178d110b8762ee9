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
// produced, even though none was stored. The response goes out with one
// writev that points at the templates (fetchwire.go), so no record byte is
// copied in user space, as with a broker's sendfile.

func (c *conn) fetch(h header, body []byte) error {
	req := kmsg.NewPtrFetchRequest()
	req.Version = h.version
	if err := req.ReadFrom(body); err != nil {
		return err
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
		resp, recs, n := c.fetchOnce(req)
		if n >= minBytes || wait <= 0 {
			if wait > 0 {
				c.b.waiters.Add(-1)
			}
			return c.writeFetch(h, resp, recs)
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
			return c.b.ctx.Err()
		}
	}
}

// fetchOnce builds the response from what is there now: the kmsg response
// without record bytes, each partition's batches in response order, and
// the record bytes in all.
func (c *conn) fetchOnce(req *kmsg.FetchRequest) (*kmsg.FetchResponse, [][]servedBatch, int) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	c.served = c.served[:0]
	recs := c.recs[:0]
	remaining := int(req.MaxBytes)
	if remaining <= 0 {
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
			var batches []servedBatch
			p := c.b.partition(rt.Topic, rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			default:
				end := p.end.Load()
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = end, end, 0
				switch {
				case rp.FetchOffset < 0 || rp.FetchOffset > end:
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				case rp.FetchOffset < end && (total == 0 || remaining > 0):
					// Past the first batch of the response the limits
					// hold strictly.
					limit := min(int(rp.PartitionMaxBytes), remaining)
					at := len(c.served)
					var n int
					c.served, n = c.b.batch.serve(c.served, rp.FetchOffset, end, limit, total == 0)
					// Later appends may move c.served; this slice keeps
					// pointing at the entries already written.
					batches = c.served[at:len(c.served):len(c.served)]
					total += n
					remaining -= n
				}
			}
			recs = append(recs, batches)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	c.recs = recs
	return resp, recs, total
}
