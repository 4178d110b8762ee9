package cli

import (
	"strings"
	"testing"
)

// TestGroupProtocolFlag: a bad --group-protocol is refused naming the flag
// and the valid values; one that contradicts --consumer-props is refused;
// client-side group settings are refused with the consumer protocol.
func TestGroupProtocolFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"consume", "--group", "g", "--group-protocol", "queue"}, []string{"--group-protocol", `"queue"`, "classic, consumer"}},
		{[]string{"e2e", "--group", "g", "--group-protocol", "consumer", "--consumer-props", "group.protocol=classic"}, []string{"--group-protocol consumer conflicts", "group.protocol=classic"}},
		{[]string{"consume", "--group", "g", "--group-protocol", "consumer", "--consumer-props", "partition.assignment.strategy=range"}, []string{"partition.assignment.strategy", "group.protocol=consumer"}},
	} {
		code, _, errOut := run(t, c.args...)
		if code == 0 {
			t.Errorf("%v: exit 0, want an error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errOut, w)
			}
		}
	}
}
