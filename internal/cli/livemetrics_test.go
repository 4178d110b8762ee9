package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// prometheusBin is Debian's Prometheus server (make test-deps installs it).
const prometheusBin = "/usr/bin/prometheus"

// A real Prometheus server scrapes a running kbench e2e --metrics-listen,
// and rate() over the acknowledged-records counter agrees with the rate the
// run reports.
func TestPrometheusScrapesLiveMetrics(t *testing.T) {
	if _, err := os.Stat(prometheusBin); err != nil {
		t.Fatalf("%s: %v (make test-deps installs Debian's prometheus package)", prometheusBin, err)
	}
	dir := t.TempDir()
	metricsAddr, promAddr := freeAddr(t), freeAddr(t)
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: kbench\n    static_configs: [{targets: ['%s']}]\n", metricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prom := exec.CommandContext(ctx, prometheusBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	var promLog strings.Builder
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prom.Process.Kill(); prom.Wait() }()
	waitHTTP(t, ctx, "http://"+promAddr+"/-/ready", &promLog)

	resPath := filepath.Join(dir, "run.json")
	out, errOut, code := kbench(t, "e2e", "--brokers", "1", "--rate", "2000", "--warmup", "1s", "--duration", "16s",
		"--interval", "500ms", "--record-size", "200", "--metrics-listen", metricsAddr, "--json", resPath, "-q")
	// Once the run ends its endpoint goes away and Prometheus marks the
	// series stale: queries look back from here.
	ended := float64(time.Now().UnixMilli()) / 1000
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "live metrics on http://"+metricsAddr+"/metrics") {
		t.Errorf("stdout does not say where the metrics are:\n%s", out)
	}
	var res struct {
		Produce struct {
			RecordsPerSec float64 `json:"records_per_sec"`
		} `json:"produce"`
	}
	readJSON(t, resPath, &res)

	// The rate is taken over 8 s that end 1.5 s before the counter
	// stopped rising (the scrapes after that saw the producers done and
	// the run draining, reporting and exiting, which takes a varying
	// while), so the window lies inside the measured part of the run.
	stopped := promStopped(t, ctx, promAddr, `kbench_produce_acked_records_total{run=~"e2e-.*"}`, ended)
	got := promQuery(t, ctx, promAddr, `rate(kbench_produce_acked_records_total{run=~"e2e-.*"}[8s])`, stopped-1.5)
	t.Logf("PromQL rate %.1f records/s; the run reports %.1f", got, res.Produce.RecordsPerSec)
	if want := res.Produce.RecordsPerSec; got < want*0.95 || got > want*1.05 {
		t.Errorf("PromQL rate %.0f records/s, the run reports %.0f: not within 5 %%", got, want)
	}
	if lat := promQuery(t, ctx, promAddr, `histogram_quantile(0.5, kbench_latency_seconds_bucket{kind="e2e"})`, stopped); !(lat > 0 && lat < 1) {
		t.Errorf("e2e median from the Prometheus histogram %g s, want between 0 and 1 s", lat)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(t *testing.T, ctx context.Context, u string, log fmt.Stringer) {
	t.Helper()
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not ready: %v\n%s", u, err, log)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// promQuery evaluates an instant query at unix time at and returns its
// single value.
// promStopped is when the counter the query selects first showed its final
// value, from Prometheus's samples of the minute before end (0.25 s steps).
func promStopped(t *testing.T, ctx context.Context, addr, query string, end float64) float64 {
	t.Helper()
	q := url.Values{"query": {query}, "start": {strconv.FormatFloat(end-60, 'f', 3, 64)},
		"end": {strconv.FormatFloat(end, 'f', 3, 64)}, "step": {"0.25"}}
	var r []struct {
		Values [][2]any `json:"values"`
	}
	promAPI(t, ctx, addr, "query_range", q, &r)
	if len(r) != 1 || len(r[0].Values) == 0 {
		t.Fatalf("range query %s: %d series", query, len(r))
	}
	vals := r[0].Values
	final, _ := vals[len(vals)-1][1].(string)
	for _, v := range vals {
		if s, _ := v[1].(string); s == final {
			at, _ := v[0].(float64)
			return at
		}
	}
	t.Fatalf("range query %s: no sample with the final value %s", query, final)
	return 0
}

// promAPI calls Prometheus's HTTP API at /api/v1/PATH and decodes the
// result of a successful answer into result.
func promAPI(t *testing.T, ctx context.Context, addr, path string, q url.Values, result any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/"+path+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("%s %v: %v: %s", path, q, err, body)
	}
	if err := json.Unmarshal(r.Data.Result, result); err != nil {
		t.Fatalf("%s %v: result: %v: %s", path, q, err, body)
	}
}

func promQuery(t *testing.T, ctx context.Context, addr, query string, at float64) float64 {
	t.Helper()
	q := url.Values{"query": {query}, "time": {strconv.FormatFloat(at, 'f', 3, 64)}}
	var r []struct {
		Value [2]any `json:"value"`
	}
	promAPI(t, ctx, addr, "query", q, &r)
	if len(r) != 1 {
		t.Fatalf("query %s: %d series, want 1", query, len(r))
	}
	s, _ := r[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %q: %v", query, s, err)
	}
	return v
}
