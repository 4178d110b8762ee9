package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/durability"
	"github.com/kbench/kbench/internal/stats"
	"github.com/kbench/kbench/profiles"
)

// Options configure a sweep.
type Options struct {
	// Profile is what to run. With Resume it is read from the run
	// directory's manifest instead and must be nil.
	Profile *profiles.Profile
	// Dir is the run directory. A new run needs it absent or empty.
	Dir string
	// Resume continues the run in Dir, skipping finished points.
	Resume bool
	// RetryFailed, with Resume, runs failed points again.
	RetryFailed bool
	// Client holds the connection and security properties every client
	// takes (client.properties and target.client, merged by the caller).
	Client map[string]string
	// Version is kbench's version for the manifest.
	Version string
	// Progress receives events; nil for none.
	Progress Progress
	// Binary is the kbench executable embedded multi-broker clusters run
	// as broker processes; default: this executable.
	Binary string
	// Dial, if set, replaces how clients open broker connections (tests,
	// throttling proxies).
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
	// Run makes each load run; default bench.Run (kbench agent's
	// coordinator spreads runs over load machines instead).
	Run func(ctx context.Context, cfg bench.RunConfig, sink bench.Sink) (*bench.Result, error)
}

// Summary is how a sweep session ended.
type Summary struct {
	Dir    string
	Points int
	// Skipped points were finished by an earlier session.
	Skipped, Done, Failed int
	// Interrupted is set when the context ended the session early; the
	// run is resumable.
	Interrupted bool
	Elapsed     time.Duration
	// Lines are every point's result so far, earlier sessions included, in
	// point order.
	Lines []Line
}

// errInterrupted marks a point cut short by the context: it is not
// recorded, so a resume runs it again.
var errInterrupted = errors.New("interrupted")

// Run runs (or resumes) a sweep. Finished points are appended to
// results.jsonl as they finish; a failing point is recorded as failed and
// the sweep goes on; when ctx ends, the current point is dropped, the
// manifest says interrupted and the run can be resumed.
func Run(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	if o.Dir == "" {
		return nil, errors.New("sweep: no run directory")
	}
	var m *Manifest
	var prior []Line
	if o.Resume {
		if o.Profile != nil {
			return nil, errors.New("sweep: a resume runs the recorded profile; pass no profile")
		}
		var err error
		if m, prior, err = reopen(o.Dir, o.RetryFailed); err != nil {
			return nil, err
		}
	} else {
		if o.Profile == nil || len(o.Profile.Points) == 0 {
			return nil, errors.New("sweep: no profile, or it has no points")
		}
		if err := createRunDir(o.Dir, o.Profile); err != nil {
			return nil, err
		}
		_, est, _ := Estimate(o.Profile)
		m = newManifest(o.Profile, cmpOr(o.Version, "dev"), "", est)
		m.Sessions = 1
	}
	p := m.Profile
	var shapes []int
	for i := range p.Points {
		if !slices.Contains(shapes, p.Points[i].Brokers) {
			shapes = append(shapes, p.Points[i].Brokers)
		}
	}
	e, rw, err := openEngine(o, m, shapes, start, prior)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Dir: o.Dir, Points: len(p.Points), Skipped: len(e.done)}
	e.event(Event{Kind: SweepStarted})

	var runErr error
	for i := range p.Points {
		pt := &p.Points[i]
		if e.done[pt.ID] != nil {
			continue
		}
		if ctx.Err() != nil {
			sum.Interrupted = true
			break
		}
		e.cur, e.curStart = i, time.Now()
		e.event(Event{Kind: PointStarted, Point: pt})
		line, err := e.runPoint(ctx, pt)
		if errors.Is(err, errInterrupted) {
			sum.Interrupted = true
			break
		}
		if err := rw.write(line); err != nil {
			runErr = err
			break
		}
		e.done[pt.ID] = line
		e.cur = -1
		e.finished++
		e.spent += time.Since(e.curStart)
		e.estDone += e.est[i]
		if line.Status == PointDone {
			sum.Done++
		} else {
			sum.Failed++
		}
		m.Done, m.Failed = countStatus(e.done)
		m.Elapsed += profiles.Duration(time.Since(e.curStart))
		if err := writeManifest(o.Dir, m); err != nil {
			runErr = err
			break
		}
		e.event(Event{Kind: PointFinished, Point: pt, Line: line})
	}
	e.cur = -1
	for i := range p.Points {
		if l := e.done[p.Points[i].ID]; l != nil {
			sum.Lines = append(sum.Lines, *l)
		}
	}
	sum.Elapsed = time.Since(start)
	m.Status = StatusDone
	if sum.Interrupted || len(sum.Lines) < len(p.Points) {
		m.Status = StatusInterrupted
	}
	errs := []error{runErr, rw.close(), e.clusters.close(), writeManifest(o.Dir, m)}
	e.event(Event{Kind: SweepFinished, Summary: sum})
	return sum, errors.Join(errs...)
}

