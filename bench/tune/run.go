package tune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/profiles"
)

// File is tune.json in the run directory: the search's inputs and every
// measurement in order, so a resume replays the search and the report
// shows its path. The measurements' runs are sweep result lines in
// results.jsonl (one point per measurement: m001, m002, ...).
type File struct {
	Schema int `json:"schema"`
	// Grid is the profile expanded over the space: one point per
	// candidate. Space, Config (the start included) and Defaults (Kafka's
	// producer defaults) are as Prepare made them.
	Grid     *profiles.Profile `json:"grid"`
	Space    Space             `json:"space"`
	Config   Config            `json:"config"`
	Defaults []int             `json:"kafka_defaults"`
	// Confirm is how often the recommendation and the baselines (the
	// start and Kafka's defaults) are measured at the end, budget
	// permitting, for the gains' intervals.
	Confirm int               `json:"confirm"`
	Budget  profiles.Duration `json:"budget"`
	// Elapsed is the time spent measuring, over all sessions.
	Elapsed  profiles.Duration `json:"elapsed"`
	Sessions int               `json:"sessions"`
	Status   string            `json:"status"`         // running, interrupted, done, failed
	Stop     string            `json:"stop,omitempty"` // why the search ended
	// Ended says why the run ended when the time budget ended it, or
	// which failure stopped it (status failed).
	Ended  string   `json:"ended,omitempty"`
	Steps  []Record `json:"measurements"`     // in order
	Result *Result  `json:"result,omitempty"` // when done
}

// FileName is the tune state's file in the run directory.
const FileName = "tune.json"

// SchemaVersion of tune.json.
const SchemaVersion = 1

// Record is one measurement: which candidate, why, and what it gave.
type Record struct {
	Point  string `json:"point"` // the sweep point id in results.jsonl
	Cand   []int  `json:"candidate"`
	Label  string `json:"label"`
	Kind   string `json:"kind"` // start, explore, repeat, confirm
	Reason string `json:"reason"`
	// Value is what the search compares (max sustainable records/s, or
	// SLO headroom at a fixed rate); 0 when nothing met the SLO.
	Value float64 `json:"value"`
	// Runs counts the load-generator runs of the measurement.
	Runs    int     `json:"runs"`
	Elapsed float64 `json:"elapsed_s"`
	Failed  string  `json:"failed,omitempty"`
}

// KindConfirm marks the measurements after the search ended that tighten
// the gains' intervals.
const KindConfirm = "confirm"

// DefaultConfirm is how often the recommendation and the baselines are
// measured in the end.
const DefaultConfirm = 3

// Options configure a tune.
type Options struct {
	// Prepared is the grid to search; nil with Resume (read from Dir).
	Prepared *Prepared
	Dir      string
	Resume   bool
	// Budget bounds the time spent measuring, earlier sessions included;
	// a resume's replaces the recorded one. 0 = none.
	Budget time.Duration
	Config Config
	// Confirm: see File.Confirm; default DefaultConfirm.
	Confirm int
	// Sweep carries the client properties, version, progress, binary and
	// dialer; its Profile, Dir and Resume are set here.
	Sweep sweep.Options
	// Step, if set, hears of each measurement as it finishes.
	Step func(Record, *State)
}

