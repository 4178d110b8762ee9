package broker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConfluentTransactionalETL: librdkafka's consume-transform-produce with
// send_offsets_to_transaction and one deliberately aborted transaction.
func TestConfluentTransactionalETL(t *testing.T) {
	requireTool(t, debianPython)
	b := startBroker(t)
	ctx := testCtx(t, 120*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("input"))
	adm := kadm.NewClient(cl)
	for _, topic := range []string{"input", "output"} {
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	const n = 3000
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("value-%05d", i)
		if i == 1500 {
			v += "-abort"
		}
		cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(v)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/txn_etl.py")
	out := string(run(t, 110*time.Second, nil, debianPython, script, b.Addr(), "etl", fmt.Sprint(n)))
	var commits, aborts int
	if _, err := fmt.Sscanf(strings.TrimSpace(out[strings.LastIndex(out, "OK"):]), "OK %d %d", &commits, &aborts); err != nil || aborts != 1 {
		t.Fatalf("etl script: %q (want one aborted transaction)", out)
	}
	rc := countValues(t, b.Addr(), "output", true, n)
	ru := countValues(t, b.Addr(), "output", false, n)
	abortedSeen := 0
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("VALUE-%05d", i)
		if i == 1500 {
			v += "-ABORT"
		}
		if rc[v] != 1 {
			t.Fatalf("read_committed saw %s %d times, want exactly 1", v, rc[v])
		}
		abortedSeen += ru[v] - 1
	}
	if len(rc) != n {
		t.Fatalf("read_committed saw %d distinct outputs, want %d", len(rc), n)
	}
	if abortedSeen == 0 {
		t.Fatalf("read_uncommitted saw no record of the aborted transaction")
	}
	t.Logf("%d transactions committed, 1 aborted; read_uncommitted saw %d aborted records, read_committed none", commits, abortedSeen)
}

// TestMain's child modes (restart_test.go) include an ETL worker: see etlWorker.
const etlWorkerEnv = "KBENCH_ETL_WORKER"

// etlWorker runs a franz-go GroupTransactSession consume-transform-produce
// loop until killed or until it is idle for idle.
func etlWorker(addr string, idle time.Duration) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr),
		kgo.TransactionalID("etl-"+fmt.Sprint(os.Getpid())),
		kgo.ConsumerGroup("etl-group"),
		kgo.ConsumeTopics("etl-in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic("etl-out"),
		kgo.SessionTimeout(6*time.Second),
		kgo.TransactionTimeout(10*time.Second),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	ctx := context.Background()
	// Idle time counts from the first records: joining takes a few seconds.
	last := time.Now().Add(30 * time.Second)
	for time.Since(last) < idle {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		last = time.Now()
		if err := sess.Begin(); err != nil {
			return err
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: []byte(strings.ToUpper(string(r.Value)))}, nil)
		}
		if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
	return nil
}

// TestGroupTransactSessionETL runs two franz-go GroupTransactSession workers
// over 100,000 records, kill -9s one midway, and checks the output holds every
// input record exactly once.
func TestGroupTransactSessionETL(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 150*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("etl-in"), kgo.ProducerLinger(5*time.Millisecond))
	adm := kadm.NewClient(cl)
	for _, topic := range []string{"etl-in", "etl-out"} {
		if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	const n = 100_000
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("rec-%06d", i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), etlWorkerEnv+"="+b.Addr())
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	victim, survivor := start(), start()
	defer func() { victim.Process.Kill(); victim.Wait() }()
	// Kill one worker once output is flowing.
	for {
		end, _ := adm.ListEndOffsets(ctx, "etl-out")
		total := int64(0)
		end.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total > n/4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no output from the ETL workers")
		}
		time.Sleep(50 * time.Millisecond)
	}
	victim.Process.Signal(syscall.SIGKILL)
	victim.Wait()
	if err := survivor.Wait(); err != nil {
		t.Fatalf("surviving worker: %v", err)
	}
	got := countValues(t, b.Addr(), "etl-out", true, n)
	for i := 0; i < n; i++ {
		if v := fmt.Sprintf("REC-%06d", i); got[v] != 1 {
			t.Fatalf("output has %s %d times, want exactly 1", v, got[v])
		}
	}
	if len(got) != n {
		t.Fatalf("output has %d distinct records, want %d", len(got), n)
	}
}
