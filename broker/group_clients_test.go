package broker

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
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