// Run searches (or resumes a search) until the search stops, the budget
// is spent or ctx ends; the state is saved after every measurement. It
// returns the file as it ended; Status "interrupted" means resumable.
func Run(ctx context.Context, o Options) (*File, error) {
	f, prior, err := open(o)
	if err != nil {
		return nil, err
	}
	so := o.Sweep
	so.Dir, so.Resume = o.Dir, o.Resume
	if !o.Resume {
		base := *f.Grid
		base.Points, base.Axes = nil, nil
		base.YAML = f.Grid.YAML
		so.Profile = &base
	}
	sess, err := sweep.OpenSession(so)
	if err != nil {
		return nil, err
	}
	pr, err := prepared(f.Grid)
	if err != nil {
		return nil, errors.Join(err, sess.Close(false))
	}
	obj := objectiveOf(f.Grid)
	if f.Steps, err = f.replay(pr, obj, prior, sess.Lines); err != nil {
		return nil, errors.Join(err, sess.Close(false))
	}
	f.Sessions++
	f.Status, f.Stop, f.Ended, f.Result = "running", "", "", nil
	sessionStart, spentBefore := time.Now(), time.Duration(f.Elapsed)
	save := func() error {
		f.Elapsed = profiles.Duration(spentBefore + time.Since(sessionStart))
		return f.save(o.Dir)
	}
	finished, failed := false, false
	var runErr error
	for {
		if err := save(); err != nil {
			runErr = err
			break
		}
		ms := f.measurements()
		step, stop := f.plan(ms)
		if f.Stop == "" {
			f.Stop = stop
		}
		if step.Stop != "" {
			finished = true
			break
		}
		spent := spentBefore + time.Since(sessionStart)
		left := time.Duration(f.Budget) - spent
		if f.Budget > 0 && f.expected() > left {
			f.Ended = fmt.Sprintf("time budget: %s spent of %s, and one more measurement takes up to %s",
				spent.Round(time.Second), time.Duration(f.Budget), f.expected().Round(time.Second))
			finished = true
			break
		}
		if ctx.Err() != nil {
			break
		}
		pt := *pr.Point(step.Cand)
		pt.Index = len(f.Steps) + 1
		pt.ID = fmt.Sprintf("m%03d", pt.Index)
		started := time.Now()
		// A measurement longer than any before is cut at the budget's end.
		mctx, cancel := ctx, context.CancelFunc(func() {})
		if f.Budget > 0 {
			mctx, cancel = context.WithTimeout(ctx, left)
		}
		line, err := sess.Run(mctx, pt, f.searchFor(ms, obj))
		cancel()
		if errors.Is(err, sweep.ErrInterrupted) {
			if ctx.Err() == nil && mctx.Err() != nil {
				f.Ended = fmt.Sprintf("time budget: %s spent; %s (%s), under way when the budget ran out, was cut and is not counted",
					time.Duration(f.Budget), pt.ID, pt.Label)
				finished = true
			}
			break
		}
		if err != nil {
			runErr = err
			break
		}
		rec := Record{Point: pt.ID, Cand: step.Cand, Label: pt.Label, Kind: step.Kind, Reason: step.Reason,
			Value: obj.value(line), Runs: len(line.Runs), Elapsed: time.Since(started).Seconds(), Failed: line.Error}
		f.Steps = append(f.Steps, rec)
		if o.Step != nil {
			o.Step(rec, Assess(f.Space, f.Config, f.measurements()))
		}
		if why := configFailure(f.Space, !f.Grid.Target.Embedded(), rec.Failed); why != "" {
			f.Ended = fmt.Sprintf("%s failed: %s", rec.Point, why)
			failed = true
			break
		}
	}
	f.Status = "interrupted"
	switch {
	case failed:
		f.Status = StatusFailed
		runErr = errors.Join(runErr, &ConfigError{Point: f.Steps[len(f.Steps)-1].Point, Why: f.Ended, Failed: f.Steps[len(f.Steps)-1].Failed})
	case finished:
		f.Status = "done"
		f.Result = f.result(o.Dir)
	}
	return f, errors.Join(runErr, save(), sess.Close(finished || failed))
}

// StatusFailed is a tune stopped by a failure no candidate's settings
// change (see ConfigError); it cannot be resumed.
const StatusFailed = "failed"

// ConfigError is what Run returns when a measurement failed for a reason
// no candidate's settings change (the topic the cluster refuses, the
// credentials, an unreachable cluster): the tune stops after it.
type ConfigError struct {
	Point  string // the measurement that failed
	Why    string // what went wrong and what to change
	Failed string // the measurement's error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("the tune stopped: %s\n%s's error: %s", e.Why, e.Point, e.Failed)
}

