// Package livemetrics shows a running load to Prometheus: a bench.Sink that
// keeps the generator's counters and latency histograms as the intervals
// stream in, and serves them on /metrics while the run goes on.
//
// Counters (records sent, acknowledged, failed, consumed, bytes) only grow, so
// rate() over them is the generator's throughput. The latency histograms are
// the run's HDR histograms since it started (warmup included, as Prometheus
// counters cannot forget), written as Prometheus histograms with fixed
// buckets; kbench's own summary stays the exact figure. Every series carries
// the run's name and, in sweeps, the point being run.
package livemetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kbench/kbench/bench"
)

// Buckets are the latency bucket bounds in seconds: 100 µs to 60 s.
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Exporter is a bench.Sink and a prometheus.Collector.
type Exporter struct {
	run string

	mu     sync.Mutex
	point  string
	series map[string]*pointSeries // by point
}

// pointSeries is what one point (or a plain run) has streamed so far.
type pointSeries struct {
	sent, acked, failed, consumed, ackedBytes, consumedBytes float64
	cpu                                                      float64
	lagRecords                                               float64
	hists                                                    map[string]*hdr.Histogram // service, response, e2e
}

var (
	_ bench.Sink           = (*Exporter)(nil)
	_ prometheus.Collector = (*Exporter)(nil)
)

// New returns an exporter whose series carry run="run".
func New(run string) *Exporter {
	return &Exporter{run: run, series: map[string]*pointSeries{}}
}

// SetPoint labels the intervals that follow with point="point" (sweeps).
func (e *Exporter) SetPoint(point string) {
	e.mu.Lock()
	e.point = point
	e.mu.Unlock()
}

// Interval adds one interval's counts and histograms.
func (e *Exporter) Interval(iv *bench.Interval) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.series[e.point]
	if s == nil {
		s = &pointSeries{hists: map[string]*hdr.Histogram{}}
		e.series[e.point] = s
	}
	s.sent += float64(iv.Sent)
	s.acked += float64(iv.Acked)
	s.failed += float64(iv.Failed)
	s.consumed += float64(iv.Consumed)
	s.ackedBytes += float64(iv.AckedBytes)
	s.consumedBytes += float64(iv.ConsumedBytes)
	s.cpu = iv.CPUCores
	if iv.Mode == bench.ModeE2E {
		s.lagRecords = max(s.acked-s.consumed, 0)
	}
	for tag, h := range map[string]*hdr.Histogram{"service": iv.Service, "response": iv.Response, "e2e": iv.E2E} {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		if s.hists[tag] == nil {
			s.hists[tag] = hdr.New(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
		}
		s.hists[tag].Merge(h)
	}
	return nil
}

var (
	labels     = []string{"run", "point"}
	descSent   = prometheus.NewDesc("kbench_produce_sent_records_total", "Records the generator handed to its producers.", labels, nil)
	descAcked  = prometheus.NewDesc("kbench_produce_acked_records_total", "Records the cluster acknowledged.", labels, nil)
	descFailed = prometheus.NewDesc("kbench_produce_failed_records_total", "Records whose produce failed.", labels, nil)
	descABytes = prometheus.NewDesc("kbench_produce_acked_bytes_total", "Value bytes of acknowledged records.", labels, nil)
	descCons   = prometheus.NewDesc("kbench_consume_records_total", "Records the generator's consumers read.", labels, nil)
	descCBytes = prometheus.NewDesc("kbench_consume_bytes_total", "Value bytes the consumers read.", labels, nil)
	descLag    = prometheus.NewDesc("kbench_consume_lag_records", "Records acknowledged but not yet consumed (end-to-end runs).", labels, nil)
	descCPU    = prometheus.NewDesc("kbench_generator_cpu_cores", "Cores the generator process used in the last interval.", labels, nil)
	descLat    = prometheus.NewDesc("kbench_latency_seconds", "Latency since the run started: service (send to acknowledgement), response (intended send to acknowledgement), e2e (intended send to consumed).", append(labels, "kind"), nil)
)

// Describe sends the descriptors.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSent, descAcked, descFailed, descABytes, descCons, descCBytes, descLag, descCPU, descLat} {
		ch <- d
	}
}

// Collect sends every series as it stands.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for point, s := range e.series {
		lv := []string{e.run, point}
		for _, c := range []struct {
			d *prometheus.Desc
			t prometheus.ValueType
			v float64
		}{
			{descSent, prometheus.CounterValue, s.sent}, {descAcked, prometheus.CounterValue, s.acked},
			{descFailed, prometheus.CounterValue, s.failed}, {descABytes, prometheus.CounterValue, s.ackedBytes},
			{descCons, prometheus.CounterValue, s.consumed}, {descCBytes, prometheus.CounterValue, s.consumedBytes},
			{descLag, prometheus.GaugeValue, s.lagRecords}, {descCPU, prometheus.GaugeValue, s.cpu},
		} {
			ch <- prometheus.MustNewConstMetric(c.d, c.t, c.v, lv...)
		}
		for kind, h := range s.hists {
			count, sum, buckets := bucketize(h)
			ch <- prometheus.MustNewConstHistogram(descLat, count, sum, buckets, append(lv, kind)...)
		}
	}
}

// bucketize turns an HDR histogram of nanoseconds into cumulative bucket
// counts over Buckets, with the count and the sum in seconds.
func bucketize(h *hdr.Histogram) (uint64, float64, map[float64]uint64) {
	buckets := make(map[float64]uint64, len(Buckets))
	var sum float64
	var count uint64
	counts := make([]uint64, len(Buckets))
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		v := float64(b.To) / 1e9 // the bucket's highest value: never under the true latency
		sum += float64(b.Count) * v
		count += uint64(b.Count)
		for i, le := range Buckets {
			if v <= le {
				counts[i] += uint64(b.Count)
				break
			}
		}
	}
	var cum uint64
	for i, le := range Buckets {
		cum += counts[i]
		buckets[le] = cum
	}
	return count, sum, buckets
}

// Serve serves /metrics for reg on addr until ctx ends. It returns the bound
// address (addr may use port 0).
func Serve(ctx context.Context, addr string, reg *prometheus.Registry) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ln.Close()
		}
	}()
	return ln.Addr().String(), nil
}
