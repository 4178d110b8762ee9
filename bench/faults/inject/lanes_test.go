package inject

import (
	"slices"
	"testing"

	"github.com/kbench/kbench/bench/faults"
)

func TestLanes(t *testing.T) {
	s, err := faults.ParseFlags([]string{"1s:stop:3", "1s:delay:2:5ms", "1s:kill-leader:0", "1s:restart:3", "1s:drop-produce:0.1", "1s:bandwidth:2:1KiB", "2s:kill:1"})
	if err != nil {
		t.Fatal(err)
	}
	got := lanes(s, 0, 6)
	want := [][]int{{0, 3}, {1, 5}, {2}, {4}}
	if len(got) != len(want) {
		t.Fatalf("lanes %v, want %v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("lanes %v, want %v", got, want)
		}
	}
}
