package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newKfake starts franz-go's in-memory fake cluster (test-only) with one
// broker unless opts say otherwise.
func newKfake(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, *External) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	tg, err := NewExternal(strings.Join(c.ListenAddrs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	return c, tg
}

func mustRun(t *testing.T, cfg RunConfig) (*Result, string) {
	t.Helper()
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, LineSink{&out})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if err := WriteSummary(&out, res); err != nil {
		t.Fatal(err)
	}
	return res, out.String()
}

func TestE2ERun(t *testing.T) {
	_, tg := newKfake(t)
	res, out := mustRun(t, RunConfig{
		Mode: ModeE2E, Target: tg, Rate: 3000, Warmup: 500 * time.Millisecond, Duration: 1500 * time.Millisecond,
		Interval: 500 * time.Millisecond, Producers: 3, Consumers: 2, Topic: TopicConfig{Name: "e2e", Partitions: 4},
		Workload: Workload{RecordSize: "200", Keys: "uniform:100", Payload: "json"},
	})
	t.Log(out)
	if !validButForLoad(res) {
		t.Errorf("run invalid: %q", res.Invalid)
	}
	// 3000/s over 1.5 s measured: exactly 4500 records are scheduled after the warmup.
	if p := res.Produce; p.Sent != 4500 || p.Acked != 4500 || p.Failed != 0 {
		t.Errorf("sent %d acked %d failed %d, want 4500/4500/0", p.Sent, p.Acked, p.Failed)
	}
	if c := res.Consume; c.Consumed != 4500 || c.Unconsumed != 0 || c.LagAtEnd < 0 {
		t.Errorf("consumed %d unconsumed %d lag %d, want 4500/0/>=0", c.Consumed, c.Unconsumed, c.LagAtEnd)
	}
	for name, l := range map[string]*Latency{"service": res.Latency.Service, "response": res.Latency.Response, "e2e": res.Latency.E2E} {
		if l == nil || l.Count != 4500 {
			t.Fatalf("%s latency %+v, want 4500 samples", name, l)
		}
		if l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
			t.Errorf("%s percentiles out of order: %+v", name, l)
		}
	}
	// Response time is measured from the earlier (intended) moment.
	if res.Latency.Response.P50 < res.Latency.Service.P50 {
		t.Errorf("response p50 %.3f ms below service p50 %.3f ms", res.Latency.Response.P50, res.Latency.Service.P50)
	}
	if res.Partitions != 4 || res.Manifest.ClusterID == "" || res.Manifest.BrokerVersionGuess == "" || res.Manifest.Go == "" {
		t.Errorf("manifest incomplete: partitions %d, %+v", res.Partitions, res.Manifest)
	}
	if res.Produce.CompressionRatio < 0.99 || res.Produce.CompressionRatio > 1.01 {
		t.Errorf("compression ratio %.3f without compression, want 1", res.Produce.CompressionRatio)
	}
	if len(res.Intervals) < 4 || !res.Intervals[0].Warmup || res.Intervals[len(res.Intervals)-1].Warmup {
		t.Errorf("intervals %+v: want >= 4, the first in warmup, the last not", res.Intervals)
	}
	for _, want := range []string{"records acked", "records consumed", "e2e p99", "(warmup)", "end-to-end"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A busy machine may make the generator fall short of 3000/s; the run
	// must then say so itself. The rate counts the acknowledgements that
	// arrived in the window, over at least the 1.5 s of sending: the 4500
	// records sent in it and the few sent just before whose
	// acknowledgements arrived in it cannot make much more than 3000/s.
	p := res.Produce
	if p.RecordsPerSec <= 0 || p.RecordsPerSec > 1.01*p.TargetRate || math.Abs(p.AchievedPct-100*p.RecordsPerSec/p.TargetRate) > 0.01 {
		t.Errorf("achieved %.1f records/s reported as %.2f %% of %.0f", p.RecordsPerSec, p.AchievedPct, p.TargetRate)
	}
	short := p.RecordsPerSec < MinAchieved*p.TargetRate
	if named := slices.ContainsFunc(res.Invalid, func(r string) bool { return strings.HasPrefix(r, "achieved ") }); named != short {
		t.Errorf("achieved %.2f %% of the target, yet the shortfall reason is present: %v (%q)", p.AchievedPct, named, res.Invalid)
	}
	verdict := "result: VALID"
	if len(res.Invalid) > 0 {
		verdict = "result: INVALID"
	}
	if res.Valid != (len(res.Invalid) == 0) || !strings.Contains(out, verdict) {
		t.Errorf("valid %v with reasons %q; output lacks %q", res.Valid, res.Invalid, verdict)
	}
	for _, r := range res.Invalid {
		if !strings.Contains(out, r) {
			t.Errorf("output does not say why the run is invalid: %q", r)
		}
	}
}

