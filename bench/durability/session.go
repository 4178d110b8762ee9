// Package durability is one load run's durability session: a fault
// schedule (package faults, run by bench/faults/inject) and an audit
// (package audit) attached to the run's config, then, after bench.Run, the
// faults healed and the records read back. `kbench produce`/`e2e` and every sweep run use it, so the
// order is the same everywhere:
//
//	s, err := durability.Start(&cfg, opts) // after cfg.Target is set
//	res, err := bench.Run(ctx, cfg, sinks)
//	frep, err := s.Heal(ctx)                 // always, even after an error
//	arep, err := s.Check(ctx)                // reads a healed, settled cluster
//
// Hooks chain the same way for both: the fault runner is attached first,
// the audit second, so the audit's hooks wrap the runner's (the audit
// stamps a record before anything else sees it).
package durability

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/audit"
	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/bench/faults/inject"
)

// Options say what a session does.
type Options struct {
	// Faults run during the load (times after the warmup); empty for none.
	Faults faults.Schedule
	// Audit reads every acknowledged record back after the run.
	Audit bool
	// Dir receives faults.json, exec output, audit.json and
	// audit-lost.tsv; it is created when the session has work.
	Dir string
	// Logf receives a line per fault action; nil discards.
	Logf func(format string, args ...any)
}

// Session is one run's faults and audit. The zero Session (nothing asked
// for) is valid: Heal and Check do nothing.
type Session struct {
	dir    string
	faults *inject.Runner
	audit  *audit.Audit
	healed bool
	report *inject.Report
}

// FaultsError is a schedule the target cannot run (a broker it does not
// have, an action that needs the embedded cluster), so callers can name
// the flag or field it came from.
type FaultsError struct{ Err error }

func (e *FaultsError) Error() string { return e.Err.Error() }
func (e *FaultsError) Unwrap() error { return e.Err }

// Start attaches the faults and the audit to cfg, whose Target must be
// set. With neither asked for it returns an empty session.
func Start(cfg *bench.RunConfig, o Options) (*Session, error) {
	s := &Session{dir: o.Dir}
	if len(o.Faults) == 0 && !o.Audit {
		return s, nil
	}
	if cfg.Target == nil {
		return nil, errors.New("durability: the run config has no target yet")
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("durability directory: %w", err)
		}
	}
	if len(o.Faults) > 0 {
		r, err := inject.NewRunner(o.Faults, inject.Options{Cluster: inject.ClusterOf(cfg.Target), Topic: cfg.Topic.Name, Dir: o.Dir, Logf: o.Logf})
		if err != nil {
			return nil, &FaultsError{err}
		}
		r.Attach(cfg)
		s.faults = r
	}
	if o.Audit {
		s.audit = audit.New(audit.Options{Dir: o.Dir})
		if err := s.audit.Attach(cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Active reports whether the session injects faults or audits.
func (s *Session) Active() bool { return s.faults != nil || s.audit != nil }

// Dir is where the session's files go.
func (s *Session) Dir() string { return s.dir }

// Audits reports whether Check reads the records back.
func (s *Session) Audits() bool { return s.audit != nil }

// Heal undoes the faults and waits for the cluster to settle, even after
// ctx ended (the runner bounds the wait). It returns the fault record (nil
// without faults); the error says the cluster did not heal. Calling it
// again returns the first result.
func (s *Session) Heal(ctx context.Context) (*inject.Report, error) {
	if s.faults == nil || s.healed {
		return s.report, nil
	}
	s.healed = true
	rep, err := s.faults.Finish(context.WithoutCancel(ctx))
	s.report = rep
	return rep, err
}

// Check heals first if Heal was not called, then reads the topic back and
// returns the audit's report (nil without an audit).
func (s *Session) Check(ctx context.Context) (*audit.Report, error) {
	if s.audit == nil {
		return nil, nil
	}
	if _, err := s.Heal(ctx); err != nil {
		return nil, err
	}
	return s.audit.Check(ctx)
}
