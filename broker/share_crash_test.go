package broker

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// severable is a dialer whose connections a test can cut at once, as a
// crashed process's sockets are closed by its kernel.
type severable struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (s *severable) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil, net.ErrClosed
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		s.conns = append(s.conns, c)
	}
	return c, err
}

func (s *severable) sever() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = true
	for _, c := range s.conns {
		c.Close()
	}
}

// A share consumer dies holding records: a hung one (connection open, no
// acknowledgements) loses them to another member only when the record lock
// runs out; a crashed one (connection closed) loses them at once. Either
// way each comes back with delivery count 2 and nothing is lost.
func TestShareConsumerCrashRedelivers(t *testing.T) {
	const lock = 2 * time.Second
	for _, tc := range []struct {
		name    string
		crash   bool // close the connections, else only stop polling
		minWait time.Duration
	}{
		{"hung", false, lock - 200*time.Millisecond},
		{"crashed", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t)
			admin := newClient(t, b)
			ctx := testCtx(t, 20*time.Second)
			createTopic(ctx, t, b, "c", 1)
			setGroupConfig(t, admin, "cg", "share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "2000")
			const n = 200
			produceN(ctx, t, b, "c", n)

			dialer := &severable{}
			victim, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("c"), kgo.ShareGroup("cg"),
				kgo.ShareMaxRecords(50), kgo.ShareMaxRecordsStrict(), kgo.Dialer(dialer.dial),
				kgo.RetryTimeout(time.Second), kgo.RequestRetries(1)) // a dead client's leave gives up fast
			if err != nil {
				t.Fatal(err)
			}
			held := map[int64]bool{}
			for len(held) == 0 && ctx.Err() == nil {
				for _, r := range victim.PollFetches(ctx).Records() {
					held[r.Offset] = true
				}
			}
			acquiredAt := time.Now()
			if tc.crash {
				dialer.sever()
			}
			// The victim polls no more: its records are never acknowledged.
			defer victim.Close()

			survivor := newClient(t, b, kgo.ConsumeTopics("c"), kgo.ShareGroup("cg"))
			seen := map[int64]int32{}
			var back time.Duration
			for len(seen) < n && ctx.Err() == nil {
				for _, r := range survivor.PollFetches(ctx).Records() {
					if seen[r.Offset] != 0 {
						t.Errorf("offset %d delivered to the survivor twice", r.Offset)
					}
					seen[r.Offset] = r.DeliveryCount()
					if held[r.Offset] && back == 0 {
						back = time.Since(acquiredAt)
					}
				}
			}
			if len(seen) != n {
				t.Fatalf("survivor got %d of %d records", len(seen), n)
			}
			for off := range held {
				if seen[off] != 2 {
					t.Errorf("offset %d held by the dead consumer came back with delivery count %d, want 2", off, seen[off])
				}
			}
			for off, dc := range seen {
				if !held[off] && dc != 1 {
					t.Errorf("offset %d never held by the dead consumer has delivery count %d, want 1", off, dc)
				}
			}
			if back < tc.minWait || (tc.crash && back >= lock) {
				t.Fatalf("the dead consumer's %d records came back after %v; want at least %v and, for a closed connection, before the %v lock ran out", len(held), back, tc.minWait, lock)
			}
			t.Logf("%d records held by the dead consumer came back to the survivor after %v", len(held), back.Round(time.Millisecond))
		})
	}
}
