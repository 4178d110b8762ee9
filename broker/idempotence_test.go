package broker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countValues reads topic from the start until it has seen want records and
// then nothing new for a second, counting how often each value appears.
func countValues(t *testing.T, addr, topic string, committed bool, want int) map[string]int {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]int{}
	n := 0
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		wait := 5 * time.Second
		if n >= want {
			wait = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := c.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch: %v", err)
			}
		})
		recs := fs.Records()
		for _, r := range recs {
			got[string(r.Value)]++
		}
		n += len(recs)
		if len(recs) == 0 && n >= want {
			return got
		}
	}
	t.Fatalf("reading %s: got %d records, want %d", topic, n, want)
	return nil
}

// TestIdempotentRetriesWriteOnce drops the responses of some produce requests
// after the append (closing the connection, as a network failure would): an
// idempotent producer's retries are recognised and acknowledged with the
// original offsets, while a non-idempotent producer writes duplicates.
func TestIdempotentRetriesWriteOnce(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idempotent), func(t *testing.T) {
			var produces, dropped atomic.Int64
			b := startBroker(t, func(c *Config) {
				c.Hooks = &Hooks{DropResponse: func(key int16) bool {
					if key != 0 || produces.Add(1)%5 != 0 {
						return false
					}
					dropped.Add(1)
					return true
				}}
			})
			ctx := testCtx(t, 60*time.Second)
			opts := []kgo.Opt{kgo.DefaultProduceTopic("idem"), kgo.ProducerLinger(2 * time.Millisecond), kgo.RequestRetries(100)}
			if !idempotent {
				opts = append(opts, kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()))
			}
			cl := newClient(t, b, opts...)
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "idem"); err != nil {
				t.Fatal(err)
			}
			const n = 5000
			var failed atomic.Int64
			for i := 0; i < n; i++ {
				cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
				if i%500 == 0 {
					cl.Flush(ctx)
				}
			}
			if err := cl.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if failed.Load() != 0 {
				t.Fatalf("%d records failed", failed.Load())
			}
			if dropped.Load() == 0 {
				t.Fatalf("the hook dropped no response")
			}
			got := countValues(t, b.Addr(), "idem", false, n)
			dups := 0
			for i := 0; i < n; i++ {
				c := got[fmt.Sprintf("v%05d", i)]
				if c == 0 {
					t.Fatalf("record v%05d missing", i)
				}
				dups += c - 1
			}
			t.Logf("dropped %d produce responses; %d duplicate records", dropped.Load(), dups)
			if idempotent && dups != 0 {
				t.Fatalf("idempotent producer wrote %d duplicates, want 0", dups)
			}
			if !idempotent && dups == 0 {
				t.Fatalf("non-idempotent producer wrote no duplicates: the test did not force retries")
			}
		})
	}
}
