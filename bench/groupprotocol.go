package bench

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// GroupProtocols are the consumer group protocols a consumer can use, as
// Kafka's group.protocol names them: classic (JoinGroup/SyncGroup, the
// client assigns; assignors from partition.assignment.strategy) and consumer
// (KIP-848: the broker assigns with the assignor group.remote.assignor names).
var GroupProtocols = []string{"classic", "consumer"}

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
