package broker

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Steady-state produce allocates nothing: the frame buffer and decoded
// request belong to the connection (conn.go, produce_decode.go), and the
// response slot and produce response come from the pools below and go back
// once written (fetch responses: fetchwire.go).

const produceKey = 0

// firstFlexible[key] is the first flexible version of each request key (-1:
// none), so framing a response needs no kmsg struct to ask.
var firstFlexible = func() (t [128]int16) {
	for key := range t {
		t[key] = -1
		req := kmsg.RequestForKey(int16(key))
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if req.IsFlexible() {
				t[key] = v
				break
			}
		}
	}
	return t
}()

// flexible reports whether version of key uses the flexible encoding.
func flexible(key, version int16) bool {
	if key < 0 || int(key) >= len(firstFlexible) {
		return false
	}
	f := firstFlexible[key]
	return f >= 0 && version >= f
}

var pendingPool = sync.Pool{New: func() any { return new(pending) }}

func newPending(h reqHeader, r reply) *pending {
	p := pendingPool.Get().(*pending)
	p.hdr, p.r = h, r
	return p
}

// recycle returns a written pending (and its produce response) to the
// pools. Only the writer calls it, after the response is on the wire and
// the handler's goroutine, if any, has finished.
func (p *pending) recycle() {
	if resp, ok := p.r.msg.(*kmsg.ProduceResponse); ok {
		produceRespPool.Put(resp)
	}
	if p.r.fetch != nil {
		p.r.fetch.free()
	}
	*p = pending{}
	pendingPool.Put(p)
}

var produceRespPool = sync.Pool{New: func() any { return new(kmsg.ProduceResponse) }}

// newProduceResponse returns an empty produce response of version that
// keeps the slices of its previous use.
func newProduceResponse(version int16) *kmsg.ProduceResponse {
	resp := produceRespPool.Get().(*kmsg.ProduceResponse)
	topics := resp.Topics[:0]
	*resp = kmsg.ProduceResponse{Version: version, Topics: topics}
	return resp
}

// addProduceTopic appends a topic to resp, reusing the partitions slice an
// earlier use left in that slot.
func addProduceTopic(resp *kmsg.ProduceResponse, topic string) *kmsg.ProduceResponseTopic {
	n := len(resp.Topics)
	if n < cap(resp.Topics) {
		resp.Topics = resp.Topics[:n+1]
	} else {
		resp.Topics = append(resp.Topics, kmsg.ProduceResponseTopic{})
	}
	st := &resp.Topics[n]
	parts := st.Partitions[:0]
	*st = kmsg.ProduceResponseTopic{Topic: topic, Partitions: parts}
	return st
}

// addProducePartition appends a partition answer with Kafka's "unknown"
// defaults (-1 offsets and times).
func addProducePartition(st *kmsg.ProduceResponseTopic, partition int32) *kmsg.ProduceResponseTopicPartition {
	sp := kmsg.ProduceResponseTopicPartition{Partition: partition, BaseOffset: -1}
	sp.Default()
	st.Partitions = append(st.Partitions, sp)
	return &st.Partitions[len(st.Partitions)-1]
}
