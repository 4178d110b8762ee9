package nullbroker

import "github.com/twmb/franz-go/pkg/kmsg"

// InitProducerId v0-4; v2 made it flexible, v3 added the producer id and
// epoch a client may send to bump its epoch. Idempotent producers need an id
// before their first produce; the null broker hands out fresh ids and never
// checks sequences (it stores nothing to deduplicate against).

func (b *Broker) initProducerID(version int16, body []byte) (kmsg.Response, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID = b.producerIDs.Add(1)
	resp.ProducerEpoch = 0
	return resp, nil
}
