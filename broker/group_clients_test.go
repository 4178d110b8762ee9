package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseOK reads a script's `OK {"partition": offset}` line.
func parseOK(t *testing.T, out []byte) map[int32]int64 {
	t.Helper()
	line, ok := bytes.CutPrefix(bytes.TrimSpace(out), []byte("OK "))
	if !ok {
		t.Fatalf("script output: %s", out)
	}
	var raw map[string]int64
	if err := json.Unmarshal(line, &raw); err != nil {
		t.Fatalf("script output %q: %v", line, err)
	}
	m := map[int32]int64{}
	for k, v := range raw {
		p, err := strconv.Atoi(k)
		if err != nil {
			t.Fatalf("script output partition %q", k)
		}
		m[int32(p)] = v
	}
	return m
}

// TestGroupConfluentCommitRestart: librdkafka subscribes, commits
// synchronously after each batch, committed() equals what it read; after a
// broker restart on the same data dir the committed offsets are unchanged.
// Group settings are the broker defaults (3 s initial rebalance delay).
func TestGroupConfluentCommitRestart(t *testing.T) {
	requireTool(t, debianPython)
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir })
	script, _ := filepath.Abs("testdata/group_commit.py")
	const n = 5000
	start := time.Now()
	got := parseOK(t, run(t, 60*time.Second, nil, debianPython, script, "consume", b.Addr(), "py-group", "py-g", "4", strconv.Itoa(n)))
	t.Logf("produce, group consume and %d-partition commit took %v", len(got), time.Since(start).Round(time.Millisecond))
	tp := b.topics.get("py-group")
	if tp == nil || len(tp.partitions) != 4 {
		t.Fatalf("topic py-group not created with 4 partitions")
	}
	var sum int64
	for _, p := range tp.partitions {
		if end := p.log.EndOffset(); got[p.index] != end {
			t.Fatalf("partition %d: committed %d, want the end offset %d", p.index, got[p.index], end)
		}
		sum += got[p.index]
	}
	if sum != n {
		t.Fatalf("committed offsets sum to %d, want %d", sum, n)
	}
	b.Close()

	b2 := startBroker(t, func(c *Config) { c.DataDir = dir })
	after := parseOK(t, run(t, 30*time.Second, nil, debianPython, script, "committed", b2.Addr(), "py-group", "py-g", "4"))
	for p, off := range got {
		if after[p] != off {
			t.Fatalf("after restart, partition %d: committed %d, want %d", p, after[p], off)
		}
	}
}

// TestGroupConfluentCooperative: librdkafka's cooperative-sticky assignor
// rebalances incrementally against this broker: when a second consumer
// joins, the first gives up only the partitions the second receives.
func TestGroupConfluentCooperative(t *testing.T) {
	requireTool(t, debianPython)
	b := startBroker(t)
	b.groups.configure(func(s *groupSettings) { s.initialDelay = 500 * time.Millisecond })
	script, _ := filepath.Abs("testdata/group_coop.py")
	start := time.Now()
	out := run(t, 60*time.Second, nil, debianPython, script, b.Addr(), "py-coop", "py-coop-group")
	if !bytes.HasPrefix(out, []byte("OK ")) {
		t.Fatalf("script output: %s", out)
	}
	t.Logf("%s(took %v)", bytes.TrimPrefix(out, []byte("OK ")), time.Since(start).Round(time.Millisecond))
}

// TestGroupConfluentRebalanceDelivery: librdkafka members of a classic group
// (eager range and cooperative-sticky) read a topic that is written to the
// whole time while members join and leave, committing before they give
// partitions up; every produced offset reaches some member, on one broker
// and on a 3-broker cluster (the same check as
// TestGroupRebalanceDeliversEveryOffset, with another client).
func TestGroupConfluentRebalanceDelivery(t *testing.T) {
	requireTool(t, debianPython)
	script, _ := filepath.Abs("testdata/group_rebalance.py")
	for _, assignor := range []string{"range", "cooperative-sticky"} {
		for _, nodes := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/brokers=%d", assignor, nodes), func(t *testing.T) {
				out := run(t, 90*time.Second, nil, debianPython, script, strings.Join(startGroupTarget(t, nodes), ","), "py-rb", "py-rb-group", assignor, strconv.Itoa(nodes))
				if !bytes.HasPrefix(out, []byte("OK ")) {
					t.Fatalf("script output: %s", out)
				}
				t.Logf("%s", bytes.TrimSpace(bytes.TrimPrefix(out, []byte("OK "))))
			})
		}
	}
}