// plan is the run's next step after ms: the search's, then, once the
// search stopped by itself, the confirmations; the step's Stop is set when
// nothing is left to measure. search is why the search stopped ("" while
// it goes on). A pure function of the file's inputs and ms.
func (f *File) plan(ms []Measurement) (step Step, search string) {
	step = Next(f.Space, f.Config, ms)
	if step.Stop == "" || step.Stop == StopBudget {
		return step, step.Stop
	}
	return f.confirmStep(ms, step.Stop), step.Stop
}

// replay rebuilds the measurements from the result lines, which are the
// truth: a measurement whose line is missing (cut short before it was
// written) is dropped and measured again; a line whose record was not saved
// (a crash right after the line) gets its record back, the step's reason
// recomputed from the search.
func (f *File) replay(pr *Prepared, obj objective, prior []Record, lines []sweep.Line) ([]Record, error) {
	byID := map[string]Record{}
	for _, r := range prior {
		byID[r.Point] = r
	}
	slices.SortFunc(lines, func(a, b sweep.Line) int { return a.Point.Index - b.Point.Index })
	var out []Record
	for i := range lines {
		l := &lines[i]
		if r, ok := byID[l.Point.ID]; ok {
			out = append(out, r)
			continue
		}
		c, err := pr.candidateOf(&l.Point)
		if err != nil {
			return nil, fmt.Errorf("resume: %s: %w", l.Point.ID, err)
		}
		f.Steps = out
		step, _ := f.plan(f.measurements())
		out = append(out, Record{Point: l.Point.ID, Cand: c, Label: l.Point.Label, Kind: step.Kind, Reason: step.Reason,
			Value: obj.value(l), Runs: len(l.Runs), Elapsed: float64(l.Elapsed), Failed: l.Error})
	}
	return out, nil
}

// open makes a new tune file or reads the one to resume.
func open(o Options) (*File, []Record, error) {
	if o.Resume {
		b, err := os.ReadFile(filepath.Join(o.Dir, FileName))
		if err != nil {
			return nil, nil, fmt.Errorf("resume: %w", err)
		}
		var f File
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, nil, fmt.Errorf("resume: %s: %w", filepath.Join(o.Dir, FileName), err)
		}
		if f.Schema != SchemaVersion {
			return nil, nil, fmt.Errorf("resume: %s: schema %d, this kbench reads %d", filepath.Join(o.Dir, FileName), f.Schema, SchemaVersion)
		}
		if f.Grid == nil || len(f.Grid.Points) == 0 {
			return nil, nil, fmt.Errorf("resume: %s has no search space", filepath.Join(o.Dir, FileName))
		}
		if f.Status == StatusFailed {
			return nil, nil, fmt.Errorf("resume: the tune in %s stopped at a failure no candidate's settings change (%s); fix it and start a new tune", o.Dir, f.Ended)
		}
		if o.Budget > 0 {
			f.Budget = profiles.Duration(o.Budget) // a resume may give more (or less) time
		}
		return &f, f.Steps, nil
	}
	pr := o.Prepared
	if pr == nil {
		return nil, nil, errors.New("tune: nothing to search")
	}
	cfg := o.Config
	cfg.Start = pr.Start
	f := &File{Schema: SchemaVersion, Grid: pr.Grid, Space: pr.Space, Config: cfg.withDefaults(), Defaults: pr.Defaults,
		Confirm: cmpInt(o.Confirm, DefaultConfirm), Budget: profiles.Duration(o.Budget)}
	return f, nil, nil
}

func cmpInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func (f *File) save(dir string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", FileName, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, FileName), append(b, '\n'), true); err != nil {
		return fmt.Errorf("write %s: %w", FileName, err)
	}
	return nil
}

// ReadFile reads a run directory's tune.json; os.ErrNotExist (wrapped)
// when the run is not a tune.
func ReadFile(dir string) (*File, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	return &f, nil
}

