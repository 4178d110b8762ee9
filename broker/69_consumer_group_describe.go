package broker

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerGroupDescribe v0-v1 (KIP-848): group epoch, target assignment
// epoch, assignor, and each member's epoch, subscription, assignment and
// target assignment. A group that does not exist, or is a classic group,
// answers GROUP_ID_NOT_FOUND. v1 adds the member type. Authorized operations
// are not computed (reported as unset).

func (b *Broker) handleConsumerGroupDescribe(r *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := r.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range r.Groups {
		if code := b.notCoordinator(id); code != 0 {
			d := kmsg.NewConsumerGroupDescribeResponseGroup()
			d.Group, d.ErrorCode = id, code
			resp.Groups = append(resp.Groups, d)
			continue
		}
		resp.Groups = append(resp.Groups, b.groups.describeConsumer(id, time.Now()))
	}
	return resp
}
