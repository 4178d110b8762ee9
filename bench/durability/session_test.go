package durability

import (
	"context"
	"errors"
	"testing"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults"
)

func TestEmptySessionDoesNothing(t *testing.T) {
	cfg := bench.RunConfig{}
	s, err := Start(&cfg, Options{})
	if err != nil || s.Active() || s.Audits() || cfg.Hooks != nil {
		t.Fatalf("empty session: %v, active %v, hooks %v", err, s.Active(), cfg.Hooks)
	}
	if rep, err := s.Heal(context.Background()); rep != nil || err != nil {
		t.Errorf("heal: %v %v", rep, err)
	}
	if rep, err := s.Check(context.Background()); rep != nil || err != nil {
		t.Errorf("check: %v %v", rep, err)
	}
}

func TestFaultsTheTargetCannotRun(t *testing.T) {
	tg, err := bench.NewExternal("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	sched, err := faults.ParseFlags([]string{"1s:kill:2"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{Target: tg}
	_, err = Start(&cfg, Options{Faults: sched, Dir: t.TempDir()})
	var fe *FaultsError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FaultsError (kill needs the embedded cluster)", err)
	}
	// exec runs anywhere, and attaches the runner's hooks.
	sched, _ = faults.ParseFlags([]string{"1s:exec:true"})
	s, err := Start(&cfg, Options{Faults: sched, Dir: t.TempDir()})
	if err != nil || !s.Active() || cfg.Hooks == nil || cfg.Hooks.OnStart == nil {
		t.Fatalf("exec schedule: %v, hooks %+v", err, cfg.Hooks)
	}
	// Healing a run that never started reports the schedule as skipped.
	rep, err := s.Heal(context.Background())
	if err != nil || rep == nil || !rep.Events[0].Skipped {
		t.Fatalf("heal: %v %+v", err, rep)
	}
}
