package cli

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kbench/kbench/bench"
)

func TestLoadHelpNamesKafkaProperties(t *testing.T) {
	for _, mode := range []string{"produce", "consume", "e2e"} {
		var out bytes.Buffer
		if code := Main([]string{mode, "--help"}, &out, &out); code != 0 {
			t.Fatalf("%s --help exited %d", mode, code)
		}
		help := out.String()
		want := []string{"(Kafka: bootstrap.servers)", "kafka-topics --partitions", "kafka-topics --replication-factor", "kafka-topics --config",
			"(kafka-producer-perf-test --record-size)", "(kafka-producer-perf-test --num-records)", "--command-config", "--json", "--hlog"}
		role := bench.RoleProducer
		switch mode {
		case "produce":
			want = append(want, "(Kafka: acks)", "(Kafka: linger.ms)", "(Kafka: batch.size)", "(Kafka: compression.type)",
				"compression.zstd.level)", "(Kafka: enable.idempotence)", "(kafka-producer-perf-test --throughput)", "(kafka-producer-perf-test --producer-props)")
		case "consume":
			role = bench.RoleConsumer
			want = append(want, "(Kafka: group.id)", "--prefill", "--consumer-props")
		case "e2e":
			role = bench.RoleCommon
			want = append(want, "(Kafka: acks)", "(Kafka: group.id)", "--drain-timeout")
		}
		for _, p := range bench.SupportedProperties(role) {
			want = append(want, "  "+p.Name)
		}
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("%s --help does not mention %q", mode, w)
			}
		}
	}
}

func TestFlagProps(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"defaults add nothing", nil, map[string]string{}, ""},
		{"flags become properties", []string{"--acks", "1", "--linger-ms", "20", "--batch-size", "65536", "--compression", "zstd", "--compression-level", "9", "--idempotence=false"},
			map[string]string{"acks": "1", "linger.ms": "20", "batch.size": "65536", "compression.type": "zstd", "compression.zstd.level": "9", "enable.idempotence": "false"}, ""},
		{"level follows the codec in props", []string{"--producer-props", "compression.type=gzip", "--compression-level", "6"},
			map[string]string{"compression.type": "gzip", "compression.gzip.level": "6"}, ""},
		{"agreeing flag and prop", []string{"--acks", "all", "--producer-props", "acks=all"}, map[string]string{"acks": "all"}, ""},
		{"conflict", []string{"--acks", "1", "--producer-props", "acks=all"}, nil, "--acks 1 conflicts with the property acks=all"},
		{"level without codec", []string{"--compression-level", "3"}, nil, "--compression-level needs --compression gzip, lz4 or zstd"},
		{"bad kv", []string{"--producer-props", "acks"}, nil, "want key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, o := newLoadCommand(bench.ModeProduce, &bytes.Buffer{}, &bytes.Buffer{})
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := o.config()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(cfg.Producer, tt.want) {
				t.Errorf("producer props %q, want %q", cfg.Producer, tt.want)
			}
		})
	}
}

