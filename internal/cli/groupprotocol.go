package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kbench/kbench/bench"
)

// groupProtocolHelp documents --group-protocol; its values are
// bench.GroupProtocols.
var groupProtocolHelp = "consumer group protocol with --group: " + strings.Join(bench.GroupProtocols, " or ") +
	" (Kafka: group.protocol; consumer is KIP-848, the broker assigns: choose its assignor with --consumer-props group.remote.assignor=uniform|range)"

// checkGroupProtocol validates --group-protocol.
func checkGroupProtocol(v string) error {
	if !slices.Contains(bench.GroupProtocols, v) {
		return fmt.Errorf("--group-protocol %q: want one of %s", v, strings.Join(bench.GroupProtocols, ", "))
	}
	return nil
}
