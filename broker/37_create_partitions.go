package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreatePartitions v0-v2. v1 adds nothing semantic; v2 is flexible. Manual
// assignments are rejected: partitions are placed by the broker.

func (b *Broker) handleCreatePartitions(r *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		if len(rt.Assignment) > 0 {
			err = fmt.Errorf("%w: manual assignment is not supported", errInvalidReplication)
		} else {
			err = b.topics.addPartitions(rt.Topic, rt.Count, r.ValidateOnly)
		}
		st.ErrorCode = errorCode(err)
		st.ErrorMessage = errMessage(err)
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