func countStatus(done map[string]*Line) (ok, failed int) {
	for _, l := range done {
		if l.Status == PointDone {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

func createRunDir(dir string, p *profiles.Profile) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("run directory %s exists and is not empty: give another --out, or --resume it", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, HlogDir), 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ProfileFile), []byte(p.YAML), 0o644); err != nil {
		return fmt.Errorf("write profile copy: %w", err)
	}
	return nil
}

// reopen loads a run to resume: its manifest and the lines to keep.
func reopen(dir string, retryFailed bool) (*Manifest, []Line, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, nil, err
	}
	keep, err := keepLines(dir, m, retryFailed)
	if err != nil {
		return nil, nil, err
	}
	m.Sessions++
	return m, keep, nil
}

// keepLines reads the results of a run to resume and rewrites the file
// with the lines kept: a torn last line and, with retryFailed, the failed
// points are dropped, so they run again.
func keepLines(dir string, m *Manifest, retryFailed bool) ([]Line, error) {
	lines, _, err := ReadResultsFile(dir)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, pt := range m.Profile.Points {
		ids[pt.ID] = pt.Label
	}
	var keep []Line
	for _, l := range lines {
		if ids[l.Point.ID] != l.Point.Label {
			return nil, fmt.Errorf("%s: point %s (%s) is not in the recorded profile", filepath.Join(dir, ResultsFile), l.Point.ID, l.Point.Label)
		}
		if retryFailed && l.Status == PointFailed {
			continue
		}
		keep = append(keep, l)
	}
	if err := rewriteResults(dir, keep); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, HlogDir), 0o755); err != nil {
		return nil, fmt.Errorf("hlog directory: %w", err)
	}
	return keep, nil
}

type engine struct {
	o        Options
	p        *profiles.Profile
	m        *Manifest
	clusters *clusters
	progress Progress
	// lastTopic is the topic settings (and cluster generation) the last
	// run left behind; a point with other settings recreates the topic.
	lastTopic string

	start    time.Time
	est      []time.Duration
	done     map[string]*Line // finished points, earlier sessions included
	cur      int              // index of the running point; -1 between points
	curStart time.Time
	finished int
	spent    time.Duration // this session's finished points: actual ...
	estDone  time.Duration // ... and estimated time, to correct the ETA
}

// remaining estimates the time left: the unfinished points' estimates
// (less what the current point has used), scaled by how this session's
// finished points compared with their estimates.
func (e *engine) remaining() time.Duration {
	var left time.Duration
	for i := range e.p.Points {
		if e.done[e.p.Points[i].ID] != nil {
			continue
		}
		d := e.est[i]
		if i == e.cur {
			d = max(d-time.Since(e.curStart), 0)
		}
		left += d
	}
	if e.estDone > 0 {
		k := min(max(float64(e.spent)/float64(e.estDone), 0.3), 5)
		left = time.Duration(float64(left) * k)
	}
	return left
}

// event fills the sweep-wide fields of ev and sends it.
func (e *engine) event(ev Event) {
	ev.Profile, ev.Dir = e.p.Name, e.o.Dir
	ev.Total, ev.Finished = len(e.p.Points), e.finished
	ev.Remaining, ev.Elapsed = e.remaining(), time.Since(e.start)
	e.progress.Event(ev)
}

