package broker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/broker/records"
	"github.com/kbench/kbench/broker/storage"
)

// TestMain lets the test binary act as a broker process for the crash test:
// with KBENCH_CHILD_BROKER=dir it serves that data dir until killed.
func TestMain(m *testing.M) {
	if addr := os.Getenv(etlWorkerEnv); addr != "" {
		if err := etlWorker(addr, 15*time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "etl worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("KBENCH_CHILD_BROKER"); dir != "" {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = dir
		b, err := Start(context.Background(), cfg)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ADDR", b.Addr())
		select {}
	}
	os.Exit(m.Run())
}

// consumeAll reads every record of topic from the start until n records or
// the context ends, keyed by value.
func consumeAll(ctx context.Context, t *testing.T, addr, topic string, n int) map[string]int64 {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]int64{}
	for len(got) < n && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			key := strconv.Itoa(int(r.Partition)) + "/" + string(r.Value)
			if _, dup := got[key]; dup {
				t.Errorf("record %s read twice", key)
			}
			got[key] = r.Offset
		})
	}
	return got
}

func TestRestartKeepsOffsets(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, func(c *Config) { c.DataDir = dir; c.Log.SegmentBytes = 64 << 10 })
	ctx := testCtx(t, 60*time.Second)
	cl := newClient(t, b, kgo.DefaultProduceTopic("restart"))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": strp("-1")}, "restart"); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v%05d", i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := consumeAll(ctx, t, b.Addr(), "restart", n)
	cl.Close()
	b.Close()

	b2 := startBroker(t, func(c *Config) { c.DataDir = dir; c.Log.SegmentBytes = 64 << 10 })
	tp := b2.topics.get("restart")
	if tp == nil || tp.configs["retention.ms"] != "-1" {
		t.Fatalf("topic or its configs lost on restart: %+v", tp)
	}
	after := consumeAll(ctx, t, b2.Addr(), "restart", n)
	if len(before) != n || len(after) != n {
		t.Fatalf("got %d records before and %d after restart, want %d", len(before), len(after), n)
	}
	for k, off := range before {
		if after[k] != off {
			t.Fatalf("record %s: offset %d before restart, %d after", k, off, after[k])
		}
	}
	// New appends continue after the recovered end.
	cl2 := newClient(t, b2, kgo.DefaultProduceTopic("restart"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r := cl2.ProduceSync(ctx, &kgo.Record{Value: []byte("after"), Partition: 0})
	if err := r.FirstErr(); err != nil {
		t.Fatal(err)
	}
	var end0 int64
	for k, off := range before {
		if strings.HasPrefix(k, "0/") && off+1 > end0 {
			end0 = off + 1
		}
	}
	if got := r[0].Record.Offset; got != end0 {
		t.Fatalf("first offset after restart: got %d, want %d", got, end0)
	}
}

// TestCrashKeepsAcknowledged kill -9s a broker process during an acks=1
// produce stream, restarts it on the same data dir, and checks that every
// acknowledged record is readable and that no batch in the log is corrupt.
func TestCrashKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KBENCH_CHILD_BROKER="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ADDR ") {
			cmd.Process.Kill()
			t.Fatalf("child broker: %q %v", line, err)
		}
		return cmd, strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	}
	cmd, addr := start()
	ctx := testCtx(t, 90*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("crash"), kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.RecordRetries(0), kgo.RecordDeliveryTimeout(3*time.Second),
		kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	s := streamAcks(ctx, cl, 200, time.Millisecond, func(r *kgo.Record) string {
		return strconv.Itoa(int(r.Partition)) + "/" + string(r.Value)
	})
	deadline := time.Now().Add(20 * time.Second)
	for s.count() < 20000 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s.halt()
	cl.Close()
	nAcked := s.count()
	if nAcked < 1000 {
		t.Fatalf("only %d records acknowledged before the kill", nAcked)
	}

	cmd2, addr2 := start()
	defer func() { cmd2.Process.Kill(); cmd2.Wait() }()
	got := consumeAll(ctx, t, addr2, "crash", nAcked)
	for k := range s.acked {
		if _, ok := got[k]; !ok {
			t.Fatalf("acknowledged record %s lost after kill -9 (acked %d, read %d)", k, nAcked, len(got))
		}
	}
	t.Logf("acked %d before kill -9, read back %d after restart", nAcked, len(got))
	cmd2.Process.Kill()
	cmd2.Wait()
	// Every batch left in every segment must be intact.
	for p := 0; p < 4; p++ {
		l, err := storage.Open(partitionDir(dir, "crash", int32(p)), storage.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		raw, err := l.ReadBytes(l.StartOffset(), 1<<40, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := records.Validate(raw, 1<<30); err != nil && len(raw) > 0 {
			t.Fatalf("partition %d: corrupt batch after recovery: %v", p, err)
		}
		l.Close()
	}
}
