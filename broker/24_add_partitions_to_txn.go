package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// AddPartitionsToTxn v0-v3 (v3 flexible). v4's batched broker-to-broker form
// (KIP-890) is not advertised.

func (b *Broker) handleAddPartitionsToTxn(r *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	parts := make(map[string][]int32, len(r.Topics))
	for _, t := range r.Topics {
		parts[t.Topic] = append(parts[t.Topic], t.Partitions...)
	}
	var codes map[string]map[int32]int16
	if code := b.notTxnCoordinator(r.TransactionalID); code != 0 {
		codes = map[string]map[int32]int16{}
		for t, ps := range parts {
			codes[t] = map[int32]int16{}
			for _, p := range ps {
				codes[t][p] = code
			}
		}
	} else {
		codes = b.txns.addPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, parts)
	}
	for _, t := range r.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition = p
			sp.ErrorCode = codes[t.Topic][p]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
