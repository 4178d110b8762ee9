package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/audit"
	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/faults/inject"
	"github.com/kbench/kbench/target"
	"github.com/kbench/kbench/target/targettest"
)

func TestMain(m *testing.M) { targettest.Main(m) }

// sessionTimeout is the controller's default: a killed leader is fenced
// and replaced after it.
const sessionTimeout = 2 * time.Second

func startCluster(t *testing.T) *target.Target { return targettest.StartCluster(t, 3) }

// ackLog is the producer side's own record of acknowledgements,
// independent of the audit's bookkeeping.
type ackLog struct {
	mu    sync.Mutex
	acked map[audit.ID][2]int64 // partition, offset
}

func (l *ackLog) hooks() *bench.Hooks {
	l.acked = map[audit.ID][2]int64{}
	return &bench.Hooks{OnAck: func(p int, seq uint64, r *kgo.Record, err error) {
		if err != nil {
			return
		}
		l.mu.Lock()
		l.acked[audit.ID{Producer: p, Seq: seq}] = [2]int64{int64(r.Partition), r.Offset}
		l.mu.Unlock()
	}}
}

// durabilityRun runs cfg with a fault schedule and an audit, the way
// kbench produce --fault ... --audit does.
func durabilityRun(t *testing.T, ec *target.Target, cfg bench.RunConfig, sched []string) (*bench.Result, *inject.Report, *audit.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	s, err := faults.ParseFlags(sched)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Target = ec
	if cfg.Client == nil {
		// franz-go otherwise refreshes metadata at most every 5 s after a
		// leader change: that would measure the client's throttle.
		cfg.Client = map[string]string{"metadata.max.age.ms": "250"}
	}
	runner, err := inject.NewRunner(s, inject.Options{Cluster: ec.Faults(), Dir: dir, HealTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runner.Attach(&cfg)
	aud := audit.New(audit.Options{Dir: dir, ScanTimeout: 30 * time.Second})
	if err := aud.Attach(&cfg); err != nil {
		t.Fatal(err)
	}
	res, err := bench.Run(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	frep, err := runner.Finish(ctx)
	if err != nil {
		t.Fatalf("faults: %v", err)
	}
	for _, ev := range frep.Events {
		t.Logf("fault %s at %.2fs: brokers %v %s %s", ev.Action, float64(ev.Started), ev.Brokers, ev.Note, ev.Err)
		if ev.Err != "" || ev.Skipped {
			t.Errorf("fault %s: error %q, skipped %v", ev.Action, ev.Err, ev.Skipped)
		}
	}
	t.Logf("heal: %v, healthy %v after %.2fs", frep.Heal.Actions, frep.Heal.Healthy, float64(frep.Heal.Settled))
	rep, err := aud.Check(ctx)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	t.Logf("%.0f records/s acked, p99 %.1f ms\n%s", res.Produce.RecordsPerSec, res.Latency.Response.P99, rep.Summary())
	if rep.Sent != rep.Acknowledged+rep.Failed {
		t.Errorf("sent %d != acknowledged %d + failed %d", rep.Sent, rep.Acknowledged, rep.Failed)
	}
	if _, err := os.Stat(filepath.Join(dir, audit.LostFile)); err != nil {
		t.Errorf("lost-id list not written: %v", err)
	}
	back, err := audit.ReadReport(filepath.Join(dir, audit.ReportFile))
	if err != nil || back.Lost != rep.Lost || back.Acknowledged != rep.Acknowledged {
		t.Errorf("audit.json: %+v, %v; want the report", back, err)
	}
	return res, frep, rep
}

func TestLeaderKillAcksAllLosesNothing(t *testing.T) {
	ec := startCluster(t)
	res, frep, rep := durabilityRun(t, ec, bench.RunConfig{
		Mode:     bench.ModeProduce,
		Topic:    bench.TopicConfig{Name: "acks-all", Partitions: 3, ReplicationFactor: 3, Configs: map[string]string{"min.insync.replicas": "2"}},
		Producer: map[string]string{"acks": "all", "enable.idempotence": "true"},
		Rate:     2000, Warmup: time.Second, Duration: 5 * time.Second, Interval: time.Second,
		Workload: bench.Workload{RecordSize: "200"},
	}, []string{"1s:kill-leader:0"})
	if ev := frep.Events[0]; len(ev.Brokers) != 1 || ev.Brokers[0] < 1 {
		t.Fatalf("kill-leader killed %v, want the leader", ev.Brokers)
	}
	if rep.Acknowledged < 5000 {
		t.Errorf("only %d records acknowledged", rep.Acknowledged)
	}
	if rep.Lost != 0 || rep.Duplicated != 0 {
		t.Errorf("acks=all, RF 3, min.insync 2, idempotent: lost %d, duplicated %d; want 0 and 0 (first lost: %v)", rep.Lost, rep.Duplicated, rep.LostIDs)
	}
	if rep.Readable < rep.Acknowledged {
		t.Errorf("readable %d < acknowledged %d", rep.Readable, rep.Acknowledged)
	}
	// The killed leader's partitions wait for the controller to fence it
	// (the session timeout) and for the client to find the new leader.
	bound := sessionTimeout + 3*time.Second
	if u := rep.Unavailability.Dur(); u < sessionTimeout/2 || u > bound {
		t.Errorf("unavailability %s, want between %s (the kill must show) and %s", u, sessionTimeout/2, bound)
	}
	if f := rep.UnavailabilityFrom; f < 0.5 || f > 2 {
		t.Errorf("longest gap began %.2fs after warmup, want near the kill at 1s", float64(f))
	}
	if res.Produce.Failed != 0 {
		t.Errorf("%d sends failed", res.Produce.Failed)
	}
}

func TestAcksOneLosesUnreplicatedTail(t *testing.T) {
	ec := startCluster(t)
	const topic = "acks-one"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The topic exists first so the followers are known when the schedule
	// is written.
	cl, err := kgo.NewClient(kgo.SeedBrokers(ec.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := ec.Faults().WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	leader, err := ec.Faults().LeaderOf(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Replication stops (each follower's next fetch waits 4 s) at 1s, the
	// leader dies at 2.5s: what it acknowledged in between exists nowhere
	// else, a follower takes over, and the restarted leader truncates it.
	sched := []string{"2500ms:kill-leader:0"}
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			sched = append(sched, fmt.Sprintf("1s:delay:%d:4s", id))
		}
	}
	var own ackLog
	_, _, rep := durabilityRun(t, ec, bench.RunConfig{
		Mode:     bench.ModeProduce,
		Topic:    bench.TopicConfig{Name: topic, Partitions: 1, ReplicationFactor: 3},
		Producer: map[string]string{"acks": "1", "enable.idempotence": "false"},
		Rate:     1000, Warmup: time.Second, Duration: 4 * time.Second, Interval: time.Second,
		Workload: bench.Workload{RecordSize: "100"},
		Hooks:    own.hooks(),
	}, sched)
	if rep.Lost == 0 {
		t.Fatalf("acks=1 with replication stopped before the leader was killed: lost 0, want > 0")
	}
	if len(rep.LostIDs) != min(int(rep.Lost), audit.DefaultMaxListed) {
		t.Errorf("%d lost ids listed of %d lost", len(rep.LostIDs), rep.Lost)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	for _, l := range rep.LostIDs {
		at, ok := own.acked[l.ID]
		if !ok {
			t.Errorf("lost id %s was never acknowledged to the producer", l.ID)
			continue
		}
		if at != [2]int64{int64(l.Partition), l.Offset} {
			t.Errorf("lost id %s listed at %d@%d, the producer saw it acknowledged at %d@%d", l.ID, l.Partition, l.Offset, at[0], at[1])
		}
	}
	// An independent read-back agrees on the count.
	read := readAll(t, ec, topic)
	var missing int64
	for id := range own.acked {
		if !read[id] {
			missing++
		}
	}
	if missing != rep.Lost {
		t.Errorf("independent read-back: %d acknowledged ids missing, audit says %d lost", missing, rep.Lost)
	}
	for _, l := range rep.LostIDs {
		if read[l.ID] {
			t.Errorf("lost id %s is readable", l.ID)
		}
	}
}

// readAll reads a topic from the start with a plain consumer and returns
// the ids found.
func readAll(t *testing.T, ec *target.Target, topic string) map[audit.ID]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ec.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(ec.Bootstrap()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	out := map[audit.ID]bool{}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	for len(left) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read-back incomplete: %v", left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == audit.Header {
					if _, id, err := audit.ParseID(h.Value); err == nil {
						out[id] = true
					}
				}
			}
			if end, ok := left[r.Partition]; ok && r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

func TestDroppedResponsesDuplicateWithoutIdempotence(t *testing.T) {
	ec := startCluster(t)
	for _, tc := range []struct {
		idempotence string
		wantDup     bool
	}{{"false", true}, {"true", false}} {
		t.Run("idempotence="+tc.idempotence, func(t *testing.T) {
			_, _, rep := durabilityRun(t, ec, bench.RunConfig{
				Mode:     bench.ModeProduce,
				Topic:    bench.TopicConfig{Name: "drops-" + tc.idempotence, Partitions: 3, ReplicationFactor: 3},
				Producer: map[string]string{"acks": "all", "enable.idempotence": tc.idempotence, "retry.backoff.ms": "20"},
				Rate:     1000, Warmup: 500 * time.Millisecond, Duration: 3 * time.Second, Interval: time.Second,
				Workload: bench.Workload{RecordSize: "100"},
			}, []string{"0s:drop-produce:0.2"})
			if rep.Lost != 0 {
				t.Errorf("lost %d, want 0 (acks=all, nothing killed)", rep.Lost)
			}
			if tc.wantDup && rep.Duplicated == 0 {
				t.Errorf("idempotence off, 20%% of produce responses dropped: duplicated 0, want > 0")
			}
			if !tc.wantDup && rep.Duplicated != 0 {
				t.Errorf("idempotent producer: duplicated %d, want 0", rep.Duplicated)
			}
			if !strings.Contains(rep.Summary(), "DUPLICATED") {
				t.Errorf("summary lacks the duplicate count:\n%s", rep.Summary())
			}
		})
	}
}
