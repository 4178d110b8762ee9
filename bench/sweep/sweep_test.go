package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/stats"
	"github.com/kbench/kbench/profiles"
)

func loadTiny(t *testing.T, set ...string) *profiles.Profile {
	t.Helper()
	p, err := profiles.Load("testdata/tiny.yaml", set)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logTo is a Progress that keeps plain progress lines for failure messages.
type logTo struct {
	mu  sync.Mutex
	buf bytes.Buffer
	pr  *Printer
	on  func(Event)
}

func newLog() *logTo {
	l := &logTo{}
	l.pr = NewPrinter(&l.buf, false, "response")
	return l
}

func (l *logTo) Event(ev Event) {
	l.mu.Lock()
	l.pr.Event(ev)
	l.mu.Unlock()
	if l.on != nil {
		l.on(ev)
	}
}

func (l *logTo) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func readLines(t *testing.T, dir string) []Line {
	t.Helper()
	lines, torn, err := ReadResultsFile(dir)
	if err != nil || torn {
		t.Fatalf("read results: %v (torn %v)", err, torn)
	}
	return lines
}

func TestSweepEndToEnd(t *testing.T) {
	p := loadTiny(t)
	dir := filepath.Join(t.TempDir(), "run")
	log := newLog()
	sum, err := Run(context.Background(), Options{Profile: p, Dir: dir, Progress: log, Version: "test"})
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, log)
	}
	if sum.Done != 3 || sum.Failed != 0 || sum.Interrupted {
		t.Fatalf("got %+v, want 3 points done\n%s", sum, log)
	}
	lines := readLines(t, dir)
	if len(lines) != 3 {
		t.Fatalf("got %d result lines, want 3", len(lines))
	}
	for i, l := range lines {
		pt := p.Points[i]
		if l.Point.ID != pt.ID || l.Point.Label != pt.Label || l.Status != PointDone {
			t.Fatalf("line %d: got %s %s %s, want %s %s done", i, l.Point.ID, l.Point.Label, l.Status, pt.ID, pt.Label)
		}
		if l.Result == nil || l.Result.Mode != bench.ModeE2E || l.Hlog == "" || len(l.Runs) != 1 || !l.Runs[0].Counted {
			t.Fatalf("line %d: incomplete: result %v hlog %q runs %+v", i, l.Result != nil, l.Hlog, l.Runs)
		}
		// The representative run's histograms are on disk and readable.
		f, err := os.Open(filepath.Join(dir, l.Hlog))
		if err != nil {
			t.Fatal(err)
		}
		hists, err := bench.ReadHlog(f)
		f.Close()
		if err != nil || len(hists) == 0 {
			t.Fatalf("line %d: hlog %s: %d histograms, %v", i, l.Hlog, len(hists), err)
		}
		rate := l.Figures["produce_records_per_sec"].Median
		switch pt.Rate.Kind {
		case profiles.RateFixed:
			// The engine is under test here, not the machine: a loaded CI box
			// may fall a little short of even 500 records/s over a short run
			// (the generator's rate accuracy has its own test in bench).
			if math.Abs(rate-500) > 100 {
				t.Fatalf("line %d: %.0f records/s at a fixed 500", i, rate)
			}
			if !l.SLO.Pass {
				for _, r := range l.SLO.Reasons {
					if !strings.Contains(r, "achieved") && !strings.Contains(r, "p99") {
						t.Fatalf("line %d: SLO missed at 500 records/s: %v\n%s", i, l.SLO.Reasons, log)
					}
				}
				t.Logf("line %d: SLO missed on a loaded machine: %v", i, l.SLO.Reasons)
			}
		case profiles.RateUnthrottled:
			if rate < 2000 {
				t.Fatalf("line %d: unthrottled only %.0f records/s", i, rate)
			}
		}
		if l.Result.Settings.Producer["linger.ms"] != pt.Value("linger.ms") {
			t.Fatalf("line %d: ran with linger.ms %q, want %q", i, l.Result.Settings.Producer["linger.ms"], pt.Value("linger.ms"))
		}
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusDone || m.Done != 3 || m.Cluster == nil || len(m.Cluster.APIVersions) == 0 || m.Kbench != "test" || m.Profile.Name != "tiny" {
		t.Fatalf("manifest: status %s done %d cluster %+v version %s profile %s", m.Status, m.Done, m.Cluster, m.Kbench, m.Profile.Name)
	}
	logText, err := os.ReadFile(filepath.Join(dir, BrokerLogDir, "broker-1.log"))
	if err != nil || !strings.Contains(string(logText), "listening on 127.0.0.1:") {
		t.Fatalf("broker log: %v\n%s", err, logText)
	}
	src, _ := os.ReadFile(filepath.Join(dir, ProfileFile))
	if string(src) != p.YAML {
		t.Fatal("profile.yaml is not the profile as read")
	}
	// A second sweep into the same directory would mix runs.
	if _, err := Run(context.Background(), Options{Profile: p, Dir: dir}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v, want a refusal to reuse a run directory", err)
	}
}

