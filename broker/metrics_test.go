package broker

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func scrape(t *testing.T, b *Broker) string {
	t.Helper()
	resp, err := http.Get("http://" + b.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: status %d, %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape content type %q, want the Prometheus text format", ct)
	}
	return string(body)
}

// metric returns the value of the sample whose name and labels are exactly
// series (as printed, e.g. `x_total{api="Produce"}`), or -1 if absent.
func metric(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MetricsListen = "127.0.0.1:0" })
	if b.MetricsAddr() == "" {
		t.Fatal("no metrics address")
	}
	// Produce and consume 100 records with clients closed afterwards, so
	// that no poll of theirs is left in the purgatory.
	ctx := testCtx(t, 30*time.Second)
	pc, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("metered"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := pc.ProduceSync(ctx, kgo.StringRecord(strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	pc.Close()
	cc, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("metered"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got < 100; {
		fs := cc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	cc.Close()
	purgatory := func() float64 { return metric(scrape(t, b), `kbench_broker_purgatory_size{api="Fetch"}`) }
	waitFor(t, "an empty fetch purgatory after the clients closed", func() bool { return purgatory() == 0 })

	// One request answered with UNKNOWN_TOPIC_OR_PARTITION.
	c := dialRaw(t, b)
	c.send(produceFrame("no-such-topic", 0, 1, batch(nil, false)))
	c.read(kmsg.NewPtrProduceResponse(), false)
	// A long poll stays in the fetch purgatory while we scrape.
	c.send(fetchFrame("t", 0, func(r *kmsg.FetchRequest) { r.MaxWaitMillis, r.MinBytes, r.Topics = 1000, 1<<20, nil }))
	time.Sleep(100 * time.Millisecond)

	body := scrape(t, b)
	for _, tc := range []struct {
		series string
		min    float64
		max    float64
	}{
		{`kbench_broker_request_duration_seconds_count{api="Produce"}`, 101, 1e9},
		{`kbench_broker_request_duration_seconds_count{api="Fetch"}`, 1, 1e9},
		{`kbench_broker_request_duration_seconds_count{api="Metadata"}`, 1, 1e9},
		{`kbench_broker_request_duration_seconds_count{api="ApiVersions"}`, 1, 1e9},
		{`kbench_broker_response_errors_total{api="Produce",code="3",error="UNKNOWN_TOPIC_OR_PARTITION"}`, 1, 1},
		{`kbench_broker_purgatory_size{api="Fetch"}`, 1, 1},
		{`kbench_broker_bytes_in_total`, 100 * 20, 1e12},
		{`kbench_broker_bytes_out_total`, 100 * 20, 1e12},
		{`kbench_broker_connections`, 1, 100},
		{`kbench_broker_leader_partitions`, 1, 1},
		{`kbench_broker_under_replicated_partitions`, 0, 0},
		{`kbench_broker_high_watermark_lag_records`, 0, 0},
		{`kbench_broker_sendfile_bytes_total`, 100, 1e12},
		{`process_resident_memory_bytes`, 1 << 20, 1 << 40},
	} {
		if v := metric(body, tc.series); v < tc.min || v > tc.max {
			t.Errorf("%s: got %v, want [%v, %v]", tc.series, v, tc.min, tc.max)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	// The poll leaves the purgatory when it is answered.
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 11
	c.read(resp, false)
	time.Sleep(50 * time.Millisecond)
	if v := purgatory(); v != 0 {
		t.Fatalf("fetch purgatory after the answer: got %v, want 0", v)
	}
}

func TestMetricsSecurityAndLimits(t *testing.T) {
	s := startSecureBroker(t, ProtocolSASLPlaintext, func(c *Config) {
		c.MetricsListen = "127.0.0.1:0"
		c.Limits.MaxConnections = 2
	})
	cl := newClient(t, s.b, kgo.SASL(mechanism(MechSCRAMSHA512, testUser, "wrong")), kgo.RetryTimeout(time.Second))
	cl.Ping(testCtx(t, 10*time.Second))
	cl.Close()
	c := dialRaw(t, s.b)
	c.send(frame(metadataReq(), 1)) // before authentication: closed
	c.expectClosed()
	// Closed connections leave the count asynchronously: wait for them.
	for deadline := time.Now().Add(5 * time.Second); s.b.limits.open() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	holdConn(t, s.b, nil)
	holdConn(t, s.b, nil)
	served(t, s.b, nil) // refused: the cap is 2
	body := scrape(t, s.b)
	for _, tc := range []struct {
		series string
		min    float64
	}{
		{`kbench_broker_sasl_authentications_total{mechanism="SCRAM-SHA-512",result="failure"}`, 1},
		{`kbench_broker_response_errors_total{api="SASLAuthenticate",code="58",error="SASL_AUTHENTICATION_FAILED"}`, 1},
		{`kbench_broker_connections_refused_total`, 1},
		{`kbench_broker_connections_closed_on_error_total`, 1},
	} {
		if v := metric(body, tc.series); v < tc.min {
			t.Errorf("%s: got %v, want >= %v", tc.series, v, tc.min)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

// TestMetricsISR: a follower stops; the leader's ISR shrinks and the
// partition is under-replicated; it returns and the ISR expands again.
func TestMetricsISR(t *testing.T) {
	tc := startCluster(t, 0)
	for id := int32(1); id <= 3; id++ {
		cfg := DefaultConfig()
		cfg.Listen = "127.0.0.1:0"
		cfg.NodeID = id
		cfg.DataDir = t.TempDir()
		cfg.Controller = tc.ctrl.Addr()
		cfg.ReplicaLagTimeMax = time.Second
		cfg.HeartbeatInterval = 100 * time.Millisecond
		cfg.MetricsListen = "127.0.0.1:0"
		tc.cfgs[id] = cfg
		tc.start(id)
	}
	ctx := testCtx(t, 60*time.Second)
	cl := tc.client(t, kgo.DefaultProduceTopic("isr-metrics"))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 3, nil, "isr-metrics"); err != nil {
		t.Fatal(err)
	}
	tc.waitISR("isr-metrics", []int32{1, 2, 3}, 15*time.Second)
	if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	leader := tc.leaderOf("isr-metrics", 0)
	follower := int32(1)
	if follower == leader {
		follower = 2
	}
	sum := func(series string) float64 {
		total := 0.0
		for _, b := range tc.brokers {
			if v := metric(scrape(t, b), series); v > 0 {
				total += v
			}
		}
		return total
	}
	tc.crash(follower)
	var others []int32
	for id := int32(1); id <= 3; id++ {
		if id != follower {
			others = append(others, id)
		}
	}
	tc.waitISR("isr-metrics", others, 15*time.Second)
	waitFor(t, "ISR shrink counted", func() bool { return sum("kbench_broker_isr_shrinks_total") >= 1 })
	if v := sum("kbench_broker_under_replicated_partitions"); v != 1 {
		t.Fatalf("under-replicated partitions with a follower down: got %v, want 1", v)
	}
	tc.start(follower)
	tc.waitISR("isr-metrics", []int32{1, 2, 3}, 20*time.Second)
	waitFor(t, "ISR expand counted", func() bool { return sum("kbench_broker_isr_expands_total") >= 1 })
	waitFor(t, "no under-replicated partitions", func() bool { return sum("kbench_broker_under_replicated_partitions") == 0 })
	if v := metric(scrape(t, tc.brokers[leader]), `kbench_broker_response_errors_total{api="Produce",code="0",error="NONE"}`); v != -1 {
		t.Fatalf("code 0 counted as an error: %v", v)
	}
}
