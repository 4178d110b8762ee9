package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/cluster"
)

// Coordinator failover on three real broker processes: committed offsets
// and transaction state live in replicated internal topics, so killing or
// pausing the broker that coordinates a group or a transactional id loses
// nothing a client was told is done.

// realSession is the session timeout of startRealCluster's brokers (the
// controller's default).
const realSession = 2 * time.Second

// startRealCluster starts three real broker processes (verbose logs) and
// dumps their log tails when the test fails.
func startRealCluster(t *testing.T, ctx context.Context) *cluster.Cluster {
	t.Helper()
	var logMu sync.Mutex
	testDone := false
	t.Cleanup(func() { logMu.Lock(); testDone = true; logMu.Unlock() })
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if !testDone {
			t.Logf(format, args...)
		}
	}
	dir := t.TempDir()
	c, err := cluster.Start(ctx, cluster.Config{Brokers: 3, Dir: dir, Env: []string{kbenchChildEnv + "=1"}, SessionTimeout: realSession, Logf: logf, BrokerArgs: []string{"-v"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= 3; i++ {
				raw, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("broker-%d.log", i)))
				if len(raw) > 20000 {
					raw = raw[len(raw)-20000:]
				}
				t.Logf("broker-%d.log (tail):\n%s", i, raw)
			}
		}
		c.Close()
	})
	return c
}

// waitHealthy waits up to d for every partition of the cluster to have its
// full ISR.
func waitHealthy(t *testing.T, ctx context.Context, c *cluster.Cluster, d time.Duration) {
	t.Helper()
	hctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := c.WaitHealthy(hctx); err != nil {
		t.Fatal(err)
	}
}

// createRF3Topic creates topic with parts partitions, replication factor 3
// and min.insync.replicas 2, and waits for its full ISR.
func createRF3Topic(t *testing.T, ctx context.Context, c *cluster.Cluster, cl *kgo.Client, topic string, parts int32) {
	t.Helper()
	minISR := "2"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, parts, 3, map[string]*string{"min.insync.replicas": &minISR}, topic); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, ctx, c, 15*time.Second)
}

// findCoordinator asks the cluster which broker coordinates key.
func findCoordinator(ctx context.Context, cl *kgo.Client, keyType int8, key string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey, req.CoordinatorType = key, keyType
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1, err
	}
	return resp.NodeID, nil
}

// waitCoordinator retries findCoordinator until it names a broker other
// than not (-1: any).
func waitCoordinator(t *testing.T, ctx context.Context, cl *kgo.Client, keyType int8, key string, not int32) int32 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		id, err := findCoordinator(ctx, cl, keyType, key)
		if err == nil && id != not {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("coordinator of %q: %d, %v", key, id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newTestClient(t *testing.T, c *cluster.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...), kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond })}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// committedOffsets reads group's committed offsets with a fresh client
// that bootstraps from the brokers other than skip (a paused one);
// partitions without a commit are absent.
func committedOffsets(ctx context.Context, t *testing.T, c *cluster.Cluster, group string, skip int32) (map[int32]int64, error) {
	var seeds []string
	for _, b := range c.Brokers() {
		if b.ID != skip {
			seeds = append(seeds, b.Addr)
		}
	}
	cl := newTestClient(t, c, kgo.SeedBrokers(seeds...))
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var ferr error
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			ferr = o.Err
		}
		if o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, ferr
}