func TestSweepInterruptAndResume(t *testing.T) {
	p := loadTiny(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := newLog()
	// Ctrl-C in the middle of the second point's run.
	log.on = func(ev Event) {
		if ev.Kind == IntervalDone && ev.Point.Index == 2 {
			cancel()
		}
	}
	sum, err := Run(ctx, Options{Profile: p, Dir: dir, Progress: log})
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if !sum.Interrupted || sum.Done != 1 {
		t.Fatalf("got %+v, want interrupted after 1 point\n%s", sum, log)
	}
	first := readLines(t, dir)
	if len(first) != 1 || first[0].Point.ID != "p001" {
		t.Fatalf("got %d lines after the interruption, want p001 only", len(first))
	}
	m, err := ReadManifest(dir)
	if err != nil || m.Status != StatusInterrupted {
		t.Fatalf("manifest status %v (%v), want interrupted", m, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	// A crash mid-write leaves a torn line; resume must drop it.
	f, err := os.OpenFile(filepath.Join(dir, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"schema":1,"profile":"tiny","point":{"id":"p00`)
	f.Close()

	log2 := newLog()
	var started []string
	log2.on = func(ev Event) {
		if ev.Kind == PointStarted {
			started = append(started, ev.Point.ID)
		}
	}
	sum, err = Run(context.Background(), Options{Dir: dir, Resume: true, Progress: log2})
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, log2)
	}
	if strings.Join(started, ",") != "p002,p003" || sum.Skipped != 1 || sum.Done != 2 || len(sum.Lines) != 3 {
		t.Fatalf("resume ran %v, summary %+v; want p002,p003 run and p001 skipped", started, sum)
	}
	after, _ := os.ReadFile(filepath.Join(dir, ResultsFile))
	if !bytes.HasPrefix(after, before) {
		t.Fatal("the resume changed the line of the point finished before")
	}
	lines := readLines(t, dir)
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l.Point.ID] || l.Status != PointDone {
			t.Fatalf("point %s twice or not done (%s)", l.Point.ID, l.Status)
		}
		seen[l.Point.ID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("got points %v, want all 3", seen)
	}
	m, _ = ReadManifest(dir)
	if m.Status != StatusDone || m.Sessions != 2 || m.Done != 3 {
		t.Fatalf("manifest after resume: status %s sessions %d done %d", m.Status, m.Sessions, m.Done)
	}
	// Resuming a finished run runs nothing.
	sum, err = Run(context.Background(), Options{Dir: dir, Resume: true})
	if err != nil || sum.Done != 0 || sum.Skipped != 3 {
		t.Fatalf("resume of a finished run: %+v, %v", sum, err)
	}
}

// A point whose cluster cannot start is recorded as failed with its error,
// and the sweep goes on to the next.
func TestSweepFailedPointGoesOn(t *testing.T) {
	p := loadTiny(t, "axes={brokers: [3, 1]}", "exclude=[]", "rate=500", "target.brokers=3")
	dir := filepath.Join(t.TempDir(), "run")
	log := newLog()
	missing := filepath.Join(t.TempDir(), "no-kbench-here")
	sum, err := Run(context.Background(), Options{Profile: p, Dir: dir, Progress: log, Binary: missing})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || sum.Done != 1 {
		t.Fatalf("got %+v, want 1 failed and 1 done\n%s", sum, log)
	}
	lines := readLines(t, dir)
	if len(lines) != 2 || lines[0].Status != PointFailed || lines[1].Status != PointDone {
		t.Fatalf("got %d lines (%+v), want p001 failed then p002 done", len(lines), lines)
	}
	if !strings.Contains(lines[0].Error, "3-broker cluster") || !strings.Contains(lines[0].Error, missing) || lines[0].SLO.Pass {
		t.Fatalf("failed line error %q, slo %+v; want why the cluster did not start", lines[0].Error, lines[0].SLO)
	}
	if !strings.Contains(log.String(), "FAILED: ") {
		t.Fatalf("progress does not show the failure:\n%s", log)
	}
	// --retry-failed runs it again (and it fails again the same way);
	// finished points are left alone.
	var started []string
	log2 := newLog()
	log2.on = func(ev Event) {
		if ev.Kind == PointStarted {
			started = append(started, ev.Point.ID)
		}
	}
	if _, err := Run(context.Background(), Options{Dir: dir, Resume: true, RetryFailed: true, Progress: log2, Binary: missing}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(started, ",") != "p001" || len(readLines(t, dir)) != 2 {
		t.Fatalf("retry ran %v, want p001 only, with 2 lines after", started)
	}
	// A shape the embedded target never runs fails before anything starts.
	if err := CheckShape(EmbeddedMaxBrokers + 1); !errors.Is(err, ErrClusterShape) {
		t.Fatalf("shape %d: got %v, want ErrClusterShape", EmbeddedMaxBrokers+1, err)
	}
}

// throttle is a token bucket shared by every connection: the cluster's
// ingress limited to a known number of bytes per second.
type throttle struct {
	mu     sync.Mutex
	rate   float64 // bytes/s
	burst  float64
	tokens float64
	last   time.Time
}

func (th *throttle) take(n int) {
	th.mu.Lock()
	now := time.Now()
	if !th.last.IsZero() {
		th.tokens = math.Min(th.burst, th.tokens+now.Sub(th.last).Seconds()*th.rate)
	}
	th.last = now
	th.tokens -= float64(n)
	wait := time.Duration(0)
	if th.tokens < 0 {
		wait = time.Duration(-th.tokens / th.rate * float64(time.Second))
	}
	th.mu.Unlock()
	time.Sleep(wait)
}

type throttledConn struct {
	net.Conn
	th *throttle
}

func (c *throttledConn) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		n := min(len(b), int(c.th.burst))
		c.th.take(n)
		m, err := c.Conn.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// The search against a real broker whose ingress is throttled to a known
// rate: it must end at or below what the throttle lets through (never
// overshoot) and not far under it.
func TestSearchAgainstThrottledBroker(t *testing.T) {
	const bytesPerSec = 1 << 20
	const recordSize = 1000
	p := loadTiny(t, "axes={}", "exclude=[]", "rate=max-sustainable", "workload.record_size=1000",
		"workload.warmup=500ms", "workload.duration=1500ms", "slo.p99_ms=1000",
		"search={start: 400, factor: 2, precision: 0.1, max_probes: 8}")
	th := &throttle{rate: bytesPerSec, burst: 32 << 10, tokens: 32 << 10}
	var d net.Dialer
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, host)
		if err != nil {
			return nil, err
		}
		return &throttledConn{Conn: c, th: th}, nil
	}
	dir := filepath.Join(t.TempDir(), "run")
	log := newLog()
	sum, err := Run(context.Background(), Options{Profile: p, Dir: dir, Progress: log, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 1 {
		t.Fatalf("got %+v\n%s", sum, log)
	}
	l := readLines(t, dir)[0]
	if len(l.Search) != 1 {
		t.Fatalf("got %d searches, want 1", len(l.Search))
	}
	sr := l.Search[0]
	ceiling := float64(bytesPerSec) / recordSize // every record costs at least its value on the wire
	// What the search can find is bounded by the throttle and by what this
	// machine manages at the moment, which the probes of the same run
	// measure: the best rate any of them achieved. The found rate must not
	// fall far short of it. The SLO's latency bound is loose (an overloaded
	// throttle fails the achieved-rate part of the SLO anyway) so latency
	// spikes of a busy machine do not decide the search.
	var best float64
	for _, pr := range sr.Probes {
		best = max(best, pr.Achieved)
	}
	t.Logf("found %.0f records/s (bracket %.0f–%.0f, %s, %d probes, best achieved %.0f); the throttle passes at most %.0f",
		sr.Found, sr.Lo, sr.Hi, sr.Stop, len(sr.Probes), best, ceiling)
	if sr.Found > ceiling {
		t.Fatalf("found %.0f records/s, more than the throttle's %.0f: the search overshot\n%s", sr.Found, ceiling, log)
	}
	if sr.Found < 0.5*min(best, ceiling) {
		t.Fatalf("found %.0f records/s, less than half the %.0f its probes achieved (throttle %.0f)\n%s", sr.Found, best, ceiling, log)
	}
	if sr.Hi == 0 || sr.Hi <= sr.Lo || len(sr.Probes) > 8 {
		t.Fatalf("bracket [%.0f, %.0f] with %d probes, want a closed bracket within the budget", sr.Lo, sr.Hi, len(sr.Probes))
	}
	// The counted run is the probe at the rate found, and it passed.
	if l.Result == nil || l.Result.Produce.TargetRate != sr.Found || !l.SLO.Pass {
		t.Fatalf("representative run at %v, slo %+v; want the passing probe at %.0f", l.Result.Produce.TargetRate, l.SLO, sr.Found)
	}
}

func TestReadResultsRejectsBadLines(t *testing.T) {
	good, _ := json.Marshal(Line{Schema: SchemaVersion, Status: PointDone})
	tests := []struct {
		name  string
		in    string
		lines int
		torn  bool
		err   string
	}{
		{"empty", "", 0, false, ""},
		{"two", string(good) + "\n" + string(good) + "\n", 2, false, ""},
		{"torn tail", string(good) + "\n" + string(good[:10]), 1, true, ""},
		{"bad middle", string(good) + "\n{oops}\n" + string(good) + "\n", 1, false, "line 2"},
		{"future schema", `{"schema":99}` + "\n", 0, false, "schema 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, torn, err := ReadResults(strings.NewReader(tt.in))
			if len(lines) != tt.lines || torn != tt.torn || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %d lines, torn %v, err %v; want %d, %v, %q", len(lines), torn, err, tt.lines, tt.torn, tt.err)
			}
		})
	}
}

func TestLineRoundTrip(t *testing.T) {
	p := loadTiny(t)
	in := Line{Schema: SchemaVersion, Profile: "tiny", Point: p.Points[1], Status: PointDone, Started: time.Unix(1700000000, 0).UTC(),
		SLO: Verdict{Pass: true}, Valid: true, Figures: map[string]Stat{"response_p99_ms": stat([]float64{3, 1, 2})},
		Search: []SearchResult{{Found: 100, Lo: 100, Hi: 110, WidthPct: 10, Stop: StopConverged, Converged: true, Probes: []Probe{{Rate: 100, Achieved: 99.5, Pass: true}}}}}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	lines, _, err := ReadResults(bytes.NewReader(append(b, '\n')))
	if err != nil || len(lines) != 1 {
		t.Fatal(err)
	}
	again, _ := json.Marshal(&lines[0])
	if !bytes.Equal(b, again) {
		t.Fatalf("round trip changed the line:\n%s\n%s", b, again)
	}
	if st := lines[0].Figures["response_p99_ms"]; st.Median != 2 || st.Min != 1 || st.Max != 3 || st.SpreadPct != 100 {
		t.Fatalf("got stat %+v, want median 2, min 1, max 3, spread 100 %%", st)
	}
}

// An even count's median is the mean of the two middle runs (the one
// definition kbench uses); the representative run is still a measured one.
func TestStatEvenCount(t *testing.T) {
	st := stat([]float64{4, 1, 3, 2})
	if st.Median != 2.5 || st.Min != 1 || st.Max != 4 || st.SpreadPct != 120 {
		t.Fatalf("got %+v, want median 2.5, min 1, max 4, spread 120 %%", st)
	}
}

func TestManifestCommitFromVersion(t *testing.T) {
	p := loadTiny(t)
	for _, tt := range []struct{ version, commit string }{
		{"c11dc55-dirty", "c11dc55"}, {"v1.2.0-3-gabcdef1", "abcdef1"}, {"abcdef1234", "abcdef1234"}, {"dev", ""},
	} {
		m := newManifest(p, tt.version, "", 0)
		if m.Commit != tt.commit || m.Dirty != strings.HasSuffix(tt.version, "-dirty") {
			t.Fatalf("version %q: commit %q dirty %v, want %q", tt.version, m.Commit, m.Dirty, tt.commit)
		}
	}
}

// repeat: N runs a point N times; the figures keep the median and spread,
// and the representative result is the median run.
func TestSweepRepeats(t *testing.T) {
	p := loadTiny(t, "axes={}", "exclude=[]", "rate=800", "repeat=3")
	dir := filepath.Join(t.TempDir(), "run")
	log := newLog()
	if _, err := Run(context.Background(), Options{Profile: p, Dir: dir, Progress: log}); err != nil {
		t.Fatal(err)
	}
	l := readLines(t, dir)[0]
	if len(l.Runs) != 3 {
		t.Fatalf("got %d runs, want 3\n%s", len(l.Runs), log)
	}
	var p99s []float64
	for i, r := range l.Runs {
		if r.Name != fmt.Sprintf("r%d", i+1) || r.Repeat != i+1 || !r.Counted || r.Target != 800 {
			t.Fatalf("run %d: %+v", i, r)
		}
		if _, err := os.Stat(filepath.Join(dir, r.Hlog)); err != nil {
			t.Fatal(err)
		}
		p99s = append(p99s, r.Figures["response_p99_ms"])
	}
	st := l.Figures["response_p99_ms"]
	if st.N != 3 || st.Median != stats.Median(p99s) || st.Min != slices.Min(p99s) || st.Max != slices.Max(p99s) {
		t.Fatalf("p99 stat %+v from runs %v", st, p99s)
	}
	rep := l.Runs[slices.Index(p99s, st.Median)]
	if l.Hlog != rep.Hlog || l.Result.Latency.Response.P99 != st.Median {
		t.Fatalf("representative hlog %s with p99 %v, want the median run %s (%v)", l.Hlog, l.Result.Latency.Response.P99, rep.Name, st.Median)
	}
}