func TestCompressionRatio(t *testing.T) {
	_, tg := newKfake(t)
	res, _ := mustRun(t, RunConfig{
		Mode: ModeProduce, Target: tg, Rate: 5000, Duration: time.Second,
		Producer: map[string]string{"compression.type": "zstd", "linger.ms": "20", "batch.size": "65536"},
		Workload: Workload{RecordSize: "1KiB", Compressibility: 0.75},
	})
	if r := res.Produce.CompressionRatio; r < 2.5 || r > 6 {
		t.Errorf("zstd on 75 %% compressible payload: ratio %.2f, want about 4", r)
	}
	if res.Produce.WireMiBPerSec >= res.Produce.MiBPerSec {
		t.Errorf("wire %.2f MiB/s not below uncompressed %.2f MiB/s", res.Produce.WireMiBPerSec, res.Produce.MiBPerSec)
	}
	if res.EffectiveProducer["compression.type"] != "zstd" || res.EffectiveProducer["acks"] != "all" {
		t.Errorf("effective producer props %v", res.EffectiveProducer)
	}
}

// dialFunc is RunConfig.Dial's type.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// proxy listens on loopback and connects every accepted client to
// upstream, handing both connections to forward; the returned dialer sends
// every broker connection through it.
func proxy(t *testing.T, upstream string, forward func(client, broker net.Conn)) dialFunc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			forward(c, u)
		}
	}()
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	}
}

// stallProxy forwards TCP to one upstream and can stop forwarding in both
// directions, like a broker frozen with SIGSTOP.
type stallProxy struct {
	mu     sync.Mutex
	resume chan struct{}
	// dialVia sends every broker connection through the proxy.
	dialVia dialFunc
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	p := &stallProxy{resume: make(chan struct{})}
	close(p.resume)
	p.dialVia = proxy(t, upstream, func(c, u net.Conn) {
		go p.pipe(c, u)
		go p.pipe(u, c)
	})
	return p
}

func (p *stallProxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			<-p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *stallProxy) pause() {
	p.mu.Lock()
	p.resume = make(chan struct{})
	p.mu.Unlock()
}

func (p *stallProxy) unpause() {
	p.mu.Lock()
	close(p.resume)
	p.mu.Unlock()
}

