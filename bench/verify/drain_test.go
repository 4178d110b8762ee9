package verify

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDrainBoundedWhenEndOffsetsFail: a cluster that keeps failing the end
// offset reads (a partition without an in-sync leader after a failed heal)
// must not hold the drain: it ends after the no-progress bound with the
// last error.
func TestDrainBoundedWhenEndOffsetsFail(t *testing.T) {
	// A listener that accepts and never answers: every request times out.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.RequestTimeoutOverhead(200*time.Millisecond), kgo.RetryTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	e := &env{cfg: &Config{Drain: time.Second}, cl: cl, adm: kadm.NewClient(cl)}
	start := time.Now()
	err = e.waitCaughtUp(context.Background(), "the consumer group", "t", false, newProgress())
	if el := time.Since(start); err == nil || el > 15*time.Second {
		t.Fatalf("drain against a silent cluster: %v after %s; want an error after about the 1 s bound", err, el)
	}
	if !strings.Contains(err.Error(), "without progress") {
		t.Errorf("error %q does not say the drain made no progress", err)
	}
}
