package broker

import (
	"testing"

	"github.com/kbench/kbench/internal/topicconf"
)

func TestEveryTopicConfigHasADefault(t *testing.T) {
	for _, name := range topicconf.Names() {
		if topicDefaults[name] == nil {
			t.Errorf("topic config %s has no broker default", name)
		}
	}
	if len(topicDefaults) != len(topicconf.Names()) {
		t.Errorf("got %d defaults for %d keys", len(topicDefaults), len(topicconf.Names()))
	}
}