// newDelayProxy forwards TCP to one upstream, delaying what the upstream
// sends back by a fixed time without limiting how much is on its way: a
// broker behind a long, fast line.
func newDelayProxy(t *testing.T, upstream string, delay time.Duration) dialFunc {
	t.Helper()
	type chunk struct {
		b  []byte
		at time.Time
	}
	return proxy(t, upstream, func(c, u net.Conn) {
		go func() { // client to broker, undelayed
			defer u.Close()
			io.Copy(u, c)
		}()
		chunks := make(chan chunk, 1<<16)
		go func() { // broker to proxy, stamped
			defer close(chunks)
			for {
				b := make([]byte, 64<<10)
				n, err := u.Read(b)
				if n > 0 {
					chunks <- chunk{b[:n], time.Now()}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // proxy to client, each chunk delay after it came
			defer c.Close()
			for ch := range chunks {
				time.Sleep(time.Until(ch.at.Add(delay)))
				if _, err := c.Write(ch.b); err != nil {
					return
				}
			}
		}()
	})
}

// TestRateIsTheDeliveryRate runs at a fixed rate against a broker whose
// answers all come 100 ms late, a window of 2 s after a warmup long enough
// for the client's handshakes and a full pipeline. The broker delivers the
// rate; the run must say so, within what acknowledgements arriving in
// lumps allow at the window's edges. Counting only the records sent in the
// window over the window stretched to their last acknowledgement read
// 92 % of it.
func TestRateIsTheDeliveryRate(t *testing.T) {
	_, tg := newKfake(t)
	const rate, delay = 2000, 100 * time.Millisecond
	res, out := mustRun(t, RunConfig{
		Mode: ModeProduce, Target: tg, Dial: newDelayProxy(t, tg.Bootstrap()[0], delay),
		Rate: rate, Warmup: 1500 * time.Millisecond, Duration: 2 * time.Second, Interval: 500 * time.Millisecond,
		Workload: Workload{RecordSize: "100"},
	})
	t.Log(out)
	if svc := res.Latency.Service; svc.P50 < float64(delay.Milliseconds()) {
		t.Fatalf("service p50 %.1f ms: the acknowledgements were not delayed %v", svc.P50, delay)
	}
	if got := res.Produce.RecordsPerSec; got < 0.95*rate || got > 1.05*rate {
		t.Errorf("rate %.0f records/s, want %d ± 5 %%: every record was delivered, %v late", got, rate, delay)
	}
	if res.Produce.Acked != 2*rate {
		t.Errorf("acked %d, want %d", res.Produce.Acked, 2*rate)
	}
}

// TestCoordinatedOmission freezes the embedded broker's traffic for 2 s in
// the middle of a constant-rate run whose producer can hold only a few
// records. Few sends are outstanding during the stall, so service time
// barely sees it; the response time, measured from the schedule, must.
func TestCoordinatedOmission(t *testing.T) {
	tg := startEmbedded(t)
	proxy := newStallProxy(t, tg.Bootstrap()[0])
	go func() {
		time.Sleep(2 * time.Second)
		proxy.pause()
		time.Sleep(2 * time.Second)
		proxy.unpause()
	}()
	res, out := mustRun(t, RunConfig{
		Mode: ModeProduce, Target: tg, Dial: proxy.dialVia, Rate: 2000, Duration: 6 * time.Second, Interval: time.Second,
		Producer: map[string]string{"linger.ms": "0", "buffer.memory": "600"},
		Workload: Workload{RecordSize: "100"},
	})
	t.Log(out)
	svc, rsp := res.Latency.Service, res.Latency.Response
	if res.Produce.Acked != 12000 {
		t.Fatalf("acked %d, want 12000", res.Produce.Acked)
	}
	if svc.Max < 1500 {
		t.Fatalf("service max %.0f ms: the 2 s stall did not happen", svc.Max)
	}
	if rsp.P999 < 1000 {
		t.Errorf("response p99.9 = %.1f ms, want >= 1000 ms (the stall)", rsp.P999)
	}
	if svc.P999 >= 1000 {
		t.Errorf("service p99.9 = %.1f ms, want < 1000 ms: service time should hide the stall", svc.P999)
	}
	stalled := func(l *Latency) int64 {
		h, err := l.Histogram()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, b := range h.Distribution() {
			if b.From >= int64(time.Second) {
				n += b.Count
			}
		}
		return n
	}
	ns, nr := stalled(svc), stalled(rsp)
	t.Logf("records >= 1 s: service %d, response %d", ns, nr)
	if ns > 12 || nr < 1000 {
		t.Errorf("records >= 1 s: service %d (want few, <= 12), response %d (want >= 1000)", ns, nr)
	}
}

func TestUnreachableBootstrap(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		checkUnreachable(t, addr, "connection refused")
	})
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		// Accepts connections but never answers, like a hung host.
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
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
		}()
		checkUnreachable(t, ln.Addr().String(), "within")
	})
}

