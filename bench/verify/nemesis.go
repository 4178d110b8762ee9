package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/bench/faults/inject"
	"github.com/kbench/kbench/target"
)

// Action is a nemesis fault.
type Action string

// The nemesis actions. Each step applies one and undoes it half an
// interval later.
const (
	// Kill SIGKILLs a broker; healed by restarting it.
	Kill Action = "kill"
	// Pause SIGSTOPs a broker; healed by resuming it.
	Pause Action = "pause"
	// Restart kills a broker and starts it again at once.
	Restart Action = "restart"
	// Delay slows a broker's replication fetches.
	Delay Action = "delay"
	// Bandwidth caps a broker's replication fetches.
	Bandwidth Action = "bandwidth"
	// DropProduce makes a broker drop a share of its produce responses
	// after appending (the client retries: duplicates without idempotence).
	DropProduce Action = "drop-produce"
	// Leader kills the current leader of a partition; healed by restarting it.
	Leader Action = "leader"
	// Coordinator kills the group coordinator (in the txn workload the
	// transaction coordinator of the first worker); healed by restarting it.
	Coordinator Action = "coordinator"
)

// Actions lists every nemesis action in help order.
func Actions() []Action {
	return []Action{Kill, Pause, Restart, Delay, Bandwidth, DropProduce, Leader, Coordinator}
}

