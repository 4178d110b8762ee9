package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxAPIKey bounds the per-API metric arrays; Kafka's keys stay below it.
const maxAPIKey = 128

// isrSampleInterval is how often ISR sizes are compared to count shrinks
// and expands. The leader changes an ISR through the controller one change
// at a time per partition, at most every replica.lag.time.max.ms/4, so a
// sampler this fast sees each change.
const isrSampleInterval = 100 * time.Millisecond

// metrics is a broker's Prometheus registry and the hooks that feed it. It
// exists only when Config.MetricsListen is set; every method is a no-op on a
// nil *metrics, so the request path pays nothing without it.
type metrics struct {
	b   *Broker
	reg *prometheus.Registry

	latency   [maxAPIKey]prometheus.Observer
	purgatory [maxAPIKey]prometheus.Gauge
	apiErrors *prometheus.CounterVec
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	refused   prometheus.Counter
	connErrs  prometheus.Counter
	tlsFails  prometheus.Counter
	auth      *prometheus.CounterVec
	shrinks   prometheus.Counter
	expands   prometheus.Counter

	plans sync.Map // reflect.Type → *codePlan

	ln   net.Listener
	srv  *http.Server
	stop chan struct{}
	wg   sync.WaitGroup
}

func newMetrics(b *Broker) *metrics {
	m := &metrics{b: b, reg: prometheus.NewRegistry(), stop: make(chan struct{})}
	const ns = "kbench_broker"
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "request_duration_seconds",
		Help:    "Time from a request fully read to its response written, by API (the _count is the request count: rate() it for requests/s). acks=0 produce requests count with 0.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"api"})
	purg := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "purgatory_size",
		Help: "Requests waiting asynchronously, by API: long-poll fetches (Fetch) and acks=all produces waiting for the high watermark (Produce).",
	}, []string{"api"})
	for _, a := range advertised {
		name := kmsg.NameForKey(a.key)
		m.latency[a.key] = lat.WithLabelValues(name)
		m.purgatory[a.key] = purg.WithLabelValues(name)
	}
	for _, k := range []int16{saslHandshakeKey, saslAuthenticateKey} {
		if m.latency[k] == nil {
			m.latency[k] = lat.WithLabelValues(kmsg.NameForKey(k))
		}
	}
	f(lat)
	f(purg)
	m.apiErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "response_errors_total",
		Help: "Non-zero error codes in responses (every partition and resource counts), by API and Kafka error.",
	}, []string{"api", "code", "error"})
	f(m.apiErrors)
	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "bytes_in_total", Help: "Request bytes read, size prefixes included."})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "bytes_out_total", Help: "Response bytes written, size prefixes included."})
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "connections_refused_total", Help: "Connections closed at accept by max.connections or max.connections.per.ip."})
	m.connErrs = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "connections_closed_on_error_total", Help: "Connections the broker closed because of a bad frame, a failed authentication or a write error."})
	m.tlsFails = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "tls_handshake_failures_total", Help: "TLS handshakes that failed or timed out."})
	m.auth = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sasl_authentications_total", Help: "SASL authentications by mechanism and result."}, []string{"mechanism", "result"})
	m.shrinks = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "isr_shrinks_total", Help: "ISR shrinks of partitions this broker leads (IsrShrinksPerSec)."})
	m.expands = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "isr_expands_total", Help: "ISR expansions of partitions this broker leads (IsrExpandsPerSec)."})
	for _, c := range []prometheus.Collector{m.bytesIn, m.bytesOut, m.refused, m.connErrs, m.tlsFails, m.auth, m.shrinks, m.expands} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "connections", Help: "Open client connections."},
		func() float64 { return float64(b.limits.open()) }))
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "sendfile_bytes_total", Help: "Record bytes fetched with sendfile (zero copy; never under TLS)."},
		func() float64 { return float64(b.sendfileBytes.Load()) }))
	f(newPartitionCollector(b))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// serve starts the HTTP endpoint and the ISR sampler.
func (m *metrics) serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	m.ln = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.b.cfg.Logf("metrics: %v", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.sampleISRs()
	}()
	return nil
}

func (m *metrics) close() {
	if m == nil {
		return
	}
	close(m.stop)
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m.srv.Shutdown(ctx)
		cancel()
	}
	m.wg.Wait()
}

// MetricsAddr is the address /metrics is served on, or "" without Config.MetricsListen.
func (b *Broker) MetricsAddr() string {
	if b.metrics == nil || b.metrics.ln == nil {
		return ""
	}
	return b.metrics.ln.Addr().String()
}

// received counts a request's bytes and returns when it arrived (zero
// without metrics, to spare the clock read).
func (m *metrics) received(n int) time.Time {
	if m == nil {
		return time.Time{}
	}
	m.bytesIn.Add(float64(n))
	return time.Now()
}

func (m *metrics) sent(n int) {
	if m != nil {
		m.bytesOut.Add(float64(n))
	}
}

// responded records a request's latency and its response's error codes;
// r is nil for requests without a response.
func (m *metrics) responded(key int16, start time.Time, r *reply) {
	if m == nil || key < 0 || key >= maxAPIKey || m.latency[key] == nil {
		return
	}
	m.latency[key].Observe(time.Since(start).Seconds())
	if r == nil {
		return
	}
	switch {
	case r.fetch != nil:
		for _, code := range r.fetch.errCodes {
			m.apiError(key, code)
		}
	case r.msg != nil:
		m.walkCodes(key, reflect.ValueOf(r.msg))
	}
}

