package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/records/recordstest"
)

// TestAbandonedLongPollReleasesSegments: consumers long-poll for more bytes
// than there are, then disconnect. Their responses are built (holding
// segment references) but never written; once the topic is deleted, no
// file descriptor of its segments may stay open in this process.
func TestAbandonedLongPollReleasesSegments(t *testing.T) {
	br := startBroker(t)
	if _, err := br.topics.create("abandon", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p := br.topics.partition("abandon", 0)
	if _, _, err := p.log.Append(recordstest.Batch(recordstest.BatchOpts{Values: recordstest.Values(10, 100)}), 0); err != nil {
		t.Fatal(err)
	}
	p.hw.Store(p.log.EndOffset())
	const clients = 12 // the writer picks "ready" or "closed" at random: both paths get taken
	for range clients {
		c := dialRaw(t, br)
		c.send(fetchFrame("abandon", 0, func(r *kmsg.FetchRequest) {
			r.MinBytes, r.MaxWaitMillis = 10<<20, 5000
		}))
		time.Sleep(10 * time.Millisecond) // the request is read and parked
		c.nc.Close()
	}
	// Connections close after readerGoneGrace; their long polls then end.
	time.Sleep(readerGoneGrace + 500*time.Millisecond)
	if err := br.topics.delete("abandon"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(br.cfg.DataDir, "abandon-0")
	deadline := time.Now().Add(5 * time.Second)
	for {
		open := openFilesUnder(t, dir)
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment files still open after the topic was deleted: %v", open)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// openFilesUnder lists this process's open file descriptors whose target
// lies under dir (deleted files included).
func openFilesUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			out = append(out, target)
		}
	}
	return out
}