func checkUnreachable(t *testing.T, addr, detail string) {
	tg, err := NewExternal(addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Run(context.Background(), RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second}, nil)
	took := time.Since(start)
	if err == nil {
		t.Fatal("run against nothing succeeded")
	}
	if took > 15*time.Second {
		t.Errorf("failing took %v, want <= 15 s", took)
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot reach the cluster at "+addr) || !strings.Contains(msg, detail) {
		t.Errorf("error %q: want it to name %s and say %q", msg, addr, detail)
	}
}

func TestSASL(t *testing.T) {
	_, tg := newKfake(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", "plainpass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", "pass256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", "pass512"))
	for _, tt := range []struct {
		name  string
		props map[string]string
	}{
		{"PLAIN", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "plainuser", "sasl.password": "plainpass"}},
		{"SCRAM-SHA-256 via jaas", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="scram256" password="pass256";`}},
		{"SCRAM-SHA-512", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "scram512", "sasl.password": "pass512"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := mustRun(t, RunConfig{Mode: ModeE2E, Target: tg, Client: tt.props, Rate: 1000, Duration: 500 * time.Millisecond,
				Topic: TopicConfig{Name: "sasl-" + strings.ToLower(tt.props["sasl.mechanism"])}})
			if res.Produce.Acked != 500 || res.Consume.Consumed != 500 || !validButForLoad(res) {
				t.Errorf("acked %d consumed %d valid %v %q, want 500/500/valid", res.Produce.Acked, res.Consume.Consumed, res.Valid, res.Invalid)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		start := time.Now()
		_, err := Run(context.Background(), RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second,
			Client: map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "plainuser", "sasl.password": "nope"}}, nil)
		if err == nil || !strings.Contains(err.Error(), "rejected sasl.username/sasl.password") || time.Since(start) > 5*time.Second {
			t.Errorf("wrong password: got %v after %v, want a fast authentication error", err, time.Since(start))
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := Run(context.Background(), RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second}, nil)
		if err == nil {
			t.Error("plaintext client against a SASL cluster: got no error")
		}
	})
}

func TestConsumeRun(t *testing.T) {
	_, tg := newKfake(t)
	start := time.Now()
	res, out := mustRun(t, RunConfig{Mode: ModeConsume, Target: tg, Prefill: 5000, Duration: 20 * time.Second,
		Consumers: 3, Topic: TopicConfig{Name: "consume", Partitions: 2}, Workload: Workload{RecordSize: "300"}})
	t.Log(out)
	if c := res.Consume; c.Consumed != 5000 || c.LagAtEnd != 0 || c.IdleConsumers != 1 {
		t.Errorf("consumed %d lag %d idle %d, want 5000/0/1", c.Consumed, c.LagAtEnd, c.IdleConsumers)
	}
	if res.Produce != nil || res.Latency.Service != nil {
		t.Error("a consume run reports producer figures")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("consume run took %v: it should stop once it has read everything", time.Since(start))
	}
	// Consuming through a group reads the same records.
	res, _ = mustRun(t, RunConfig{Mode: ModeConsume, Target: tg, Duration: 20 * time.Second, Consumers: 2,
		Consumer: map[string]string{"group.id": "readers"}, Topic: TopicConfig{Name: "consume"}})
	if res.Consume.Consumed != 5000 {
		t.Errorf("group consume read %d records, want 5000", res.Consume.Consumed)
	}
	// A record budget stops early.
	res, _ = mustRun(t, RunConfig{Mode: ModeConsume, Target: tg, NumRecords: 1000, Duration: 20 * time.Second, Topic: TopicConfig{Name: "consume"}})
	if res.Consume.Consumed < 1000 || res.Consume.Consumed >= 5000 {
		t.Errorf("num-records 1000 consumed %d", res.Consume.Consumed)
	}
}

func TestE2EGroup(t *testing.T) {
	_, tg := newKfake(t)
	res, out := mustRun(t, RunConfig{Mode: ModeE2E, Target: tg, Rate: 2000, Duration: time.Second, Consumers: 2,
		Consumer: map[string]string{"group.id": "e2e-group"}, Topic: TopicConfig{Name: "e2e-group", Partitions: 4}})
	if res.Produce.Acked != 2000 || res.Consume.Consumed != 2000 || !validButForLoad(res) {
		t.Errorf("acked %d consumed %d valid %v %q, want 2000/2000/valid\n%s", res.Produce.Acked, res.Consume.Consumed, res.Valid, res.Invalid, out)
	}
}

func TestTopicHandling(t *testing.T) {
	_, tg := newKfake(t)
	base := RunConfig{Mode: ModeProduce, Target: tg, NumRecords: 10, Duration: 10 * time.Second, Topic: TopicConfig{Name: "th", Partitions: 3}}
	if res, _ := mustRun(t, base); res.Partitions != 3 {
		t.Fatalf("created %d partitions, want 3", res.Partitions)
	}
	cfg := base
	cfg.Topic.Partitions = 5
	_, err := Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "exists with 3 partitions, not the 5") || !strings.Contains(err.Error(), "--recreate") {
		t.Errorf("partition mismatch: got %v", err)
	}
	cfg.Topic.Recreate = true
	if res, _ := mustRun(t, cfg); res.Partitions != 5 {
		t.Errorf("recreated with %d partitions, want 5", res.Partitions)
	}
	cfg = base
	cfg.Topic.Partitions = 0
	if res, _ := mustRun(t, cfg); res.Partitions != 5 {
		t.Errorf("partitions 0 should accept the existing 5, got %d", res.Partitions)
	}
	cfg = base
	cfg.Topic = TopicConfig{Name: "th-rf", ReplicationFactor: 3}
	_, err = Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "refused to create topic th-rf") {
		t.Errorf("replication factor 3 on one broker: got %v, want the refusal", err)
	}
	cfg.Topic = TopicConfig{Name: "th-cfg", Configs: map[string]string{"retention.ms": "60000"}}
	mustRun(t, cfg)
	mustRun(t, cfg) // same configs: reused
	cfg.Topic.Configs["retention.ms"] = "1000"
	_, err = Run(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `retention.ms="60000", not "1000"`) {
		t.Errorf("config mismatch: got %v", err)
	}
}

func TestInterrupt(t *testing.T) {
	_, tg := newKfake(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, RunConfig{Mode: ModeE2E, Target: tg, Rate: 1000, Warmup: 500 * time.Millisecond, Duration: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("interrupted run took %v", took)
	}
	if !res.Interrupted || res.Valid || !strings.Contains(strings.Join(res.Invalid, ";"), "interrupted") {
		t.Errorf("interrupted %v valid %v reasons %q", res.Interrupted, res.Valid, res.Invalid)
	}
	if a := res.Produce.Acked; a < 800 || a > 1100 {
		t.Errorf("acked %d measured records in ~1 s at 1000/s", a)
	}
}

func TestErrorsByCode(t *testing.T) {
	c, tg := newKfake(t)
	// Every produce request fails with a non-retriable error code.
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	res, out := mustRun(t, RunConfig{Mode: ModeProduce, Target: tg, Rate: 500, Duration: time.Second, Producer: map[string]string{"delivery.timeout.ms": "5000"}})
	if res.Valid || len(res.Errors) != 1 || res.Errors[0].Code != kerr.InvalidRecord.Code || res.Errors[0].Count != 500 {
		t.Fatalf("errors %+v valid %v, want 500 × INVALID_RECORD\n%s", res.Errors, res.Valid, out)
	}
	if res.Produce.Failed != 500 || res.Produce.Acked != 0 {
		t.Errorf("failed %d acked %d, want 500/0", res.Produce.Failed, res.Produce.Acked)
	}
	if !strings.Contains(out, "INVALID_RECORD (code 87)") || !strings.Contains(out, "result: INVALID") {
		t.Errorf("summary does not show the error:\n%s", out)
	}
}

func TestHooks(t *testing.T) {
	_, tg := newKfake(t)
	var mu sync.Mutex
	acked, consumed := map[string]bool{}, map[string]bool{}
	hooks := &Hooks{
		BeforeProduce: func(p int, seq uint64, r *kgo.Record) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "id", Value: fmt.Appendf(nil, "%d-%d", p, seq)})
		},
		OnAck: func(_ int, _ uint64, r *kgo.Record, err error) {
			if err == nil {
				mu.Lock()
				acked[string(r.Headers[len(r.Headers)-1].Value)] = true
				mu.Unlock()
			}
		},
		OnConsume: func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "id" {
					mu.Lock()
					consumed[string(h.Value)] = true
					mu.Unlock()
				}
			}
		},
	}
	// OnStart comes before the first record, OnLoadEnd after the last one
	// is handed over and before the last acknowledgement.
	var events []string
	hooks.OnStart = func(time.Time) {
		mu.Lock()
		events = append(events, fmt.Sprintf("start after %d acks", len(acked)))
		mu.Unlock()
	}
	hooks.OnLoadEnd = func() {
		mu.Lock()
		events = append(events, "load end")
		mu.Unlock()
	}
	res, _ := mustRun(t, RunConfig{Mode: ModeE2E, Target: tg, Rate: 1000, Duration: 500 * time.Millisecond, Producers: 2, Hooks: hooks})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, []string{"start after 0 acks", "load end"}) {
		t.Errorf("start and load-end hooks: %q, want once each, start first", events)
	}
	if len(acked) != 500 || len(consumed) != 500 || res.Produce.Acked != 500 {
		t.Errorf("hooks saw %d acked, %d consumed ids, want 500 each", len(acked), len(consumed))
	}
	for id := range acked {
		if !consumed[id] {
			t.Errorf("acked id %s never consumed", id)
			break
		}
	}
}

func TestValidateErrors(t *testing.T) {
	tg, _ := NewExternal("127.0.0.1:1")
	for _, tt := range []struct {
		cfg  RunConfig
		want string
	}{
		{RunConfig{Mode: "bulk", Target: tg, Duration: time.Second}, "mode"},
		{RunConfig{Mode: ModeProduce, Duration: time.Second}, "no target"},
		{RunConfig{Mode: ModeProduce, Target: tg}, "never ends"},
		{RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second, Rate: -1}, "rate"},
		{RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second, Producer: map[string]string{"lingerms": "1"}}, `"lingerms"`},
		{RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second, Workload: Workload{Keys: "zipf"}}, "keys"},
	} {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want an error about %s", tt.cfg, err, tt.want)
		}
		if _, err := Run(context.Background(), tt.cfg, nil); err == nil {
			t.Errorf("Run accepted an invalid config %+v", tt.cfg)
		}
	}
	if _, err := NewExternal(" , "); err == nil {
		t.Error("empty bootstrap accepted")
	}
	if _, err := NewExternal("hostwithoutport"); err == nil {
		t.Error("bootstrap without port accepted")
	}
}

// TestBrokerGoneForGood stalls the broker for good while the producer's
// small buffer is full, so Produce blocks: the run must still end (after
// delivery.timeout.ms plus a grace period without any acknowledgement),
// count the stranded records as errors and report.
func TestBrokerGoneForGood(t *testing.T) {
	tg := startEmbedded(t)
	proxy := newStallProxy(t, tg.Bootstrap()[0])
	time.AfterFunc(time.Second, proxy.pause)
	t.Cleanup(proxy.unpause)
	start := time.Now()
	res, out := mustRun(t, RunConfig{Mode: ModeProduce, Target: tg, Dial: proxy.dialVia, Rate: 1000, Duration: 3 * time.Second,
		Producer: map[string]string{"buffer.memory": "600", "delivery.timeout.ms": "1000", "linger.ms": "0"}, Workload: Workload{RecordSize: "100"}})
	took := time.Since(start)
	t.Log(out)
	if took > 15*time.Second {
		t.Errorf("run took %v with the broker gone", took)
	}
	if res.Valid || res.Produce.Failed == 0 || res.Produce.Undelivered != 0 {
		t.Errorf("valid %v failed %d undelivered %d: want invalid, failures counted, nothing left unaccounted", res.Valid, res.Produce.Failed, res.Produce.Undelivered)
	}
	// Every record the broker stored before the stall was acknowledged,
	// but for the few whose responses the stalled connection held (the
	// 600-byte buffer keeps at most a handful in flight). How many got
	// through in the second before the stall depends on the machine's load.
	cl, err := kgo.NewClient(kgo.SeedBrokers(tg.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), "kbench")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	ends.Each(func(o kadm.ListedOffset) { stored += o.Offset })
	if res.Produce.Acked > stored || res.Produce.Acked < stored-10 || res.Produce.Acked < 100 {
		t.Errorf("acked %d, want the %d records stored before the stall, less at most 10 whose responses the stall held", res.Produce.Acked, stored)
	}
}

func TestTLS(t *testing.T) {
	for _, tt := range []struct {
		name    string
		ips     []net.IP
		props   map[string]string
		wantErr string
	}{
		{"verified", []net.IP{net.IPv4(127, 0, 0, 1)}, nil, ""},
		{"wrong name rejected", nil, nil, "certificate"},
		{"wrong name accepted without endpoint identification", nil, map[string]string{"ssl.endpoint.identification.algorithm": ""}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certPath, keyPath, _ := pemFiles(t, tt.ips...)
			cert, err := tls.LoadX509KeyPair(certPath, keyPath)
			if err != nil {
				t.Fatal(err)
			}
			_, tg := newKfake(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
			props := map[string]string{"security.protocol": "SSL", "ssl.ca.location": certPath}
			maps.Copy(props, tt.props)
			cfg := RunConfig{Mode: ModeE2E, Target: tg, Client: props, Rate: 1000, Duration: 300 * time.Millisecond}
			if tt.wantErr != "" {
				_, err := Run(context.Background(), cfg, nil)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error about the %s", err, tt.wantErr)
				}
				return
			}
			res, _ := mustRun(t, cfg)
			if res.Produce.Acked != 300 || res.Consume.Consumed != 300 {
				t.Errorf("acked %d consumed %d over TLS, want 300 each", res.Produce.Acked, res.Consume.Consumed)
			}
		})
	}
	// A CA that did not sign the broker's certificate is refused even
	// without endpoint identification.
	certPath, keyPath, _ := pemFiles(t)
	otherCA, _, _ := pemFiles(t)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	_, tg := newKfake(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	_, err = Run(context.Background(), RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second,
		Client: map[string]string{"security.protocol": "SSL", "ssl.ca.location": otherCA, "ssl.endpoint.identification.algorithm": ""}}, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("foreign CA: got %v, want a certificate error", err)
	}
}

// validButForLoad accepts a run that is valid, or invalid only because a
// loaded machine fell short of the target rate: functional tests of short
// runs must not depend on the machine being idle (rate accuracy has its own
// test).
func validButForLoad(res *Result) bool {
	for _, r := range res.Invalid {
		if !strings.HasPrefix(r, "achieved ") && !strings.Contains(r, "CPU") {
			return false
		}
	}
	return len(res.Errors) == 0 && res.Produce.Failed == 0
}
