package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/controller"
)

// testCluster runs a controller and brokers in this process; crash closes a
// broker without a controlled shutdown (the controller notices by missed
// heartbeats), restart brings it back on the same data dir and port.
type testCluster struct {
	t       *testing.T
	ctrl    *controller.Controller
	ctrlCfg controller.Config
	brokers map[int32]*Broker
	cfgs    map[int32]Config
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	ccfg := controller.Config{Dir: t.TempDir(), SessionTimeout: time.Second, Logf: func(f string, a ...any) { t.Logf("controller: "+f, a...) }}
	ctrl, err := controller.Start(context.Background(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ccfg.Listen = ctrl.Addr() // a restarted controller comes back there
	tc := &testCluster{t: t, ctrl: ctrl, ctrlCfg: ccfg, brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}}
	t.Cleanup(func() {
		for _, b := range tc.brokers {
			b.close(false)
		}
		tc.ctrl.Close()
	})
	for id := int32(1); id <= int32(n); id++ {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.NodeID = id
		cfg.DataDir = t.TempDir()
		cfg.Controller = ctrl.Addr()
		cfg.ReplicaLagTimeMax = 2 * time.Second
		cfg.HeartbeatInterval = 100 * time.Millisecond
		cfg.HWCheckpointInterval = 100 * time.Millisecond
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
	cl := tc.client(t, kgo.DefaultProduceTopic("isr"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(8*time.Second), kgo.ProducerLinger(0))
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

// client is a franz-go client seeded with every broker of the cluster,
// closed when the test ends.
func (tc *testCluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tc.addrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// leaderOf reads a partition's leader from the controller.
func (tc *testCluster) leaderOf(topic string, p int) int32 {
	st := tc.ctrl.Snapshot().Topics[topic]
	if p >= len(st.Partitions) {
		return -1
	}
	return st.Partitions[p].Leader
}

// TestLeaderKillUnderLoad kills the leader of each partition in turn during
// an idempotent acks=all produce stream; the producer carries on after each
// failover and every acknowledged record is read back exactly once.
func TestLeaderKillUnderLoad(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 150*time.Second)
	cl := tc.client(t, kgo.DefaultProduceTopic("failover"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond), kgo.RecordDeliveryTimeout(60*time.Second))
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": strp("2")}, "failover")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	s := streamAcks(ctx, cl, 1, 200*time.Microsecond, func(r *kgo.Record) string { return string(r.Value) })
	ackedAfter := func(t0 time.Time) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastAck.After(t0)
	}
	time.Sleep(time.Second)
	for p := 0; p < 3; p++ {
		victim := tc.leaderOf("failover", p)
		killed := time.Now()
		tc.crash(victim)
		for tc.leaderOf("failover", p) == victim || tc.leaderOf("failover", p) < 0 {
			if time.Since(killed) > 20*time.Second {
				t.Fatalf("partition %d: no new leader 20s after killing broker %d", p, victim)
			}
			time.Sleep(20 * time.Millisecond)
		}
		elected := time.Since(killed)
		for !ackedAfter(killed.Add(elected)) {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("no acknowledged write 30s after killing broker %d", victim)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("partition %d: killed leader %d; new leader elected after %s, first acks=all write after %s",
			p, victim, elected.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		tc.start(victim)
		tc.waitISR("failover", []int32{1, 2, 3}, 30*time.Second)
	}
	s.halt()
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failed) > 0 {
		t.Fatalf("%d records failed, first: %v", len(s.failed), s.failed[0])
	}
	got := countValues(t, tc.addrs()[0], "failover", false, len(s.acked))
	for v := range s.acked {
		if got[v] != 1 {
			t.Fatalf("acknowledged record %s read %d times, want exactly 1 (acked %d)", v, got[v], len(s.acked))
		}
	}
	t.Logf("%d records acknowledged across 3 leader kills, each read back exactly once", len(s.acked))
}

// TestDivergentReplicaTruncates makes a leader write batches its followers
// never copy (acks=1, followers delayed), kills it, writes to the new leader,
// and restarts it: it must truncate its divergent suffix so every replica ends
// with identical bytes.
func TestDivergentReplicaTruncates(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 90*time.Second)
	cl := tc.client(t, kgo.DefaultProduceTopic("diverge"), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0), kgo.RecordDeliveryTimeout(30*time.Second))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, "diverge"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("common-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tc.waitISR("diverge", []int32{1, 2, 3}, 10*time.Second)
	leader := tc.leaderOf("diverge", 0)
	lp := tc.brokers[leader].topics.partition("diverge", 0)
	// Let the followers catch up, then hold their replication (a delay no
	// fetch outlasts, which also holds the fetchers the controller's next
	// push starts) and stop their fetchers, so the batches below reach the
	// leader only.
	commonEnd := lp.log.EndOffset()
	for _, b := range tc.brokers {
		if b.cfg.NodeID != leader {
			for b.topics.partition("diverge", 0).log.EndOffset() < commonEnd {
				time.Sleep(10 * time.Millisecond)
			}
			b.SetReplicationDelay(time.Hour)
			b.fetchers.stopAll()
		}
	}
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("divergent-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tc.crash(leader)
	for _, b := range tc.brokers {
		if end := b.topics.partition("diverge", 0).log.EndOffset(); end != commonEnd {
			t.Fatalf("broker %d's log ends at %d, want %d: the test did not create divergence", b.cfg.NodeID, end, commonEnd)
		}
		b.SetReplicationDelay(0)
	}
	for tc.leaderOf("diverge", 0) == leader || tc.leaderOf("diverge", 0) < 0 {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 30; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("new-leader-%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tc.start(leader)
	tc.waitISR("diverge", []int32{1, 2, 3}, 30*time.Second)
	var want []byte
	for id, b := range tc.brokers {
		l := b.topics.partition("diverge", 0).log
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if l.EndOffset() == tc.brokers[tc.leaderOf("diverge", 0)].topics.partition("diverge", 0).log.EndOffset() {
				break
			}
		}
		raw, err := l.ReadBytes(l.StartOffset(), 1<<30, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = raw
		} else if !bytes.Equal(raw, want) {
			t.Fatalf("broker %d's log differs from another replica's (%d vs %d bytes)", id, len(raw), len(want))
		}
	}
	got := countValues(t, tc.addrs()[0], "diverge", false, 80)
	for i := 0; i < 20; i++ {
		if got[fmt.Sprintf("divergent-%d", i)] != 0 {
			t.Fatalf("divergent record %d survived on a replica", i)
		}
	}
	if len(got) != 80 {
		t.Fatalf("got %d distinct records, want 80 (50 common + 30 after failover)", len(got))
	}
}

// TestClusterMetadataClients checks that kcat and confluent-kafka see the
// three brokers, leaders and ISRs.
func TestClusterMetadataClients(t *testing.T) {
	kcat := requireTool(t, "kcat")
	tc := startCluster(t, 3)
	ctx := testCtx(t, 60*time.Second)
	cl := tc.client(t)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 3, nil, "meta"); err != nil {
		t.Fatal(err)
	}
	tc.waitISR("meta", []int32{1, 2, 3}, 10*time.Second)
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || len(dc.Brokers) != 3 {
		t.Fatalf("DescribeCluster: %v, %+v", err, dc)
	}
	out := string(run(t, 20*time.Second, nil, kcat, "-b", tc.addrs()[0], "-L", "-t", "meta"))
	if !strings.Contains(out, "3 brokers:") {
		t.Fatalf("kcat -L: want 3 brokers:\n%s", out)
	}
	for p := 0; p < 3; p++ {
		want := fmt.Sprintf("partition %d, leader %d, replicas: ", p, tc.leaderOf("meta", p))
		if !strings.Contains(out, want) || !strings.Contains(out, "isrs: ") {
			t.Fatalf("kcat -L lacks %q:\n%s", want, out)
		}
	}
	script, _ := filepath.Abs("testdata/confluent_metadata.py")
	py := string(run(t, 30*time.Second, nil, debianPython, script, strings.Join(tc.addrs(), ","), "meta"))
	for p := 0; p < 3; p++ {
		want := fmt.Sprintf("partition %d leader %d replicas 3 isrs 3", p, tc.leaderOf("meta", p))
		if !strings.Contains(py, want) {
			t.Fatalf("confluent-kafka metadata lacks %q:\n%s", want, py)
		}
	}
	if !strings.Contains(py, "brokers 3") {
		t.Fatalf("confluent-kafka metadata: want 3 brokers:\n%s", py)
	}
}

// TestAlterConfigsOnPartialReplicas: a topic whose replication factor is
// below the broker count has partitions a broker does not replicate (nil
// locally). The controller's config push must apply to the partitions a
// broker has and skip the rest; it used to panic on them, so the push
// was retried forever and the broker never got metadata again (after a
// re-registration it then never rejoined any ISR).
func TestAlterConfigsOnPartialReplicas(t *testing.T) {
	tc := startCluster(t, 3)
	ctx := testCtx(t, 30*time.Second)
	cl := tc.client(t)
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 3, 1, nil, "partial"); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("123456")}}, "partial")
	if err == nil {
		_, err = resps.On("partial", nil)
	}
	if err != nil {
		t.Fatalf("alter configs: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for id, b := range tc.brokers {
		for {
			tp := b.topics.get("partial")
			if tp != nil && tp.configs["retention.ms"] == "123456" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d never applied retention.ms=123456 to topic partial (its partitions of the topic: %d of 3)", id, countNonNil(tp))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func countNonNil(t *topic) int {
	n := 0
	if t != nil {
		for _, p := range t.partitions {
			if p != nil {
				n++
			}
		}
	}
	return n
}