func actionList() string {
	var s []string
	for _, a := range Actions() {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

// ErrNemesis marks a bad --nemesis or --nemesis-cmd.
var ErrNemesis = errors.New("invalid nemesis")

// ParseNemesis reads a comma-separated action list; "" and "none" mean no
// faults.
func ParseNemesis(spec string) ([]Action, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return nil, nil
	}
	var out []Action
	for _, f := range strings.Split(spec, ",") {
		a := Action(strings.TrimSpace(f))
		if !slices.Contains(Actions(), a) {
			return nil, fmt.Errorf("%w: unknown action %q in %q: want a comma-separated list of %s (or none)", ErrNemesis, a, spec, actionList())
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Fault sizes the nemesis uses.
const (
	stepDelay     = 200 * time.Millisecond
	stepBandwidth = 256 << 10
	stepFraction  = 0.3
)

// Step is one fault of a schedule.
type Step struct {
	N      int           `json:"n"`
	At     time.Duration `json:"at"`
	Heal   time.Duration `json:"heal"`
	Action Action        `json:"action"`
	// Broker is the broker acted on; 0 for leader and coordinator, which
	// are resolved when the step runs.
	Broker int32 `json:"broker,omitempty"`
	// Partition is the partition whose leader leader kills.
	Partition int32 `json:"partition,omitempty"`
}

// Name labels the step in the history and the output.
func (s Step) Name() string {
	switch s.Action {
	case Leader:
		return fmt.Sprintf("#%d leader of partition %d", s.N, s.Partition)
	case Coordinator:
		return fmt.Sprintf("#%d coordinator", s.N)
	case Delay:
		return fmt.Sprintf("#%d delay broker %d %s", s.N, s.Broker, stepDelay)
	case Bandwidth:
		return fmt.Sprintf("#%d bandwidth broker %d 256KiB/s", s.N, s.Broker)
	case DropProduce:
		return fmt.Sprintf("#%d drop-produce broker %d %.0f%%", s.N, s.Broker, stepFraction*100)
	}
	return fmt.Sprintf("#%d %s broker %d", s.N, s.Action, s.Broker)
}

// Schedule is the seeded nemesis schedule: a step every interval (the first one
// interval after the load starts, so producers and the consumer group are
// up and committing before the first fault), each undone half an interval later,
// with the action and its broker or partition drawn from the seed. The
// same seed, actions, brokers and partitions give the same schedule.
func Schedule(seed int64, actions []Action, brokers []int32, partitions int32, interval, duration time.Duration) []Step {
	if len(actions) == 0 || len(brokers) == 0 || interval <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b62656e6368))
	var steps []Step
	for at := interval; at+interval/2 <= duration; at += interval {
		s := Step{N: len(steps) + 1, At: at, Heal: at + interval/2, Action: actions[rng.IntN(len(actions))]}
		b := brokers[rng.IntN(len(brokers))]
		p := rng.Int32N(max(partitions, 1))
		switch s.Action {
		case Leader:
			s.Partition = p
		case Coordinator:
		default:
			s.Broker = b
		}
		steps = append(steps, s)
	}
	return steps
}

// executor applies and undoes steps on one kind of cluster.
type executor interface {
	apply(ctx context.Context, s Step, broker int32) (note string, err error)
	undo(ctx context.Context, s Step, broker int32) error
	// healAll undoes everything and waits for the cluster to recover.
	healAll(ctx context.Context) (note string, err error)
}

// embeddedExec drives the embedded cluster's fault hooks.
type embeddedExec struct {
	c       *target.Cluster
	dir     string
	timeout time.Duration
}

func (e *embeddedExec) apply(_ context.Context, s Step, b int32) (string, error) {
	switch s.Action {
	case Kill, Leader, Coordinator:
		return "", e.c.Kill(b)
	case Pause:
		return "", e.c.Pause(b)
	case Restart:
		return "", e.c.Restart(b)
	case Delay:
		return "", e.c.Delay(b, stepDelay)
	case Bandwidth:
		return "", e.c.Bandwidth(b, stepBandwidth)
	case DropProduce:
		return "", e.c.DropProduce(b, stepFraction)
	}
	return "", fmt.Errorf("%w: unknown action %q", ErrNemesis, s.Action)
}

func (e *embeddedExec) undo(_ context.Context, s Step, b int32) error {
	switch s.Action {
	case Kill, Leader, Coordinator:
		return e.c.Restart(b)
	case Pause:
		return e.c.Resume(b)
	case Delay:
		return e.c.Delay(b, 0)
	case Bandwidth:
		return e.c.Bandwidth(b, 0)
	case DropProduce:
		return e.c.DropProduce(b, 0)
	}
	return nil
}

// healAll reuses the fault runner's heal: every broker running without
// faults, every partition led with a full ISR.
func (e *embeddedExec) healAll(ctx context.Context) (string, error) {
	r, err := inject.NewRunner(nil, inject.Options{Cluster: e.c, Dir: e.dir, HealTimeout: e.timeout})
	if err != nil {
		return "", err
	}
	rep, err := r.Finish(ctx)
	if rep == nil {
		return "", err
	}
	note := "nothing to undo"
	if len(rep.Heal.Actions) > 0 {
		note = strings.Join(rep.Heal.Actions, ", ")
	}
	if rep.Heal.Healthy {
		note += fmt.Sprintf("; every partition led with a full ISR after %.2fs", float64(rep.Heal.Settled))
	}
	return note, err
}

// Placeholders of --nemesis-cmd commands.
const (
	phBroker    = "{broker}"
	phDelay     = "{delay}"
	phBandwidth = "{bandwidth}"
	phFraction  = "{fraction}"
)

// CommandKeys are the names --nemesis-cmd maps: the actions that run a
// command of their own, and resume (pause's undo). Leader and coordinator
// run kill and restart.
func CommandKeys() []string {
	return []string{"kill", "restart", "pause", "resume", "delay", "bandwidth", "drop-produce"}
}

// ParseCommands reads --nemesis-cmd ACTION=COMMAND items.
func ParseCommands(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%w: --nemesis-cmd %q: want ACTION='COMMAND with {broker}'", ErrNemesis, it)
		}
		if !slices.Contains(CommandKeys(), k) {
			return nil, fmt.Errorf("%w: --nemesis-cmd %q: unknown action %q: want one of %s", ErrNemesis, it, k, strings.Join(CommandKeys(), ", "))
		}
		out[k] = unquote(v)
	}
	return out, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// needs lists the --nemesis-cmd keys an action runs.
func needs(a Action) []string {
	switch a {
	case Kill, Leader, Coordinator:
		return []string{"kill", "restart"}
	case Pause:
		return []string{"pause", "resume"}
	}
	return []string{string(a)}
}

// CheckCommands reports every action of the nemesis without a command.
func CheckCommands(actions []Action, cmds map[string]string) error {
	var missing []string
	for _, a := range actions {
		for _, k := range needs(a) {
			if _, ok := cmds[k]; !ok {
				missing = append(missing, fmt.Sprintf("%s (for %s)", k, a))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: against an external cluster every nemesis action runs a command, and these have none: %s; map them with --nemesis-cmd ACTION='COMMAND with {broker}'", ErrNemesis, strings.Join(slices.Compact(missing), ", "))
	}
	return nil
}

// commandExec runs the user's commands against an external cluster.
type commandExec struct {
	cmds    map[string]string
	dir     string
	n       int
	pending map[int32]Step // killed or paused brokers not yet undone
	// recovered waits until the cluster serves again.
	recovered func(ctx context.Context) error
}

func (e *commandExec) run(ctx context.Context, key string, b int32, value string) (string, error) {
	line := strings.ReplaceAll(e.cmds[key], phBroker, strconv.Itoa(int(b)))
	if ph, ok := map[string]string{"delay": phDelay, "bandwidth": phBandwidth, "drop-produce": phFraction}[key]; ok {
		line = strings.ReplaceAll(line, ph, value)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, "sh", "-c", line).CombinedOutput()
	e.n++
	note := "$ " + line
	if e.dir != "" {
		name := fmt.Sprintf("nemesis-%02d.log", e.n)
		if werr := os.WriteFile(filepath.Join(e.dir, name), append([]byte("$ "+line+"\n"), out...), 0o644); werr == nil {
			note += " (output in " + name + ")"
		}
	}
	if err != nil {
		return note, fmt.Errorf("%s: %w: %s", line, err, strings.TrimSpace(lastLine(out)))
	}
	return note, nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (e *commandExec) apply(ctx context.Context, s Step, b int32) (string, error) {
	switch s.Action {
	case Kill, Leader, Coordinator:
		e.pending[b] = s
		return e.run(ctx, "kill", b, "")
	case Pause:
		e.pending[b] = s
		return e.run(ctx, "pause", b, "")
	case Restart:
		return e.run(ctx, "restart", b, "")
	case Delay:
		return e.run(ctx, "delay", b, stepDelay.String())
	case Bandwidth:
		return e.run(ctx, "bandwidth", b, strconv.Itoa(stepBandwidth))
	case DropProduce:
		return e.run(ctx, "drop-produce", b, strconv.FormatFloat(stepFraction, 'g', -1, 64))
	}
	return "", fmt.Errorf("%w: unknown action %q", ErrNemesis, s.Action)
}

func (e *commandExec) undo(ctx context.Context, s Step, b int32) error {
	var err error
	switch s.Action {
	case Kill, Leader, Coordinator:
		_, err = e.run(ctx, "restart", b, "")
	case Pause:
		_, err = e.run(ctx, "resume", b, "")
	case Delay:
		_, err = e.run(ctx, "delay", b, "0s")
	case Bandwidth:
		_, err = e.run(ctx, "bandwidth", b, "0")
	case DropProduce:
		_, err = e.run(ctx, "drop-produce", b, "0")
	}
	if err == nil {
		delete(e.pending, b)
	}
	return err
}

func (e *commandExec) healAll(ctx context.Context) (string, error) {
	var did []string
	var errs []error
	ids := make([]int32, 0, len(e.pending))
	for b := range e.pending {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	for _, b := range ids {
		s := e.pending[b]
		if err := e.undo(ctx, s, b); err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, fmt.Sprintf("undid %s", s.Name()))
	}
	if len(did) == 0 {
		did = append(did, "nothing left to undo")
	}
	if err := e.recovered(ctx); err != nil {
		errs = append(errs, err)
	} else {
		did = append(did, "every partition has a leader")
	}
	return strings.Join(did, "; "), errors.Join(errs...)
}
