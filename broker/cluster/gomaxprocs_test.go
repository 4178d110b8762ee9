package cluster

import (
	"runtime"
	"testing"
)

func TestBrokerGoMaxProcs(t *testing.T) {
	share := max(1, runtime.GOMAXPROCS(0)/3)
	for _, tc := range []struct {
		configured, brokers int
		env                 []string
		want                int
	}{
		{0, 3, nil, share},
		{0, 1, nil, runtime.GOMAXPROCS(0)},
		{0, 1000, nil, 1},
		{4, 3, nil, 4},
		{-1, 3, nil, 0},
		{0, 3, []string{"PATH=/bin", "GOMAXPROCS=7"}, 0},
		{4, 3, []string{"GOMAXPROCS=7"}, 0},
	} {
		if got := brokerGoMaxProcs(tc.configured, tc.brokers, tc.env); got != tc.want {
			t.Errorf("brokerGoMaxProcs(%d, %d, %q) = %d, want %d", tc.configured, tc.brokers, tc.env, got, tc.want)
		}
	}
}