// waitCommitted polls the group's committed offsets (skipping broker
// skip) until they equal want or within passes; it says what it saw last.
func waitCommitted(ctx context.Context, t *testing.T, c *cluster.Cluster, group string, skip int32, want map[int32]int64, within time.Duration) (string, bool) {
	deadline := time.Now().Add(within)
	got := "no answer"
	for {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		g, err := committedOffsets(fctx, t, c, group, skip)
		cancel()
		if err == nil {
			got = fmt.Sprint(g)
			if got == fmt.Sprint(want) {
				return got, true
			}
		} else {
			got = err.Error()
		}
		if time.Now().After(deadline) {
			return got, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consumeAndCommit joins group, consumes n records (at least) and commits
// exactly what it consumed, synchronously; it returns the committed offsets.
func consumeAndCommit(ctx context.Context, t *testing.T, c *cluster.Cluster, group, topic string, n int) map[int32]int64 {
	t.Helper()
	cl := newTestClient(t, c, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(4096), kgo.FetchMaxPartitionBytes(1024))
	defer cl.Close()
	want := map[int32]int64{}
	var recs []*kgo.Record
	for len(recs) < n && ctx.Err() == nil {
		fs := cl.PollRecords(ctx, n-len(recs))
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			want[r.Partition] = max(want[r.Partition], r.Offset+1)
		})
	}
	if err := cl.CommitRecords(ctx, recs...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return want
}

// TestCoordinatorFailoverKeepsOffsets is the user's scenario: a group
// consumes part of a topic and commits synchronously; the group's
// coordinator is killed (kill -9), later paused for 5 s; a fresh consumer
// of the group must see the committed offsets on every partition.
func TestCoordinatorFailoverKeepsOffsets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	c := startRealCluster(t, ctx)
	const topic, group = "orders", "billing"
	cl := newTestClient(t, c, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	createRF3Topic(t, ctx, c, cl, topic, 3)
	var recs []*kgo.Record
	for i := range 6000 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "r%05d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	want := consumeAndCommit(ctx, t, c, group, topic, 3000)
	coord := waitCoordinator(t, ctx, cl, 0, group, -1)
	t.Logf("committed %v; coordinator is broker %d; killing it", want, coord)
	if err := c.Kill(coord); err != nil {
		t.Fatal(err)
	}
	if got, ok := waitCommitted(ctx, t, c, group, coord, want, 15*time.Second); !ok {
		t.Fatalf("after killing coordinator %d: committed offsets %v, want %v", coord, got, want)
	}
	newCoord := waitCoordinator(t, ctx, cl, 0, group, coord)
	t.Logf("after the kill broker %d coordinates the group with the same offsets", newCoord)

	// The killed broker returns; the group commits further, then its
	// coordinator stops answering for 5 s (SIGSTOP) and comes back.
	if err := c.Restart(coord); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, ctx, c, 30*time.Second)
	for p, o := range consumeAndCommit(ctx, t, c, group, topic, 1500) {
		want[p] = o
	}
	coord = waitCoordinator(t, ctx, cl, 0, group, -1)
	t.Logf("committed %v; coordinator is broker %d; pausing it for 5s", want, coord)
	if err := c.Pause(coord); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	// While it is paused, once the controller has fenced it (session
	// timeout 2 s), another broker answers with the same offsets.
	got, ok := waitCommitted(ctx, t, c, group, coord, want, 4800*time.Millisecond-time.Since(pausedAt))
	answered := time.Since(pausedAt)
	if d := 5*time.Second - time.Since(pausedAt); d > 0 {
		time.Sleep(d)
	}
	if err := c.Resume(coord); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("while coordinator %d was paused: committed offsets %v, want %v", coord, got, want)
	}
	t.Logf("while coordinator %d was paused another broker answered with the same offsets %.1fs into the pause", coord, answered.Seconds())
	if got, ok := waitCommitted(ctx, t, c, group, -1, want, 15*time.Second); !ok {
		t.Fatalf("after resuming coordinator %d: committed offsets %v, want %v", coord, got, want)
	}
}

