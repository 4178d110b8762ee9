package target_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/target"
	"github.com/kbench/kbench/target/targettest"
)

// TestMain lets this test binary stand in for `kbench broker` in the
// process and cluster targets.
func TestMain(m *testing.M) { targettest.Main(m) }

func run(t *testing.T, cfg bench.RunConfig) *bench.Result {
	t.Helper()
	var out bytes.Buffer
	res, err := bench.Run(context.Background(), cfg, bench.LineSink{W: &out})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return res
}

// The in-process broker: a temporary data dir is removed on Close, a given
// one is kept, and a second broker recovers the topic from it.
func TestInProcessLifecycle(t *testing.T) {
	tg, err := target.Start(context.Background(), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := tg.Dir()
	if !tg.InProcess() || tg.Faults() != nil || tg.PIDs() != nil || !strings.Contains(tg.Describe(), "in this process") {
		t.Errorf("in-process target: InProcess %v, Faults %v, PIDs %v, Describe %q", tg.InProcess(), tg.Faults(), tg.PIDs(), tg.Describe())
	}
	res := run(t, bench.RunConfig{Mode: bench.ModeE2E, Target: tg, Rate: 1000, Duration: 500 * time.Millisecond, Topic: bench.TopicConfig{Partitions: 2}})
	if res.Consume.Consumed != 500 || !res.CPU.IncludesBroker {
		t.Errorf("consumed %d, CPU includes broker %v: want 500 and true", res.Consume.Consumed, res.CPU.IncludesBroker)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary data dir %s still there after Close: %v", dir, err)
	}
	keep := t.TempDir()
	tg, err = target.Start(context.Background(), target.Options{Dir: keep})
	if err != nil {
		t.Fatal(err)
	}
	run(t, bench.RunConfig{Mode: bench.ModeProduce, Target: tg, NumRecords: 300, Duration: 10 * time.Second, Topic: bench.TopicConfig{Name: "kept"}})
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	tg, err = target.Start(context.Background(), target.Options{Dir: keep})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	res = run(t, bench.RunConfig{Mode: bench.ModeConsume, Target: tg, Duration: 10 * time.Second, Topic: bench.TopicConfig{Name: "kept"}})
	if res.Consume.Consumed != 300 {
		t.Errorf("consumed %d records from the kept data dir, want 300", res.Consume.Consumed)
	}
}

// autoCreated reports whether a metadata request for an unknown topic,
// allowing auto-creation, created it.
func autoCreated(t *testing.T, tg *target.Target, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tg.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	for range 2 { // the second request sees what the first created
		if _, err := req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0
}

func TestNoAutoCreate(t *testing.T) {
	for _, o := range []target.Options{{}, {NoAutoCreate: true}} {
		tg, err := target.Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if got := autoCreated(t, tg, "unknown"); got == o.NoAutoCreate {
			t.Errorf("NoAutoCreate %v: topic auto-created %v", o.NoAutoCreate, got)
		}
		if err := tg.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A broker in its own process: its pid is reported, it dies with Close,
// and Alive says so once it has gone.
func TestProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tg, err := target.Start(context.Background(), target.Options{Process: true, Dir: dir, Binary: exe, Env: targettest.ChildEnv()})
	if err != nil {
		t.Fatal(err)
	}
	if tg.InProcess() || len(tg.PIDs()) != 1 || tg.Alive() != nil {
		t.Fatalf("process target: InProcess %v, PIDs %v, Alive %v", tg.InProcess(), tg.PIDs(), tg.Alive())
	}
	res := run(t, bench.RunConfig{Mode: bench.ModeProduce, Target: tg, NumRecords: 100, Duration: 10 * time.Second})
	if res.Produce.Acked != 100 || res.CPU.IncludesBroker {
		t.Errorf("acked %d, CPU includes broker %v: want 100 and false", res.Produce.Acked, res.CPU.IncludesBroker)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tg.Alive(); err == nil {
		t.Error("Alive after Close: got nil, want an error")
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "broker-1.log")); err != nil || !bytes.Contains(raw, []byte("listening on")) {
		t.Errorf("broker-1.log: %v, %q", err, raw)
	}
}

// A cluster with a log dir keeps the supervisor's and every broker's log
// there, and removes its temporary data.
func TestClusterLogs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	tg, err := target.Start(context.Background(), target.Options{Brokers: 2, LogDir: logs, Purpose: "test", Binary: exe, Env: targettest.ChildEnv()})
	if err != nil {
		t.Fatal(err)
	}
	dir := tg.Dir()
	if tg.Faults() == nil || len(tg.Bootstrap()) != 2 || len(tg.PIDs()) != 2 || tg.Alive() != nil {
		t.Fatalf("cluster: Faults %v, Bootstrap %v, PIDs %v, Alive %v", tg.Faults(), tg.Bootstrap(), tg.PIDs(), tg.Alive())
	}
	if err := tg.Faults().Kill(2); err != nil {
		t.Fatal(err)
	}
	if err := tg.Alive(); err == nil || !strings.Contains(err.Error(), "broker 2 is killed") {
		t.Errorf("Alive with broker 2 killed: got %v", err)
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary data dir %s still there after Close: %v", dir, err)
	}
	for name, want := range map[string]string{"cluster.log": "=== stopped in", "broker-1.log": "listening on", "broker-2.log": "listening on"} {
		if raw, err := os.ReadFile(filepath.Join(logs, name)); err != nil || !bytes.Contains(raw, []byte(want)) {
			t.Errorf("%s: %v, want it to contain %q; it holds:\n%s", name, err, want, raw)
		}
	}
}

func TestExternalAndBadOptions(t *testing.T) {
	tg, err := target.Start(context.Background(), target.Options{Bootstrap: "a:1, b:2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tg.Bootstrap(), ","); got != "a:1,b:2" || tg.Dir() != "" || tg.Faults() != nil || tg.Close() != nil {
		t.Errorf("external: bootstrap %q, dir %q", got, tg.Dir())
	}
	for _, tc := range []struct {
		name string
		o    target.Options
		is   error
	}{
		{"bootstrap without a port", target.Options{Bootstrap: "nohost"}, nil},
		{"bootstrap and brokers", target.Options{Bootstrap: "a:1", Brokers: 3}, nil},
		{"too many brokers", target.Options{Brokers: target.MaxBrokers + 1}, target.ErrBrokers},
		{"negative brokers", target.Options{Brokers: -1}, target.ErrBrokers},
		{"a process of 3 brokers", target.Options{Brokers: 3, Process: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := target.Start(context.Background(), tc.o)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("got %v, want an error (%v)", err, tc.is)
			}
		})
	}
}
