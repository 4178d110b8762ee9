package broker

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestCompactedTopicKcat: a user topic with cleanup.policy=compact, written
// and read back with kcat, keeps only the latest value per key once the log
// cleaner has run (records of the active segment aside), at their original
// offsets; a key deleted with a tombstone is gone once delete.retention.ms
// has passed.
func TestCompactedTopicKcat(t *testing.T) {
	kcat := requireTool(t, "kcat")
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(newClient(t, b))
	cfg := map[string]*string{"cleanup.policy": strp("compact"), "segment.bytes": strp("2048"), "delete.retention.ms": strp("0")}
	if resp, err := adm.CreateTopic(ctx, 1, 1, cfg, "latest"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	// 1000 updates of 10 keys, then a tombstone for k9, then filler so the
	// tombstone's segment is sealed.
	var in bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&in, "k%d:v%04d\n", i%10, i)
	}
	in.WriteString("k9:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&in, "filler:%04d\n", i)
	}
	// -Z: the empty value of k9 is sent as NULL (a tombstone).
	run(t, 30*time.Second, in.Bytes(), kcat, "-b", b.Addr(), "-P", "-t", "latest", "-K:", "-Z", "-X", "linger.ms=0", "-X", "batch.num.messages=1")
	read := func() []string {
		out := run(t, 30*time.Second, nil, kcat, "-b", b.Addr(), "-C", "-t", "latest", "-e", "-q", "-Z", "-f", "%o %k %s\n")
		return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	}
	if n := len(read()); n != 1101 {
		t.Fatalf("before cleaning kcat read %d records, want 1101", n)
	}
	b.CleanLogs()
	lines := read()
	latest := map[string]string{}
	seen := map[string]int{}
	last := int64(-1)
	for _, l := range lines {
		var off int64
		var k, v string
		if _, err := fmt.Sscanf(l, "%d %s %s", &off, &k, &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if off <= last {
			t.Fatalf("offsets not increasing at %q", l)
		}
		last = off
		latest[k] = v
		seen[k]++
		if k != "filler" && fmt.Sprintf("v%04d", off) != v {
			t.Fatalf("record %q moved: offset %d, written at %s", l, off, v[1:])
		}
	}
	t.Logf("after cleaning kcat read %d of 1101 records", len(lines))
	for i := 0; i < 9; i++ {
		k := fmt.Sprintf("k%d", i)
		if want := fmt.Sprintf("v%04d", 990+i); latest[k] != want || seen[k] != 1 {
			t.Fatalf("key %s: %d records, latest %q; want 1 record %q", k, seen[k], latest[k], want)
		}
	}
	if seen["k9"] != 0 {
		t.Fatalf("deleted key k9 still read %d times (%q)", seen["k9"], latest["k9"])
	}
	if latest["filler"] != "0099" || len(lines) > 9+60 {
		t.Fatalf("read %d records, filler %q: cleaning kept too much", len(lines), latest["filler"])
	}
}