// run executes kbench with args and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestE2ECommand(t *testing.T) {
	dir := t.TempDir()
	jsonPath, hlogPath := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.hlog")
	code, out, errOut := run(t, "e2e", "--rate", "2000", "--duration", "2s", "--warmup", "500ms", "--interval", "1s",
		"--partitions", "3", "--consumers", "2", "--payload", "json", "--keys", "uniform:50", "--compression", "zstd",
		"--json", jsonPath, "--hlog", hlogPath)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Log(out)
	for _, w := range []string{"(warmup)", "records acked", "e2e p99", "latency ms", "end-to-end", "embedded kbench", "result: VALID"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	res, err := bench.ReadResult(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if res.Produce.Acked != 4000 || res.Consume.Consumed != 4000 || res.Latency.E2E == nil || res.Latency.E2E.Count != 4000 {
		t.Errorf("json figures: acked %d consumed %d e2e %+v, want 4000 each", res.Produce.Acked, res.Consume.Consumed, res.Latency.E2E)
	}
	if res.Settings.Producer["compression.type"] != "zstd" || res.Partitions != 3 || res.Produce.CompressionRatio <= 1.5 {
		t.Errorf("json settings: producer %v, partitions %d, compression ratio %.2f", res.Settings.Producer, res.Partitions, res.Produce.CompressionRatio)
	}
	f, err := os.Open(hlogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logged, err := bench.ReadHlog(f)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, lh := range logged {
		counts[lh.Tag] += lh.Hist.TotalCount()
	}
	// The hlog has every interval, warmup included: 2.5 s at 2000/s.
	for _, tag := range []string{"service", "response", "e2e"} {
		if counts[tag] != 5000 {
			t.Errorf("hlog %s histograms count %d records, want 5000", tag, counts[tag])
		}
	}
}

func TestConsumeCommand(t *testing.T) {
	code, out, errOut := run(t, "consume", "--prefill", "3000", "--record-size", "uniform:100:300", "--warmup", "0s", "--duration", "20s", "-q")
	if code != 0 || !strings.Contains(out, "consumed: 3000 records") || strings.Contains(out, "records acked") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = run(t, "consume", "--duration", "1s")
	if code != 1 || !strings.Contains(errOut, "--prefill") {
		t.Errorf("consume of an empty topic: exit %d, stderr %q, want a hint about --prefill", code, errOut)
	}
}

func TestCommandConfigSASL(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "bench", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	path := filepath.Join(t.TempDir(), "client.properties")
	props := fmt.Sprintf(`# as a Java client would have it
bootstrap.servers=%s
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="bench" \
    password="s3cret";
`, c.ListenAddrs()[0])
	if err := os.WriteFile(path, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	code, out, errOut := run(t, "produce", "--command-config", path, "--rate", "1000", "--duration", "1s", "--warmup", "0s", "-q", "--json", jsonPath)
	if code != 0 || !strings.Contains(out, "produced: 1000 acked") || !strings.Contains(out, "external cluster at "+c.ListenAddrs()[0]) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret") {
		t.Error("the SASL password reached the JSON result")
	}
	// Without the file the cluster refuses us.
	code, _, errOut = run(t, "produce", "--bootstrap", c.ListenAddrs()[0], "--duration", "1s")
	if code != 1 || errOut == "" {
		t.Errorf("no credentials: exit %d, stderr %q", code, errOut)
	}
}

func TestUnreachableBootstrapCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	code, out, errOut := run(t, "produce", "--bootstrap", addr, "--duration", "5s")
	if code != 1 || time.Since(start) > 15*time.Second {
		t.Fatalf("exit %d after %v, want 1 within 15 s\n%s%s", code, time.Since(start), out, errOut)
	}
	if !strings.Contains(errOut, "kbench: cannot reach the cluster at "+addr) || !strings.Contains(errOut, "connection refused") {
		t.Errorf("stderr %q: want a readable reachability error", errOut)
	}
	code, _, errOut = run(t, "produce", "--bootstrap", addr, "--data-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "--data-dir") {
		t.Errorf("--data-dir with --bootstrap: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run(t, "produce", "--producer-props", "nonsense.prop=1", "--duration", "1s")
	if code != 1 || !strings.Contains(errOut, `"nonsense.prop"`) || !strings.Contains(errOut, "linger.ms") {
		t.Errorf("unknown property: exit %d, stderr %q", code, errOut)
	}
}

func TestInterruptedCommandStillReports(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root := NewRoot(out, errOut)
	root.SetArgs([]string{"e2e", "--rate", "1000", "--warmup", "0s", "--duration", "60s", "--interval", "100ms", "--json", jsonPath})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Interrupt once the progress lines show 1000 acknowledged records, not
	// after a fixed time: starting the 3-broker cluster may take seconds
	// on a busy machine. The upper bound only keeps a stuck run from
	// using up its 60 s.
	const want = 1000
	var canceledAt time.Time
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		giveUp := time.After(45 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ackedInProgress(out.String()) < want {
			select {
			case <-ctx.Done():
				return
			case <-giveUp:
				cancel()
				return
			case <-tick.C:
			}
		}
		canceledAt = time.Now()
		cancel()
	}()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("interrupted run returned %v\n%s", err, errOut.String())
	}
	finished := time.Now()
	cancel()
	<-watched
	if canceledAt.IsZero() {
		t.Fatalf("the run never showed %d acknowledged records:\n%s\n%s", want, out.String(), errOut.String())
	}
	if took := finished.Sub(canceledAt); took > 10*time.Second {
		t.Errorf("Ctrl-C took %v to finish", took)
	}
	if !strings.Contains(out.String(), "result: INVALID") || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("summary after interrupt:\n%s", out.String())
	}
	res, err := bench.ReadResult(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Produce.Acked < want {
		t.Errorf("json after interrupt: interrupted %v, acked %d", res.Interrupted, res.Produce.Acked)
	}
}

// ackedInProgress sums the acknowledged records of the progress lines.
func ackedInProgress(out string) int64 {
	var total int64
	for _, line := range strings.Split(out, "\n") {
		var n int64
		if i := strings.Index(line, "] "); i >= 0 && strings.HasPrefix(line, "[") {
			if _, err := fmt.Sscanf(line[i+2:], "%d records acked", &n); err == nil {
				total += n
			}
		}
	}
	return total
}
