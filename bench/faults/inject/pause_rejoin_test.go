package inject_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPausedFollowerRejoinsISR: a broker stopped (SIGSTOP) for longer than
// the session timeout is fenced and leaves every ISR; once it runs again it
// registers anew and must catch up and rejoin the ISR of every partition it
// replicates, the internal topics' included, and lead again the partitions
// only it replicates, so the cluster heals.
func TestPausedFollowerRejoinsISR(t *testing.T) {
	ec := startCluster(t, "rejoin", 6)
	c := ec.Faults()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ec.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The first FindCoordinator creates __consumer_offsets (answering
	// COORDINATOR_NOT_AVAILABLE until its partitions have leaders).
	for {
		err := kadm.NewClient(cl).FindGroupCoordinators(ctx, "rejoin-group").Error()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A topic of replication factor 1: the paused broker's partitions have
	// no other replica to move to, so it must take them back.
	if r, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "rejoin-rf1"); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if err := c.Pause(2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if err := c.Resume(2); err != nil {
			t.Fatal(err)
		}
		hctx, hcancel := context.WithTimeout(ctx, 20*time.Second)
		err := c.WaitHealthy(hctx)
		hcancel()
		if err != nil {
			t.Fatalf("round %d: 20 s after broker 2 resumed: %v", round, err)
		}
	}
}
