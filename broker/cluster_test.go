package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/broker/controller"
)

// testCluster runs a controller and brokers in this process; crash closes a
// broker without a controlled shutdown (the controller notices by missed
// heartbeats), restart brings it back on the same data dir and port.
type testCluster struct {
	t       *testing.T
	ctrl    *controller.Controller
	brokers map[int32]*Broker
	cfgs    map[int32]Config
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	ctrl, err := controller.Start(context.Background(), controller.Config{Dir: t.TempDir(), SessionTimeout: time.Second, Logf: func(f string, a ...any) { t.Logf("controller: "+f, a...) }})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, ctrl: ctrl, brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			b.close(false)
		}
		ctrl.Close()
	})
	for id := int32(1); id <= int32(n); id++ {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.NodeID = id
		cfg.DataDir = t.TempDir()
		cfg.Controller = ctrl.Addr()
		cfg.ReplicaLagTimeMax = 2 * time.Second
		cfg.HeartbeatInterval = 100 * time.Millisecond
		id := id
		cfg.Logf = func(f string, a ...any) { t.Logf(fmt.Sprintf("broker %d: ", id)+f, a...) }
		tc.cfgs[id] = cfg
		tc.start(id)
	}
	return tc
}

func (tc *testCluster) start(id int32) {
	tc.t.Helper()
	cfg := tc.cfgs[id]
	b, err := Start(context.Background(), cfg)
	if err != nil {
		tc.t.Fatalf("start broker %d: %v", id, err)
	}
	cfg.Listen = b.Addr() // restart on the same port
	tc.cfgs[id] = cfg
	tc.brokers[id] = b
}

func (tc *testCluster) crash(id int32) {
	tc.brokers[id].close(false)
	delete(tc.brokers, id)
}

func (tc *testCluster) addrs() []string {
	var out []string
	for _, cfg := range tc.cfgs {
		out = append(out, cfg.Listen)
	}
	return out
}

// waitISR waits until every partition of topic has exactly the given ISR.
func (tc *testCluster) waitISR(topic string, want []int32, within time.Duration) {
	tc.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := tc.ctrl.Snapshot().Topics[topic]
		ok := len(st.Partitions) > 0
		for _, p := range st.Partitions {
			isr := slices.Clone(p.ISR)
			slices.Sort(isr)
			ok = ok && slices.Equal(isr, want) && p.Leader >= 0
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for i, p := range st.Partitions {
				tc.t.Logf("partition %d: %+v", i, *p)
			}
			tc.t.Fatalf("ISR of %s never became %v", topic, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestISRTimeline reproduces the seed's durability story: RF=3,
// min.insync.replicas=2, acks=all.
func TestISRTimeline(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 120*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs()...), kgo.DefaultProduceTopic("isr"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(8*time.Second), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": strp("2")}, "isr")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	produce := func(tag string, n int) error {
		var firstErr error
		for i := 0; i < n; i++ {
			v := fmt.Sprintf("%s-%d", tag, i)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			acked = append(acked, v)
		}
		return firstErr
	}
	if err := produce("healthy", 100); err != nil {
		t.Fatalf("all healthy: %v", err)
	}

	start := time.Now()
	tc.crash(3)
	tc.waitISR("isr", []int32{1, 2}, 15*time.Second)
	t.Logf("broker 3 killed: ISR shrank to {1,2} after %s", time.Since(start).Round(time.Millisecond))
	if err := produce("isr12", 100); err != nil {
		t.Fatalf("ISR {1,2}: %v", err)
	}

	tc.crash(2)
	tc.waitISR("isr", []int32{1}, 15*time.Second)
	// NOT_ENOUGH_REPLICAS is retriable: a client with few retries surfaces it
	// instead of retrying until its delivery timeout.
	probe, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs()...), kgo.DefaultProduceTopic("isr"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(2), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	err = probe.ProduceSync(ctx, &kgo.Record{Value: []byte("isr1-0")}).FirstErr()
	probe.Close()
	if !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("ISR {1}: got %v, want NOT_ENOUGH_REPLICAS", err)
	}

	start = time.Now()
	tc.start(2)
	tc.start(3)
	tc.waitISR("isr", []int32{1, 2, 3}, 30*time.Second)
	t.Logf("brokers 2 and 3 restarted: ISR back to {1,2,3} after %s", time.Since(start).Round(time.Millisecond))
	if err := produce("regrown", 100); err != nil {
		t.Fatalf("ISR regrown: %v", err)
	}
	got := countValues(t, tc.addrs()[0], "isr", false, len(acked))
	for _, v := range acked {
		if got[v] != 1 {
			t.Fatalf("acknowledged record %s read %d times, want 1", v, got[v])
		}
	}
	if got["isr1-0"] > 1 {
		t.Fatalf("rejected record read %d times", got["isr1-0"])
	}
}