func (m *metrics) apiError(key, code int16) {
	name := "UNKNOWN"
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) && ke.Code == code {
		name = ke.Message
	}
	m.apiErrors.WithLabelValues(kmsg.NameForKey(key), strconv.Itoa(int(code)), name).Inc()
}

func (m *metrics) enterPurgatory(key int16) {
	if m != nil && key >= 0 && key < maxAPIKey && m.purgatory[key] != nil {
		m.purgatory[key].Inc()
	}
}

func (m *metrics) leavePurgatory(key int16) {
	if m != nil && key >= 0 && key < maxAPIKey && m.purgatory[key] != nil {
		m.purgatory[key].Dec()
	}
}

func (m *metrics) connRefused() {
	if m != nil {
		m.refused.Inc()
	}
}

func (m *metrics) connError() {
	if m != nil {
		m.connErrs.Inc()
	}
}

func (m *metrics) tlsFailed() {
	if m != nil {
		m.tlsFails.Inc()
	}
}

func (m *metrics) authResult(mech string, ok bool) {
	if m == nil {
		return
	}
	res := "failure"
	if ok {
		res = "success"
	}
	m.auth.WithLabelValues(mech, res).Inc()
}

// codePlan says where a kmsg response type keeps error codes: int16 fields
// named ErrorCode, and nested structs, pointers and slices that may hold more.
type codePlan struct {
	codes  []int
	nested []nestedCodes
}

type nestedCodes struct{ field int }

// walkCodes counts every non-zero ErrorCode in a response, at any depth.
// The reflection plan is built once per type; walking costs a few hundred
// nanoseconds per response, paid only when metrics are on.
func (m *metrics) walkCodes(key int16, v reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			m.walkCodes(key, v.Index(i))
		}
		return
	case reflect.Struct:
	default:
		return
	}
	p := m.plan(v.Type())
	for _, i := range p.codes {
		if c := int16(v.Field(i).Int()); c != 0 {
			m.apiError(key, c)
		}
	}
	for _, n := range p.nested {
		m.walkCodes(key, v.Field(n.field))
	}
}

func (m *metrics) plan(t reflect.Type) *codePlan {
	if p, ok := m.plans.Load(t); ok {
		return p.(*codePlan)
	}
	p := &codePlan{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		ft := sf.Type
		if sf.Name == "ErrorCode" && ft.Kind() == reflect.Int16 {
			p.codes = append(p.codes, i)
			continue
		}
		if holdsCodes(ft, 0) {
			p.nested = append(p.nested, nestedCodes{field: i})
		}
	}
	m.plans.Store(t, p)
	return p
}

// holdsCodes reports whether a field type can contain an ErrorCode field.
func holdsCodes(t reflect.Type, depth int) bool {
	if depth > 8 {
		return false
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Name == "ErrorCode" && sf.Type.Kind() == reflect.Int16 {
			return true
		}
		if sf.IsExported() && holdsCodes(sf.Type, depth+1) {
			return true
		}
	}
	return false
}

// sampleISRs counts ISR shrinks and expands of led partitions by comparing
// ISR sizes between samples.
func (m *metrics) sampleISRs() {
	type sample struct {
		leader bool
		isr    int32
	}
	prev := map[*partition]sample{}
	t := time.NewTicker(isrSampleInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		next := make(map[*partition]sample, len(prev))
		for _, tp := range m.b.topics.snapshot() {
			for _, p := range tp.partitions {
				if p == nil {
					continue
				}
				s := sample{leader: p.isLeader.Load(), isr: p.isrLen.Load()}
				if old, ok := prev[p]; ok && old.leader && s.leader {
					switch {
					case s.isr < old.isr:
						m.shrinks.Inc()
					case s.isr > old.isr:
						m.expands.Inc()
					}
				}
				next[p] = s
			}
		}
		prev = next
	}
}

// partitionCollector reports partition state at scrape time.
type partitionCollector struct {
	b                               *Broker
	leaders, underReplicated, hwLag *prometheus.Desc
}

func newPartitionCollector(b *Broker) *partitionCollector {
	return &partitionCollector{
		b:               b,
		leaders:         prometheus.NewDesc("kbench_broker_leader_partitions", "Partitions this broker leads.", nil, nil),
		underReplicated: prometheus.NewDesc("kbench_broker_under_replicated_partitions", "Led partitions whose ISR is smaller than their replica set (UnderReplicatedPartitions).", nil, nil),
		hwLag:           prometheus.NewDesc("kbench_broker_high_watermark_lag_records", "Sum over led partitions of log end offset minus high watermark: records appended but not yet replicated to the whole ISR.", nil, nil),
	}
}

func (c *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.leaders
	ch <- c.underReplicated
	ch <- c.hwLag
}

func (c *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	var leaders, under, lag int64
	for _, t := range c.b.topics.snapshot() {
		for _, p := range t.partitions {
			if p == nil || !p.isLeader.Load() {
				continue
			}
			leaders++
			p.repMu.Lock()
			if len(p.rs.isr) < len(p.rs.replicas) {
				under++
			}
			p.repMu.Unlock()
			lag += max(0, p.log.EndOffset()-p.hw.Load())
		}
	}
	ch <- prometheus.MustNewConstMetric(c.leaders, prometheus.GaugeValue, float64(leaders))
	ch <- prometheus.MustNewConstMetric(c.underReplicated, prometheus.GaugeValue, float64(under))
	ch <- prometheus.MustNewConstMetric(c.hwLag, prometheus.GaugeValue, float64(lag))
}
