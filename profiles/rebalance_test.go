package profiles

import (
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench/rebalance"
)

func TestRebalanceBuiltin(t *testing.T) {
	if !IsRebalance("rebalance") || IsRebalance("quick") {
		t.Fatal("IsRebalance: want true for rebalance, false for quick")
	}
	p, err := LoadRebalance("rebalance", []string{"group_sizes=[2, 3]", "settle=2s"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "rebalance" || p.Source != "builtin" || len(p.Sizes) != 2 || p.Settle != 2*time.Second ||
		len(p.Protocols) != len(rebalance.Protocols) || len(p.Events) != len(rebalance.Events) || p.Brokers != 3 {
		t.Fatalf("got %+v", p)
	}
	if args := strings.Join(p.BrokerArgs(), " "); args != "--consumer-group-session-timeout=6s --consumer-group-heartbeat-interval=1s" {
		t.Fatalf("broker args %q", args)
	}
}

func TestRebalanceErrors(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want []string
	}{
		{[]string{"protocols=[classic-eager, sticky]"}, []string{"protocols", `"sticky"`, "classic-eager, classic-cooperative, consumer"}},
		{[]string{"events=[explode]"}, []string{"events", "join, leave, crash"}},
		{[]string{"group_sizes=[1]"}, []string{"group_sizes", "2..500"}},
		{[]string{"session_timeout=2s"}, []string{"session_timeout", "at least 6s"}},
		{[]string{"settle=500ms"}, []string{"settle", "must exceed heartbeat_interval"}},
		{[]string{"timeout=8s"}, []string{"timeout", "crash"}},
		{[]string{"partitions=3"}, []string{"partitions", "field"}},
	} {
		_, err := LoadRebalance("rebalance", c.set)
		if err == nil {
			t.Errorf("%v: got no error", c.set)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", c.set, err, w)
			}
		}
	}
}