// runPoint runs one point: its repetitions, or its searches. Failures end
// up in the line; only an interruption is returned as an error.
func (e *engine) runPoint(ctx context.Context, pt *profiles.Point) (*Line, error) {
	line := &Line{Schema: SchemaVersion, Profile: e.p.Name, Point: *pt, Started: time.Now()}
	defer func() { line.Elapsed = bench.Seconds(time.Since(line.Started).Seconds()) }()
	fail := func(err error) (*Line, error) {
		if ctx.Err() != nil || errors.Is(err, errInterrupted) {
			return nil, errInterrupted
		}
		// Whatever broke may have broken an embedded cluster too: the next
		// point starts a fresh one.
		if serr := e.clusters.stop(); serr != nil {
			err = fmt.Errorf("%w (and stopping the embedded cluster: %v)", err, serr)
		}
		e.lastTopic = ""
		line.Status, line.Error = PointFailed, err.Error()
		line.SLO = Verdict{Reasons: []string{"the point failed: " + err.Error()}}
		return line, nil
	}
	// Settings the load generator rejects fail the point before the
	// cluster is touched: nothing broke, so nothing is restarted (kbench
	// tune's points are checked only as they run).
	if err := checkSettings(pt); err != nil {
		line.Status, line.Error = PointFailed, err.Error()
		line.SLO = Verdict{Reasons: []string{"the point failed: " + err.Error()}}
		return line, nil
	}
	tg, gen, err := e.clusters.target(ctx, pt.Brokers, "point "+pt.ID+" "+pt.Label)
	if err != nil {
		return fail(err)
	}
	results := map[string]*bench.Result{}
	var keys []float64 // headline figure of each counted run
	var counted []string
	countRun := func(sum *RunSummary, key float64) {
		sum.Counted = true
		counted = append(counted, sum.Name)
		keys = append(keys, key)
	}
	for rep := 1; rep <= e.p.Repeat; rep++ {
		switch pt.Rate.Kind {
		case profiles.RateMaxSustainable:
			pr := &runProber{e: e, ctx: ctx, tg: tg, gen: gen, pt: pt, repeat: rep, results: results, line: line, dur: e.profileDurability()}
			sr, err := Search(ctx, e.p.Search, e.p.SLO, pr)
			line.Search = append(line.Search, sr)
			if err != nil {
				return fail(err)
			}
			if sr.Found > 0 {
				for i := len(line.Runs) - 1; i >= 0; i-- {
					r := &line.Runs[i]
					if r.Repeat == rep && r.Target == sr.Found && r.SLO.Pass {
						countRun(r, sr.Found)
						break
					}
				}
			}
			if e.p.Frontier != nil {
				for i := range line.Runs {
					if line.Runs[i].Repeat == rep {
						line.Runs[i].Phase = PhaseCapacity
					}
				}
				if err := e.frontierRuns(ctx, tg, gen, pt, rep, line, results); err != nil {
					return fail(err)
				}
			}
		default:
			rate := pt.Rate.PerSec
			name := fmt.Sprintf("r%d", rep)
			sum, res, err := e.run(ctx, tg, gen, pt, rate, name, rep, e.profileDurability())
			if err != nil {
				return fail(err)
			}
			results[name] = res
			line.Runs = append(line.Runs, *sum)
			r := &line.Runs[len(line.Runs)-1]
			key := sum.Figures[e.p.SLO.Latency+"_p99_ms"]
			if pt.Rate.Kind == profiles.RateUnthrottled {
				key = sum.Achieved
			}
			countRun(r, key)
		}
	}
	e.finishLine(line, results, counted, keys)
	return line, nil
}

// finishLine fills the point's verdict, figures and representative run.
func (e *engine) finishLine(line *Line, results map[string]*bench.Result, counted []string, keys []float64) {
	line.Status = PointDone
	line.Valid = len(counted) > 0
	pass := len(counted) == e.p.Repeat
	var figs []map[string]float64
	for i := range line.Runs {
		r := &line.Runs[i]
		if !r.Counted {
			continue
		}
		figs = append(figs, r.Figures)
		if !r.SLO.Pass {
			pass = false
			for _, why := range r.SLO.Reasons {
				line.SLO.Reasons = append(line.SLO.Reasons, r.Name+": "+why)
			}
		}
		if !r.Valid {
			line.Valid = false
			for _, why := range r.Invalid {
				line.Invalid = append(line.Invalid, r.Name+": "+why)
			}
		}
	}
	for i, sr := range line.Search {
		if sr.Found == 0 {
			line.SLO.Reasons = append(line.SLO.Reasons, fmt.Sprintf("r%d: no rate met the SLO (%s)", i+1, sr.Stop))
		}
	}
	if len(counted) == 0 && len(line.Search) == 0 {
		line.SLO.Reasons = append(line.SLO.Reasons, "no run counted")
	}
	line.SLO.Pass = pass && len(line.SLO.Reasons) == 0
	if len(figs) > 0 {
		line.Figures = summarise(figs)
	}
	if len(line.Search) > 0 {
		var found, achieved []float64
		for _, sr := range line.Search {
			found = append(found, sr.Found)
			achieved = append(achieved, sr.Achieved)
		}
		if line.Figures == nil {
			line.Figures = map[string]Stat{}
		}
		line.Figures["max_sustainable_rate"] = stat(found)
		line.Figures["max_sustainable_achieved"] = stat(achieved)
	}
	if e.p.Frontier != nil {
		if line.Figures == nil {
			line.Figures = map[string]Stat{}
		}
		steadyFigures(line.Runs, line.Figures)
	}
	if len(counted) > 0 {
		name := counted[max(stats.MedianIndex(keys), 0)]
		line.Result = results[name]
		for _, r := range line.Runs {
			if r.Name == name {
				line.Hlog, line.Audit = r.Hlog, r.Audit
			}
		}
	}
}

// runProber runs a search's probes as real runs of the point.
type runProber struct {
	e       *engine
	ctx     context.Context
	tg      bench.Target
	gen     int
	pt      *profiles.Point
	repeat  int
	n       int
	results map[string]*bench.Result
	line    *Line
	dur     durability.Options // a frontier's capacity probes run without faults
}

