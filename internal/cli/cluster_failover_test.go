package cli

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClusterFailoverRealBrokers runs three real broker processes (the test
// binary re-executed as kbench), produces acks=all with an idempotent
// franz-go producer to a topic with RF 3, kill -9s the partition leader
// mid-stream and checks that producing continues on the new leader and that
// every acknowledged record is read back exactly once; then it restarts the
// killed broker and waits for a full ISR.
func TestClusterFailoverRealBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startRealCluster(t, ctx)
	const session = realSession

	const topic = "failover"
	// MetadataMinAge: franz-go otherwise refreshes metadata at most every
	// 5s, which would measure the client's throttle, not the failover.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	createRF3Topic(t, ctx, c, cl, topic, 1)
	leader, err := c.LeaderOf(topic, 0)
	if err != nil {
		t.Fatal(err)
	}

	type ack struct {
		value      string
		sent, done time.Time
	}
	var (
		mu     sync.Mutex
		acks   []ack
		errs   []error
		sem    = make(chan struct{}, 32) // records in flight
		killAt time.Time
		seq    int
	)
	produce := func() {
		sem <- struct{}{}
		v := fmt.Sprintf("v%07d", seq)
		seq++
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(r *kgo.Record, err error) {
			defer func() { <-sem }()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			acks = append(acks, ack{value: string(r.Value), sent: sent, done: time.Now()})
		})
	}
	nAcked := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }
	// firstAfterKill is the first ack of a record sent after the kill.
	firstAfterKill := func() (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		var first time.Time
		for _, a := range acks {
			if a.sent.After(killAt) && (first.IsZero() || a.done.Before(first)) {
				first = a.done
			}
		}
		return first, !first.IsZero()
	}

	warm := time.Now().Add(10 * time.Second)
	for nAcked() < 2000 && time.Now().Before(warm) {
		produce()
	}
	if n := nAcked(); n < 100 {
		t.Fatalf("only %d records acknowledged before the kill", n)
	}
	before := nAcked()
	mu.Lock()
	killAt = time.Now()
	mu.Unlock()
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var recovered time.Time
	for time.Now().Before(deadline) {
		produce()
		if first, ok := firstAfterKill(); ok {
			if recovered.IsZero() {
				recovered = first
			}
			if time.Since(recovered) > time.Second {
				break
			}
		}
	}
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	err = cl.Flush(fctx)
	fcancel()
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	if recovered.IsZero() {
		t.Fatalf("no acks=all write succeeded within 30s of killing leader %d", leader)
	}
	newLeader, err := c.LeaderOf(topic, 0)
	if err != nil || newLeader == leader {
		t.Fatalf("leader after kill: %d (%v), killed %d", newLeader, err, leader)
	}
	mu.Lock()
	total, failed := len(acks), len(errs)
	var maxGap time.Duration
	sorted := slices.SortedFunc(slices.Values(acks), func(a, b ack) int { return a.done.Compare(b.done) })
	for i := 1; i < len(sorted); i++ {
		maxGap = max(maxGap, sorted[i].done.Sub(sorted[i-1].done))
	}
	mu.Unlock()
	t.Logf("failover: killed leader %d; first acks=all write sent after the kill acknowledged %s later (session timeout %s); longest ack gap %s; new leader %d; %d records acked (%d before the kill), %d failed",
		leader, recovered.Sub(killAt).Round(time.Millisecond), session, maxGap.Round(time.Millisecond), newLeader, total, before, failed)
	// The controller fences after the session timeout; clients then need a
	// metadata refresh and a retry, so the bound has some slack.
	if fo := recovered.Sub(killAt); fo > session+5*time.Second {
		t.Errorf("failover took %s, want under %s", fo, session+5*time.Second)
	}
	if failed > 0 {
		t.Errorf("%d produce errors with infinite retries, first: %v", failed, errs[0])
	}
	if total-before < 100 {
		t.Errorf("only %d records acknowledged after the kill", total-before)
	}

	// Every acknowledged record is readable exactly once.
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]int{}
	want := map[string]bool{}
	for _, a := range acks {
		want[a.value] = true
	}
	missing := func() int {
		n := 0
		for v := range want {
			if seen[v] == 0 {
				n++
			}
		}
		return n
	}
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	for missing() > 0 && cctx.Err() == nil {
		cons.PollFetches(cctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	if n := missing(); n > 0 {
		t.Errorf("%d of %d acknowledged records not read back", n, len(want))
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("record %s read %d times", v, n)
			break
		}
	}

	// The killed broker comes back on its data dir and rejoins the ISR.
	start := time.Now()
	if err := c.Restart(leader); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, ctx, c, 20*time.Second)
	t.Logf("broker %d restarted and back in the ISR after %s", leader, time.Since(start).Round(time.Millisecond))
}
