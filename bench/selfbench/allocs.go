package selfbench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kt "github.com/kbench/kbench/target"
)

// PhaseAllocs runs count the kbench broker's heap allocations per produce
// request.
const PhaseAllocs = "allocs"

// Prometheus series the allocation runs read from `kbench broker
// --metrics-listen`: the Go runtime's cumulative counters and the produce
// request count.
const (
	mallocsSeries    = "go_memstats_mallocs_total"
	allocBytesSeries = "go_memstats_alloc_bytes_total"
	produceSeries    = `kbench_broker_request_duration_seconds_count{api="Produce"}`
)

// allocWorkloads are measured for allocations: the plain produce path at
// both record sizes, and the idempotent acks=all one.
func allocWorkloads() []Workload {
	return []Workload{
		{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"},
		{RecordSize: 1024, Producers: 1, Acks: "1", Compression: "none"},
		{RecordSize: 1024, Producers: 1, Acks: "all", Compression: "none"},
	}
}

// counters is one scrape of the series above.
type counters struct{ mallocs, bytes, produces float64 }

// scrape reads the counters from a Prometheus text endpoint.
func scrape(ctx context.Context, url string) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return counters{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return counters{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return counters{}, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	want := map[string]*float64{}
	var c counters
	want[mallocsSeries], want[allocBytesSeries], want[produceSeries] = &c.mallocs, &c.bytes, &c.produces
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		dst := want[name]
		if !ok || dst == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return counters{}, fmt.Errorf("scrape %s: %s: %w", url, name, err)
		}
		*dst = v
		found++
	}
	if err := sc.Err(); err != nil {
		return counters{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	if found != len(want) {
		return counters{}, fmt.Errorf("scrape %s: found %d of the series %s, %s, %s", url, found, mallocsSeries, allocBytesSeries, produceSeries)
	}
	return c, nil
}

// perRequest turns the scrapes around a short run (a to b) and a longer
// run (b to c) into steady-state allocations and bytes per produce request:
// the slope between the two runs. What every run costs once (new client
// connections, metadata, one scrape's own allocations) is in both deltas
// and cancels out. The runs are bounded by time, so on a busy machine the
// longer one may make fewer requests (larger batches); the slope is the
// same either way round, and only equal counts leave nothing to measure.
func perRequest(a, b, c counters) (allocs, bytes float64, requests int64, err error) {
	short, long := b.produces-a.produces, c.produces-b.produces
	n := long - short
	if short <= 0 || long <= 0 || n == 0 {
		return 0, 0, 0, fmt.Errorf("the longer run made %.0f produce requests, the shorter %.0f: no slope to measure", long, short)
	}
	allocs = ((c.mallocs - b.mallocs) - (b.mallocs - a.mallocs)) / n
	bytes = ((c.bytes - b.bytes) - (b.bytes - a.bytes)) / n
	return max(allocs, 0), max(bytes, 0), int64(math.Abs(n)), nil
}

// allocations starts a separate `kbench broker --metrics-listen` (so the
// metrics' own cost stays out of the throughput runs) and, per workload,
// makes a warm-up run, then a run and one twice as long between scrapes.
func (h *harness) allocations(ctx context.Context) {
	fail := func(w Workload, err error) {
		h.add(ctx, nil, Sample{Phase: PhaseAllocs, Target: KbenchRF1, Workload: w.Name(), Error: err.Error()})
	}
	tg, err := kt.Start(ctx, kt.Options{Process: true, Dir: filepath.Join(h.dir, "kbench-allocs"), Binary: h.cfg.Binary, Env: h.cfg.Env,
		BrokerArgs: []string{"--metrics-listen", "127.0.0.1:0"}})
	if err != nil {
		fail(allocWorkloads()[0], fmt.Errorf("start the metrics broker: %w", err))
		return
	}
	t := &target{kind: KbenchRF1, rf: 1, tg: tg}
	if err := t.connectAdmin(); err != nil {
		fail(allocWorkloads()[0], err)
		return
	}
	defer func() {
		if err := t.shutdown(); err != nil {
			h.logf("stop the metrics broker: %v", err)
		}
	}()
	url, err := tg.MetricsURL()
	if err != nil {
		fail(allocWorkloads()[0], err)
		return
	}
	for _, w := range allocWorkloads() {
		if ctx.Err() != nil {
			return
		}
		h.add(ctx, t, h.allocRun(ctx, t, url, w))
	}
}

func (h *harness) allocRun(ctx context.Context, t *target, url string, w Workload) Sample {
	topic := h.topicName()
	if err := t.createTopic(ctx, topic, h.cfg.Partitions); err != nil {
		return Sample{Phase: PhaseAllocs, Target: t.kind, Workload: w.Name(), Error: err.Error()}
	}
	defer t.deleteTopic(context.WithoutCancel(ctx), topic)
	run := produceRun{phase: PhaseAllocs, w: w, dur: h.cfg.Warmup + h.cfg.Duration, topic: topic}
	if s := h.produce(ctx, t, run); !s.ok() {
		return s
	}
	a, err := scrape(ctx, url)
	if err != nil {
		return Sample{Phase: PhaseAllocs, Target: t.kind, Workload: w.Name(), Error: err.Error()}
	}
	if s := h.produce(ctx, t, run); !s.ok() {
		return s
	}
	b, err := scrape(ctx, url)
	if err != nil {
		return Sample{Phase: PhaseAllocs, Target: t.kind, Workload: w.Name(), Error: err.Error()}
	}
	run.dur *= 2
	s := h.produce(ctx, t, run)
	if !s.ok() {
		return s
	}
	c, err := scrape(ctx, url)
	if err == nil {
		s.AllocsPerRequest, s.AllocBytesPerRequest, s.ProduceRequests, err = perRequest(a, b, c)
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}
