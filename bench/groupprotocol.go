package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupProtocols are the consumer group protocols a consumer can use, as
// Kafka's group.protocol names them: classic (JoinGroup/SyncGroup, the
// client assigns; assignors from partition.assignment.strategy) and consumer
// (KIP-848: the broker assigns with the assignor group.remote.assignor
// names), and share (KIP-932: a share group, each record handed to one
// member and acknowledged by it, members sharing partitions).
var GroupProtocols = []string{"classic", "consumer", "share"}

// RemoteAssignors are the broker-side assignors of the consumer protocol.
var RemoteAssignors = []string{"uniform", "range"}

// checkGroupProtocol rejects what the Java consumer rejects: client-side
// group settings with group.protocol=consumer (the broker owns assignment
// and the session there), and a remote assignor with the classic protocol.
func (s *clientSettings) checkGroupProtocol() error {
	if s.groupProtocol == "consumer" {
		for _, k := range []string{"partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"} {
			if _, ok := s.explicit[k]; ok {
				return fmt.Errorf("property %s is not supported with group.protocol=consumer: the broker assigns partitions (group.remote.assignor: %s) and sets the session and heartbeat interval", k, strings.Join(RemoteAssignors, ", "))
			}
		}
		return nil
	}
	if _, ok := s.explicit["group.remote.assignor"]; ok {
		return fmt.Errorf("property group.remote.assignor needs group.protocol=consumer; the classic protocol takes partition.assignment.strategy")
	}
	return nil
}

// serverSideOptions select KIP-848 in franz-go: ServerSideBalancer, with the
// balancer that names the broker assignor first (sticky asks for uniform).
func (s *clientSettings) serverSideOptions() []kgo.Opt {
	b := kgo.StickyBalancer()
	if s.remoteAssignor == "range" {
		b = kgo.RangeBalancer()
	}
	return []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(b)}
}

// checkConsumerProtocol confirms that a group run with group.protocol=consumer
// really is a KIP-848 group: franz-go silently falls back to the classic
// protocol when the cluster does not offer ConsumerGroupHeartbeat v1, and a
// benchmark of the wrong protocol must not pass for the right one.
func checkConsumerProtocol(ctx context.Context, cl *kgo.Client, group string, members int) error {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx, cl)
	fallback := "group.protocol=consumer: group %s is not a consumer-protocol (KIP-848) group on this cluster (%s); franz-go fell back to the classic protocol"
	switch {
	case err != nil:
		return fmt.Errorf(fallback, group, err)
	case len(resp.Groups) != 1:
		return fmt.Errorf(fallback, group, "no answer for the group")
	case resp.Groups[0].ErrorCode != 0:
		return fmt.Errorf(fallback, group, kerr.ErrorForCode(resp.Groups[0].ErrorCode))
	case len(resp.Groups[0].Members) != members:
		return fmt.Errorf("group.protocol=consumer: group %s has %d members, want %d", group, len(resp.Groups[0].Members), members)
	}
	return nil
}