var _ Prober = (*runProber)(nil)

func (p *runProber) Probe(ctx context.Context, rate float64) (Observation, error) {
	p.n++
	name := fmt.Sprintf("r%d-probe%02d", p.repeat, p.n)
	sum, res, err := p.e.run(ctx, p.tg, p.gen, p.pt, rate, name, p.repeat, p.dur)
	if err != nil {
		return Observation{}, err
	}
	p.results[name] = res
	p.line.Runs = append(p.line.Runs, *sum)
	o := observe(res, p.e.p.SLO)
	o.Run = name
	return o, nil
}

// topicKey identifies the topic settings a run needs.
func topicKey(tc bench.TopicConfig, gen int) string {
	return fmt.Sprintf("%d|%s|%d|%d|%v", gen, tc.Name, tc.Partitions, tc.ReplicationFactor, props(tc.Configs))
}

// checkSettings is the load generator's own check of the point's settings (as
// the profile loader makes it), before anything connects anywhere.
func checkSettings(pt *profiles.Point) error {
	cfg := pt.RunConfig(pt.Rate.PerSec)
	tg, err := bench.NewExternal("127.0.0.1:1") // never dialled
	if err != nil {
		return err
	}
	cfg.Target = tg
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// profileDurability is the faults and audit the profile asks of every run.
func (e *engine) profileDurability() durability.Options {
	return durability.Options{Faults: e.p.Faults, Audit: e.p.Audit}
}

// run is one load-generator run of a point at rate (0 = unthrottled), with
// the faults and audit of dur; their files go to audit/<point>-<run>/.
func (e *engine) run(ctx context.Context, tg bench.Target, gen int, pt *profiles.Point, rate float64, name string, repeat int, dur durability.Options) (*RunSummary, *bench.Result, error) {
	cfg := pt.RunConfig(rate)
	cfg.Target, cfg.Client, cfg.Dial, cfg.Version = tg, maps.Clone(e.o.Client), e.o.Dial, e.m.Kbench
	key := topicKey(cfg.Topic, gen)
	// The topic is recreated whenever its settings change (and at the
	// start), so every point starts from a fresh topic of its own shape.
	cfg.Topic.Recreate = key != e.lastTopic
	rel := filepath.Join(HlogDir, pt.ID+"-"+name+".hlog")
	f, err := os.Create(filepath.Join(e.o.Dir, rel))
	if err != nil {
		return nil, nil, fmt.Errorf("hlog: %w", err)
	}
	if len(dur.Faults) > 0 || dur.Audit {
		dur.Dir = filepath.Join(e.o.Dir, AuditDir, pt.ID+"-"+name)
	}
	d, err := durability.Start(&cfg, dur)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	e.event(Event{Kind: RunStarted, Point: pt, Run: name, Rate: rate})
	live := bench.SinkFunc(func(iv *bench.Interval) error {
		e.event(Event{Kind: IntervalDone, Point: pt, Run: name, Rate: rate, Interval: iv})
		return nil
	})
	run := e.o.Run
	if run == nil {
		run = bench.Run
	}
	res, err := run(ctx, cfg, bench.Sinks{bench.NewHlogSink(f), live})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("hlog: %w", cerr)
	}
	// Faults are healed whatever happened, so the next run finds a healthy
	// cluster; a cluster that does not heal fails the point.
	frep, herr := d.Heal(ctx)
	if herr != nil && err == nil {
		err = herr
	}
	if res == nil {
		e.lastTopic = "" // the topic may be half made: recreate next time
		if ctx.Err() != nil {
			return nil, nil, errInterrupted
		}
		return nil, nil, err
	}
	if res.Interrupted || ctx.Err() != nil {
		return nil, nil, errInterrupted
	}
	if err != nil {
		return nil, nil, err
	}
	e.lastTopic = key
	if e.m.Cluster == nil {
		man := res.Manifest
		e.m.Cluster, e.m.CPUModel = &man, man.CPUModel
		if err := writeManifest(e.o.Dir, e.m); err != nil {
			return nil, nil, err
		}
	}
	o := observe(res, e.p.SLO)
	sum := &RunSummary{Name: name, Repeat: repeat, Target: rate, Achieved: o.Achieved, Figures: RunFigures(res),
		SLO: judge(o, e.p.SLO), Valid: res.Valid, Invalid: res.Invalid, Hlog: rel, Faults: frep}
	if d.Audits() {
		rep, err := d.Check(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, errInterrupted
			}
			return nil, nil, err
		}
		sum.Audit = rep
		sum.Figures["audit_lost"] = float64(rep.Lost)
		sum.Figures["audit_duplicated"] = float64(rep.Duplicated)
		sum.Figures["audit_unavailability_s"] = float64(rep.Unavailability)
	}
	return sum, res, nil
}