// TestTxnCoordinatorFailover: a transaction left open when its coordinator
// is killed ends within its timeout (its records never become visible and
// the last stable offset moves on), and a producer that lost its
// coordinator is fenced once a new instance with its transactional id
// initialises on the new coordinator.
func TestTxnCoordinatorFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := startRealCluster(t, ctx)
	const topic = "ledger"
	admin := newTestClient(t, c)
	adm := kadm.NewClient(admin)
	createRF3Topic(t, ctx, c, admin, topic, 1)
	const txnTimeout = 6 * time.Second
	newTxnProducer := func(id string) *kgo.Client {
		return newTestClient(t, c, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(id), kgo.TransactionTimeout(txnTimeout),
			kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	// A plain record after the open transaction: the LSO stays below it
	// until the transaction ends.
	plain := newTestClient(t, c, kgo.DefaultProduceTopic(topic))

	// 1. The open transaction of a dead coordinator ends within its timeout.
	orphan := newTxnProducer("orphan")
	if err := orphan.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := orphan.ProduceSync(ctx, &kgo.Record{Value: []byte("orphan-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("plain-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	coord := waitCoordinator(t, ctx, admin, 1, "orphan", -1)
	killedAt := time.Now()
	t.Logf("transaction open; its coordinator is broker %d; killing it", coord)
	if err := c.Kill(coord); err != nil {
		t.Fatal(err)
	}
	stableAt := func() (int64, int64) {
		lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
		defer lcancel()
		lso, _ := adm.ListCommittedOffsets(lctx, topic)
		hw, _ := adm.ListEndOffsets(lctx, topic)
		l, _ := lso.Lookup(topic, 0)
		h, _ := hw.Lookup(topic, 0)
		return l.Offset, h.Offset
	}
	for {
		lso, hw := stableAt()
		if lso >= 2 && lso == hw {
			t.Logf("transaction ended %s after its coordinator was killed (LSO %d)", time.Since(killedAt).Round(time.Millisecond), lso)
			break
		}
		// The coordinator change takes the session timeout and a load; the
		// transaction then times out and aborts.
		if time.Since(killedAt) > txnTimeout+10*time.Second {
			t.Fatalf("open transaction never ended: LSO %d, high watermark %d, %s after its coordinator was killed", lso, hw, time.Since(killedAt).Round(time.Millisecond))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.Restart(coord); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, ctx, c, 30*time.Second)

	// 2. A zombie is fenced by InitProducerId on the new coordinator.
	zombie := newTxnProducer("zombie")
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	coord = waitCoordinator(t, ctx, admin, 1, "zombie", -1)
	t.Logf("zombie's coordinator is broker %d; killing it", coord)
	if err := c.Kill(coord); err != nil {
		t.Fatal(err)
	}
	waitCoordinator(t, ctx, admin, 1, "zombie", coord)
	successor := newTxnProducer("zombie")
	if err := successor.BeginTransaction(); err != nil { // InitProducerId on the new coordinator
		t.Fatal(err)
	}
	if err := successor.ProduceSync(ctx, &kgo.Record{Value: []byte("successor-1")}).FirstErr(); err != nil {
		t.Fatalf("successor produce: %v", err)
	}
	zctx, zcancel := context.WithTimeout(ctx, 10*time.Second)
	zerr := zombie.ProduceSync(zctx, &kgo.Record{Value: []byte("zombie-2")}).FirstErr()
	zcancel()
	if zerr == nil {
		t.Fatal("the zombie producer still writes after its successor initialised on the new coordinator")
	}
	if !errors.Is(zerr, kerr.ProducerFenced) && !errors.Is(zerr, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie produce: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", zerr)
	}
	t.Logf("the zombie is fenced: %v", zerr)
	if err := successor.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("successor commit: %v", err)
	}
	// read_committed sees the plain records and the successor's, nothing of
	// the orphan or the zombie.
	cons := newTestClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var seen []string
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	for len(seen) < 2 && cctx.Err() == nil {
		cons.PollFetches(cctx).EachRecord(func(r *kgo.Record) { seen = append(seen, string(r.Value)) })
	}
	if fmt.Sprint(seen) != "[plain-1 successor-1]" {
		t.Fatalf("read_committed saw %v, want [plain-1 successor-1]", seen)
	}
}

// TestCoordinatorFailoverConfluentKafka is the scenario as a user ran it
// with python3-confluent-kafka: a group consumes half of 6,000 records and
// commits synchronously, the group's coordinator is killed, and a fresh
// consumer of the group reads the same committed offsets (before the
// internal topics it read -1001 everywhere).
func TestCoordinatorFailoverConfluentKafka(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Fatalf("%s not installed (run `make test-deps`): %v", python, err)
	}
	script, _ := filepath.Abs("testdata/group_failover.py")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := startRealCluster(t, ctx)
	const topic, group = "payments", "ledger-writer"
	cl := newTestClient(t, c)
	createRF3Topic(t, ctx, c, cl, topic, 3)
	bootstrap := strings.Join(c.Bootstrap(), ",")
	py := func(args ...string) map[string]int64 {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		defer pcancel()
		out, err := exec.CommandContext(pctx, python, append([]string{script}, args...)...).CombinedOutput()
		line := strings.TrimSpace(string(out))
		if i := strings.LastIndex(line, "\n"); i >= 0 {
			line = line[i+1:]
		}
		var offs map[string]int64
		if err != nil || !strings.HasPrefix(line, "OK ") || json.Unmarshal([]byte(line[3:]), &offs) != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
		return offs
	}
	want := py("consume", bootstrap, topic, group, "3", "6000")
	coord := waitCoordinator(t, ctx, cl, 0, group, -1)
	t.Logf("confluent-kafka committed %v; killing coordinator %d", want, coord)
	if err := c.Kill(coord); err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, b := range c.Brokers() {
		if b.ID != coord {
			live = append(live, b.Addr)
		}
	}
	got := py("committed", strings.Join(live, ","), topic, group, "3")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after killing coordinator %d a fresh consumer sees %v, want %v", coord, got, want)
	}
	t.Logf("a fresh confluent-kafka consumer sees %v after the kill", got)
}