func (f *File) measurements() []Measurement {
	ms := make([]Measurement, len(f.Steps))
	for i, r := range f.Steps {
		ms[i] = Measurement{Cand: r.Cand, Value: r.Value}
	}
	return ms
}

// expected is how long one more measurement may take: the longest so
// far (the budget is a bound, not a target), or the sweep's estimate
// before any.
func (f *File) expected() time.Duration {
	if len(f.Steps) == 0 {
		per, _, _ := sweep.Estimate(&profiles.Profile{Search: f.Grid.Search, Repeat: 1, Points: f.Grid.Points[:1]})
		return per[0]
	}
	longest := 0.0
	for _, r := range f.Steps {
		longest = max(longest, r.Elapsed)
	}
	return time.Duration(longest * float64(time.Second))
}

// confirmStep measures the recommendation and the baselines (the start,
// Kafka's defaults) until each has Confirm measurements, the least
// measured first, so the gains get intervals; a stop when all have.
func (f *File) confirmStep(ms []Measurement, stop string) Step {
	st := Assess(f.Space, f.Config, ms)
	best := st.Best()
	if best == nil || best.Median <= 0 {
		return Step{Stop: stop, Reason: "nothing met the SLO"}
	}
	var pick []int
	least := f.Confirm
	for _, c := range [][]int{best.Cand, f.Config.Start, f.Defaults} {
		n := 0
		if s := st.measured(c); s != nil {
			n = s.N()
		}
		if n < least {
			pick, least = c, n
		}
	}
	if pick == nil {
		return Step{Stop: stop, Reason: "confirmed"}
	}
	return Step{Cand: pick, Kind: KindConfirm, Reason: fmt.Sprintf("for the gains' intervals: %s has %d of %d measurements", f.Space.Label(pick), least, f.Confirm)}
}

// searchFor is the rate search for the next measurement: after the first,
// it starts at the best median so far with a step of 1.5 instead of an
// unthrottled calibration, since most candidates land near it.
func (f *File) searchFor(ms []Measurement, obj objective) profiles.Search {
	s := f.Grid.Search
	if obj.kind != profiles.RateMaxSustainable || s.Start > 0 {
		return s
	}
	if best := Assess(f.Space, f.Config, ms).Best(); best != nil && best.Median > 0 {
		s.Start = math.Round(best.Median)
		if s.Factor == 0 || s.Factor == profiles.DefaultSearchFactor {
			s.Factor = 1.5
		}
	}
	return s
}

// objective is what a measurement's value is.
type objective struct {
	kind profiles.RateKind
	slo  profiles.SLO
}

func objectiveOf(p *profiles.Profile) objective {
	return objective{kind: p.Base.Rate.Kind, slo: p.SLO}
}

// value is a finished point's measured value: its max sustainable rate, or
// at a fixed rate the SLO's headroom (the tightest latency bound over the
// measured percentile, times the achieved share of the target, so a run
// that fell short counts less); 0 when the point failed or nothing met the
// SLO.
func (o objective) value(l *sweep.Line) float64 {
	if l.Status != sweep.PointDone {
		return 0
	}
	if o.kind == profiles.RateMaxSustainable {
		if s, ok := l.Figures["max_sustainable_rate"]; ok {
			return s.Median
		}
		return 0
	}
	h := math.Inf(1)
	for _, b := range []struct {
		limit float64
		fig   string
	}{{o.slo.P50Ms, "_p50_ms"}, {o.slo.P99Ms, "_p99_ms"}, {o.slo.P999Ms, "_p99_9_ms"}} {
		if b.limit <= 0 {
			continue
		}
		got, ok := l.Figures[o.slo.Latency+b.fig]
		if !ok || got.Median <= 0 {
			return 0
		}
		h = min(h, b.limit/got.Median)
	}
	if math.IsInf(h, 1) {
		return 0
	}
	if l.Point.Rate.PerSec > 0 {
		if a, ok := l.Figures["produce_records_per_sec"]; ok {
			h *= min(1, a.Median/l.Point.Rate.PerSec)
		}
	}
	return h
}
