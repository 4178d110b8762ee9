package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kbench/kbench/bench"
)

// groupProtocolHelp documents --group-protocol; its values are
// bench.GroupProtocols.
var groupProtocolHelp = "group protocol with --group: " + strings.Join(bench.GroupProtocols, ", ") +
	" (Kafka: group.protocol). consumer is KIP-848: the broker assigns, choose its assignor with --consumer-props group.remote.assignor=uniform|range." +
	" share is a KIP-932 share group: each record goes to one consumer and is acknowledged, consumers may share partitions;" +
	" a record not acknowledged within the group's share.record.lock.duration.ms is delivered again"

// checkGroupProtocol validates --group-protocol.
func checkGroupProtocol(v string) error {
	if !slices.Contains(bench.GroupProtocols, v) {
		return fmt.Errorf("--group-protocol %q: want one of %s", v, strings.Join(bench.GroupProtocols, ", "))
	}
	return nil
}
