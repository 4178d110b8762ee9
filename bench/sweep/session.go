package sweep

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/kbench/kbench/profiles"
)

// ErrInterrupted is what Session.Run returns when the context ended the
// point: it is not recorded, so a resumed session runs it again.
var ErrInterrupted = errInterrupted

// Session runs points one at a time into a run directory, for a caller
// that picks each point from the results so far (kbench tune). The runs,
// files and lines are a sweep's, so reports, compare and plan read the
// directory; the manifest's profile lists the points run so far, each
// added when it starts.
type Session struct {
	e  *engine
	rw *resultsWriter
	// Lines are the finished points of earlier sessions (a resume), in
	// the order they finished.
	Lines []Line
}

// OpenSession starts a run in o.Dir for o.Profile, whose points may be
// empty (Run adds each point it runs), or with o.Resume reopens one,
// keeping its finished points.
func OpenSession(o Options) (*Session, error) {
	if o.Dir == "" {
		return nil, errors.New("sweep: no run directory")
	}
	var m *Manifest
	var prior []Line
	if o.Resume {
		var err error
		if m, err = readManifest(o.Dir, false); err != nil {
			return nil, err
		}
		if prior, err = keepLines(o.Dir, m, false); err != nil {
			return nil, err
		}
		m.Sessions++
	} else {
		if o.Profile == nil {
			return nil, errors.New("sweep: no profile")
		}
		if err := createRunDir(o.Dir, o.Profile); err != nil {
			return nil, err
		}
		m = newManifest(o.Profile, cmpOr(o.Version, "dev"), "", 0)
		m.Sessions = 1
	}
	e, rw, err := openEngine(o, m, []int{m.Profile.Base.Brokers}, time.Now(), prior)
	if err != nil {
		return nil, err
	}
	return &Session{e: e, rw: rw, Lines: prior}, nil
}

// openEngine starts a session of the run in o.Dir: it marks the manifest m
// running (its target described with the broker counts in shapes), opens
// the clusters and the results file, and counts the prior lines as done.
func openEngine(o Options, m *Manifest, shapes []int, start time.Time, prior []Line) (*engine, *resultsWriter, error) {
	p := m.Profile
	m.Target = describeTarget(p.Target.Bootstrap, shapes)
	m.Status = StatusRunning
	if err := writeManifest(o.Dir, m); err != nil {
		return nil, nil, err
	}
	cl, err := newClusters(p.Target.Bootstrap, filepath.Join(o.Dir, BrokerLogDir), o.Binary)
	if err != nil {
		return nil, nil, err
	}
	rw, err := openResults(o.Dir)
	if err != nil {
		return nil, nil, err
	}
	e := &engine{o: o, p: p, m: m, clusters: cl, progress: o.Progress, start: start, done: map[string]*Line{}, cur: -1}
	if e.progress == nil {
		e.progress = ProgressFunc(func(Event) {})
	}
	e.est, _, _ = Estimate(p)
	for i := range prior {
		e.done[prior[i].Point.ID] = &prior[i]
	}
	e.finished = len(e.done)
	return e, rw, nil
}

// Run runs pt with search in place of the profile's rate search, records
// its line and returns it. pt.ID must be new to the run, or name a point
// added by an earlier, interrupted call. A point that fails is recorded as
// failed and returned without error; ErrInterrupted means the context
// ended it and nothing was recorded.
func (s *Session) Run(ctx context.Context, pt profiles.Point, search profiles.Search) (*Line, error) {
	e := s.e
	if e.done[pt.ID] != nil {
		return nil, fmt.Errorf("sweep: point %s already ran", pt.ID)
	}
	i := slices.IndexFunc(e.p.Points, func(q profiles.Point) bool { return q.ID == pt.ID })
	exp, _ := runsOf(e.p, &pt)
	if i < 0 {
		e.p.Points = append(e.p.Points, pt)
		e.est = append(e.est, 0)
		i = len(e.p.Points) - 1
	}
	e.p.Points[i], e.est[i] = pt, time.Duration(exp)*perRun(&pt)
	e.m.Points = len(e.p.Points)
	if err := writeManifest(e.o.Dir, e.m); err != nil {
		return nil, err
	}
	saved := e.p.Search
	e.p.Search = search
	defer func() { e.p.Search = saved }()
	e.cur, e.curStart = i, time.Now()
	e.event(Event{Kind: PointStarted, Point: &e.p.Points[i]})
	line, err := e.runPoint(ctx, &e.p.Points[i])
	e.cur = -1
	if err != nil {
		return nil, err
	}
	if err := s.rw.write(line); err != nil {
		return nil, err
	}
	e.done[pt.ID] = line
	e.finished++
	e.spent += time.Since(e.curStart)
	e.estDone += e.est[i]
	e.m.Done, e.m.Failed = countStatus(e.done)
	e.m.Elapsed += profiles.Duration(time.Since(e.curStart))
	if err := writeManifest(e.o.Dir, e.m); err != nil {
		return nil, err
	}
	e.event(Event{Kind: PointFinished, Point: &e.p.Points[i], Line: line})
	return line, nil
}

// Close stops the embedded cluster and records the run as done, or as
// interrupted (resumable) when finished is false.
func (s *Session) Close(finished bool) error {
	s.e.m.Status = StatusDone
	if !finished {
		s.e.m.Status = StatusInterrupted
	}
	return errors.Join(s.rw.close(), s.e.clusters.close(), writeManifest(s.e.o.Dir, s.e.m))
}
