package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPlanIsDeterministic(t *testing.T) {
	brokers := []int32{1, 2, 3}
	a := Schedule(7, Actions(), brokers, 6, 10*time.Second, 60*time.Second)
	b := Schedule(7, Actions(), brokers, 6, 10*time.Second, 60*time.Second)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different plans:\n%v\n%v", a, b)
	}
	if c := Schedule(8, Actions(), brokers, 6, 10*time.Second, 60*time.Second); reflect.DeepEqual(a, c) {
		t.Errorf("seeds 7 and 8 gave the same sched %v", a)
	}
	if len(a) != 5 {
		t.Fatalf("got %d steps, want 5 (at 10s, 20s, ... 50s, each healed 5s later, within 60s)", len(a))
	}
	for i, s := range a {
		if s.N != i+1 || s.At != time.Duration(i+1)*10*time.Second || s.Heal != s.At+5*time.Second {
			t.Errorf("step %d: got %+v", i, s)
		}
		switch s.Action {
		case Leader:
			if s.Partition < 0 || s.Partition >= 6 || s.Broker != 0 {
				t.Errorf("step %d: got %+v, want a partition below 6 and no broker", i, s)
			}
		case Coordinator:
			if s.Broker != 0 {
				t.Errorf("step %d: coordinator has broker %d, want it resolved at run time", i, s.Broker)
			}
		default:
			if s.Broker < 1 || s.Broker > 3 {
				t.Errorf("step %d: broker %d, want 1..3", i, s.Broker)
			}
		}
	}
	if p := Schedule(1, nil, brokers, 6, 10*time.Second, time.Minute); p != nil {
		t.Errorf("no actions: got %v", p)
	}
}

func TestParseNemesis(t *testing.T) {
	got, err := ParseNemesis(" kill, coordinator,kill ")
	if err != nil || !reflect.DeepEqual(got, []Action{Kill, Coordinator}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, spec := range []string{"", "none"} {
		if got, err := ParseNemesis(spec); err != nil || got != nil {
			t.Errorf("%q: got %v, %v, want nothing", spec, got, err)
		}
	}
	for _, spec := range []string{"kill,nuke", "Kill", "kill,,pause"} {
		if _, err := ParseNemesis(spec); !errors.Is(err, ErrNemesis) {
			t.Errorf("%q: got %v, want ErrNemesis", spec, err)
		}
	}
}

func TestCommands(t *testing.T) {
	if _, err := ParseCommands([]string{"kill=sh -c 'x {broker}'", "bogus=echo"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("unknown key: got %v", err)
	}
	cmds, err := ParseCommands([]string{"kill='echo kill {broker}'", "restart=echo restart {broker}"})
	if err != nil || cmds["kill"] != "echo kill {broker}" {
		t.Fatalf("got %v, %v", cmds, err)
	}
	err = CheckCommands([]Action{Kill, Leader, Pause, Delay}, cmds)
	for _, w := range []string{"pause (for pause)", "resume (for pause)", "delay (for delay)"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("got %v, want it to name %s", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "kill (") {
		t.Errorf("kill is mapped, yet named: %v", err)
	}
}

// The commands really run, with the placeholders replaced, and each undo
// runs the matching command.
func TestCommandExec(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	cmds := map[string]string{}
	for _, k := range CommandKeys() {
		cmds[k] = "echo " + k + " {broker} >> " + log
	}
	cmds["delay"] = "echo delay {broker} {delay} >> " + log
	recovered := 0
	ex := &commandExec{cmds: cmds, dir: dir, pending: map[int32]Step{}, recovered: func(context.Context) error { recovered++; return nil }}
	ctx := context.Background()
	for _, s := range []Step{{N: 1, Action: Kill}, {N: 2, Action: Delay}, {N: 3, Action: Pause}} {
		if _, err := ex.apply(ctx, s, 2); err != nil {
			t.Fatal(err)
		}
		if s.Action == Delay {
			if err := ex.undo(ctx, s, 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	// kill was replaced by pause on broker 2; healAll undoes what is pending.
	if _, err := ex.healAll(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "kill 2\ndelay 2 200ms\ndelay 2 0s\npause 2\nresume 2\n"
	if string(b) != want || recovered != 1 {
		t.Errorf("commands ran:\n%s\nwant:\n%s(recovered %d)", b, want, recovered)
	}
	ex.cmds["kill"] = "exit 3"
	if _, err := ex.apply(ctx, Step{Action: Kill}, 1); err == nil || !strings.Contains(err.Error(), "exit 3") {
		t.Errorf("a failing command: got %v", err)
	}
}
