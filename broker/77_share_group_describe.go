package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// ShareGroupDescribe v1 (flexible). Per group: state (Empty or Stable), group
// and assignment epochs, the "simple" assignor, and every member with its
// subscription and assignment. GROUP_ID_NOT_FOUND for an unknown group or one
// that is not a share group; authorized operations are not reported.

func (b *Broker) handleShareGroupDescribe(r *kmsg.ShareGroupDescribeRequest) *kmsg.ShareGroupDescribeResponse {
	return b.shareGroupDescribe(r)
}
