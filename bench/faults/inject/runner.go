// Package inject runs a fault schedule (package faults) during a
// load-generator run: each action at its time against kbench's embedded
// cluster (target.Cluster) or, for exec actions, against any cluster. Times
// count from the end of the warmup. When the load ends the runner heals
// everything (resumes paused brokers, restarts stopped or killed ones,
// clears delays, caps and drops) and waits for the cluster to settle, so the
// durability audit reads a healthy cluster. What each action does, and
// when, is in package faults' documentation.
package inject

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults"
	"github.com/kbench/kbench/internal/units"
	"github.com/kbench/kbench/target"
)

// ReportFile is the name of the runner's report inside Options.Dir.
const ReportFile = "faults.json"

// maxInlineOutput bounds an exec action's output kept in its event when
// there is no directory to write it to.
const maxInlineOutput = 4 << 10

// Options configure a Runner.
type Options struct {
	// Cluster is the embedded cluster's fault surface
	// (target.Target.Faults()); nil for an external target, where
	// only exec actions can run.
	Cluster *target.Cluster
	// Topic is the run's topic, used by kill-leader without a topic and by
	// kill-leaders-on; default: the topic of the config Attach sees.
	Topic string
	// Dir receives faults.json and each exec action's output
	// (fault-NN-exec.log); empty keeps exec output in the events only.
	Dir string
	// HealTimeout bounds healing plus waiting for the cluster to settle,
	// and how long Finish waits for exec commands; default 60s.
	HealTimeout time.Duration
	// Logf receives a line per action; default discards.
	Logf func(format string, args ...any)
}

// Event is what one action did.
type Event struct {
	Action faults.Action `json:"action"`
	// Started is when it ran, in seconds after the end of the warmup
	// (scheduled at Action.At); Took is how long the action took.
	Started bench.Seconds `json:"started_s"`
	Took    bench.Seconds `json:"took_s"`
	// Brokers are the brokers acted on (kill-leader: the leader found).
	Brokers []int32 `json:"brokers,omitempty"`
	Note    string  `json:"note,omitempty"`
	// Output is an exec action's output file (relative to Dir), or the
	// output itself (truncated) when there is no Dir.
	Output string `json:"output,omitempty"`
	Err    string `json:"error,omitempty"`
	// Skipped actions were due after the load had ended.
	Skipped bool `json:"skipped,omitempty"`
}

// Heal is what the runner did to undo the faults.
type Heal struct {
	// Started is in seconds after the end of the warmup.
	Started bench.Seconds `json:"started_s"`
	Actions []string      `json:"actions,omitempty"`
	// Healthy is set once every broker was registered and every partition
	// had a leader and a full ISR again; Settled is how long healing and
	// settling took.
	Healthy bool          `json:"healthy"`
	Settled bench.Seconds `json:"settled_s"`
	Note    string        `json:"note,omitempty"`
	Err     string        `json:"error,omitempty"`
}

// Report is a run's fault record.
type Report struct {
	Schedule faults.Schedule `json:"schedule"`
	Events   []Event         `json:"events"`
	Heal     Heal            `json:"heal"`
}

// Runner executes a schedule during one bench.Run. Use it once: NewRunner,
// Attach to the run config, bench.Run, then Finish.
type Runner struct {
	sched faults.Schedule
	o     Options

	warmup, duration time.Duration

	ctx    context.Context // exec commands; cancelled by Finish
	cancel context.CancelFunc

	mu      sync.Mutex
	zero    time.Time // end of the warmup; zero until the run starts
	events  []Event
	heal    Heal
	endLoad *time.Timer

	stop      chan struct{} // closed when healing starts: no more actions
	schedDone chan struct{} // closed when the schedule goroutine returns
	healOnce  sync.Once
	healDone  chan struct{}
	inflight  sync.WaitGroup // actions running
	execs     sync.WaitGroup // exec commands running
}

// ClusterOf returns the fault hooks of a target that has them (the
// embedded cluster, or a type embedding it), nil otherwise.
func ClusterOf(t bench.Target) *target.Cluster {
	if f, ok := t.(interface{ Faults() *target.Cluster }); ok {
		return f.Faults()
	}
	return nil
}

// NewRunner checks the schedule against the target: actions other than
// exec need the embedded cluster.
func NewRunner(s faults.Schedule, o Options) (*Runner, error) {
	brokers := 0
	if o.Cluster != nil {
		brokers = len(o.Cluster.Brokers())
	} else if s.NeedsCluster() {
		i := slices.IndexFunc(s, faults.Action.NeedsCluster)
		return nil, fmt.Errorf("fault %s needs kbench's embedded multi-broker cluster (no --bootstrap, --brokers 2 or more); against another cluster use exec:COMMAND", s[i])
	}
	if err := s.Validate(brokers); err != nil {
		return nil, err
	}
	o.HealTimeout = cmp.Or(o.HealTimeout, 60*time.Second)
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		sched: slices.Clone(s), o: o, ctx: ctx, cancel: cancel,
		events:    make([]Event, len(s)),
		stop:      make(chan struct{}),
		schedDone: make(chan struct{}),
		healDone:  make(chan struct{}),
	}
	for i, a := range r.sched {
		r.events[i] = Event{Action: a, Skipped: true}
	}
	return r, nil
}

// Attach makes cfg's run drive the runner: the schedule starts when the
// load starts (times count from the end of its warmup) and healing starts
// when sending stops or the measured duration is over, whichever is first.
// Hooks already in cfg keep running.
func (r *Runner) Attach(cfg *bench.RunConfig) {
	r.warmup, r.duration = cfg.Warmup, cfg.Duration
	r.o.Topic = cmp.Or(r.o.Topic, cfg.Topic.Name, "kbench")
	prev := cfg.Hooks
	h := &bench.Hooks{}
	if prev != nil {
		*h = *prev
	}
	h.OnStart = func(start time.Time) {
		if prev != nil && prev.OnStart != nil {
			prev.OnStart(start)
		}
		r.begin(start)
	}
	h.OnLoadEnd = func() {
		if prev != nil && prev.OnLoadEnd != nil {
			prev.OnLoadEnd()
		}
		r.startHeal()
	}
	cfg.Hooks = h
}

// since is the time after the end of the warmup.
func (r *Runner) since(t time.Time) bench.Seconds {
	r.mu.Lock()
	zero := r.zero
	r.mu.Unlock()
	return bench.Seconds(t.Sub(zero).Seconds())
}

func (r *Runner) begin(start time.Time) {
	r.mu.Lock()
	r.zero = start.Add(r.warmup)
	if r.duration > 0 {
		r.endLoad = time.AfterFunc(time.Until(r.zero.Add(r.duration)), r.startHeal)
	}
	r.mu.Unlock()
	go r.schedule()
}

// schedule starts the actions at their times until healing starts. Each
// action runs in its own goroutine, so a slow one (a graceful stop can take
// seconds) delays no other, except that actions due at the same time on the
// same broker run in the order given.
func (r *Runner) schedule() {
	defer close(r.schedDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := 0; i < len(r.sched); {
		j := i
		for j < len(r.sched) && r.sched[j].At == r.sched[i].At {
			j++
		}
		timer.Reset(time.Until(r.zero.Add(r.sched[i].At)))
		select {
		case <-timer.C:
		case <-r.stop:
			return
		}
		for _, lane := range lanes(r.sched, i, j) {
			r.inflight.Add(1)
			go func() {
				defer r.inflight.Done()
				for _, k := range lane {
					select {
					case <-r.stop: // healing began: do not break things again
						return
					default:
					}
					r.run(k, r.sched[k])
				}
			}()
		}
		i = j
	}
}

// lanes splits the actions s[lo:hi] into lists to run one after another:
// one per broker for actions on a fixed broker, one each for the rest.
func lanes(s faults.Schedule, lo, hi int) [][]int {
	var out [][]int
	byBroker := map[int32]int{} // broker -> index in out
	for k := lo; k < hi; k++ {
		a := s[k]
		fixed := a.Broker > 0 && a.Kind != faults.KillLeader && a.Kind != faults.KillLeaders && a.Kind != faults.Exec
		if !fixed {
			out = append(out, []int{k})
			continue
		}
		if l, ok := byBroker[a.Broker]; ok {
			out[l] = append(out[l], k)
			continue
		}
		byBroker[a.Broker] = len(out)
		out = append(out, []int{k})
	}
	return out
}

func (r *Runner) run(i int, a faults.Action) {
	t0 := time.Now()
	ev := Event{Action: a, Started: r.since(t0)}
	c := r.o.Cluster
	var err error
	switch a.Kind {
	case faults.Kill:
		ev.Brokers, err = []int32{a.Broker}, c.Kill(a.Broker)
	case faults.Stop:
		ev.Brokers, err = []int32{a.Broker}, c.Stop(a.Broker)
	case faults.Pause:
		ev.Brokers, err = []int32{a.Broker}, c.Pause(a.Broker)
	case faults.Resume:
		ev.Brokers, err = []int32{a.Broker}, c.Resume(a.Broker)
	case faults.Restart:
		ev.Brokers, err = []int32{a.Broker}, c.Restart(a.Broker)
	case faults.Delay:
		ev.Brokers, err = []int32{a.Broker}, c.Delay(a.Broker, a.Delay)
	case faults.Bandwidth:
		ev.Brokers, err = []int32{a.Broker}, c.Bandwidth(a.Broker, a.Bandwidth)
	case faults.KillLeader:
		topic := cmp.Or(a.Topic, r.o.Topic)
		var leader int32
		if leader, err = c.LeaderOf(topic, a.Partition); err == nil {
			ev.Brokers, ev.Note = []int32{leader}, fmt.Sprintf("leader of %s/%d was broker %d", topic, a.Partition, leader)
			err = c.Kill(leader)
		}
	case faults.KillLeaders:
		ev.Brokers, ev.Note, err = r.killLeaders(a.Count)
	case faults.DropProduce:
		ids := []int32{a.Broker}
		if a.Broker == 0 {
			ids = nil
			for _, b := range c.Brokers() {
				if b.State == target.Running || b.State == target.Paused {
					ids = append(ids, b.ID)
				}
			}
		}
		var errs []error
		for _, id := range ids {
			errs = append(errs, c.DropProduce(id, a.Fraction))
		}
		ev.Brokers, err = ids, errors.Join(errs...)
	case faults.Exec:
		r.execs.Add(1)
		go func() {
			defer r.execs.Done()
			r.exec(i, ev, t0)
		}()
		r.o.Logf("fault %s: started", a)
		return
	}
	ev.Took = bench.Seconds(time.Since(t0).Seconds())
	if err != nil {
		ev.Err = err.Error()
	}
	r.o.Logf("fault %s: brokers %v %s (took %s) %s", a, ev.Brokers, ev.Note, time.Since(t0).Round(time.Millisecond), ev.Err)
	r.mu.Lock()
	r.events[i] = ev
	r.mu.Unlock()
}

// killLeaders kills the n brokers leading the most partitions of the run's
// topic, at once.
func (r *Runner) killLeaders(n int) ([]int32, string, error) {
	c := r.o.Cluster
	led := map[int32]int{}
	for p := int32(0); ; p++ {
		l, err := c.LeaderOf(r.o.Topic, p)
		if errors.Is(err, target.ErrUnknownTopic) {
			if p == 0 {
				return nil, "", err
			}
			break
		}
		if err == nil {
			led[l]++
		}
	}
	ids := slices.Collect(maps.Keys(led))
	slices.SortFunc(ids, func(a, b int32) int {
		if d := led[b] - led[a]; d != 0 {
			return d
		}
		return int(a - b)
	})
	ids = ids[:min(n, len(ids))]
	var notes []string
	for _, id := range ids {
		notes = append(notes, fmt.Sprintf("broker %d led %d", id, led[id]))
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Kill(id)
		}()
	}
	wg.Wait()
	note := fmt.Sprintf("partitions of %s: %s", r.o.Topic, strings.Join(notes, ", "))
	if len(ids) < n {
		note += fmt.Sprintf(" (only %d brokers led partitions)", len(ids))
	}
	return ids, note, errors.Join(errs...)
}

func (r *Runner) exec(i int, ev Event, t0 time.Time) {
	cmd := exec.CommandContext(r.ctx, "sh", "-c", ev.Action.Command)
	out, err := cmd.CombinedOutput()
	ev.Took = bench.Seconds(time.Since(t0).Seconds())
	if err != nil {
		ev.Err = err.Error()
	}
	ev.Output = string(out)
	if r.o.Dir != "" {
		name := fmt.Sprintf("fault-%02d-exec.log", i+1)
		body := fmt.Sprintf("# %s\n# exit: %s\n%s", ev.Action, cmp.Or(ev.Err, "0"), out)
		if werr := os.WriteFile(filepath.Join(r.o.Dir, name), []byte(body), 0o644); werr != nil {
			ev.Err = strings.TrimPrefix(ev.Err+"; ", "; ") + "keep output: " + werr.Error()
		} else {
			ev.Output = name
		}
	} else if len(ev.Output) > maxInlineOutput {
		ev.Output = ev.Output[len(ev.Output)-maxInlineOutput:]
	}
	r.o.Logf("fault %s: done in %s %s", ev.Action, time.Since(t0).Round(time.Millisecond), ev.Err)
	r.mu.Lock()
	r.events[i] = ev
	r.mu.Unlock()
}

// startHeal starts healing once, without blocking.
func (r *Runner) startHeal() {
	r.healOnce.Do(func() {
		close(r.stop)
		go r.doHeal()
	})
}

func (r *Runner) doHeal() {
	defer close(r.healDone)
	r.mu.Lock()
	started := !r.zero.IsZero()
	if r.endLoad != nil {
		r.endLoad.Stop()
	}
	r.mu.Unlock()
	if started {
		<-r.schedDone
		r.inflight.Wait() // actions in progress finish first
	}
	t0 := time.Now()
	h := Heal{}
	if started {
		h.Started = r.since(t0)
	}
	defer func() {
		h.Settled = bench.Seconds(time.Since(t0).Seconds())
		r.o.Logf("faults healed in %s: %v %s", time.Since(t0).Round(time.Millisecond), h.Actions, h.Err)
		r.mu.Lock()
		r.heal = h
		r.mu.Unlock()
	}()
	c := r.o.Cluster
	if c == nil {
		h.Note = "external cluster: nothing to heal (schedule recovery with exec actions)"
		return
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, b := range c.Brokers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			did, err := healBroker(c, b)
			mu.Lock()
			defer mu.Unlock()
			h.Actions = append(h.Actions, did...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(h.Actions)
	ctx, cancel := context.WithTimeout(context.Background(), r.o.HealTimeout)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		errs = append(errs, err)
	} else {
		h.Healthy = true
	}
	switch err := errors.Join(errs...); {
	case err == nil:
	case errors.Is(err, target.ErrClosed):
		// Ctrl-C shuts the embedded cluster down with the run.
		h.Note = "the cluster was shut down (the run was interrupted): nothing left to heal"
	default:
		h.Err = err.Error()
	}
}

// healBroker brings one broker back to a running process without faults.
func healBroker(c *target.Cluster, b target.BrokerInfo) ([]string, error) {
	var did []string
	switch b.State {
	case target.Running:
	case target.Paused:
		if err := c.Resume(b.ID); err != nil {
			return did, fmt.Errorf("heal: resume broker %d: %w", b.ID, err)
		}
		did = append(did, fmt.Sprintf("resumed broker %d", b.ID))
	default:
		// A new process starts without faults.
		if err := c.Restart(b.ID); err != nil {
			return did, fmt.Errorf("heal: restart broker %d (%s): %w", b.ID, b.State, err)
		}
		return append(did, fmt.Sprintf("restarted broker %d (%s)", b.ID, b.State)), nil
	}
	var errs []error
	if b.DelayNs != 0 {
		errs = append(errs, c.Delay(b.ID, 0))
		did = append(did, fmt.Sprintf("cleared the %s delay on broker %d", b.DelayNs, b.ID))
	}
	if b.Bandwidth != 0 {
		errs = append(errs, c.Bandwidth(b.ID, 0))
		did = append(did, fmt.Sprintf("removed the %s/s cap on broker %d", units.FormatBytesExact(b.Bandwidth), b.ID))
	}
	if b.DropProduce != 0 {
		errs = append(errs, c.DropProduce(b.ID, 0))
		did = append(did, fmt.Sprintf("stopped dropping produce responses on broker %d", b.ID))
	}
	if err := errors.Join(errs...); err != nil {
		return did, fmt.Errorf("heal: broker %d: %w", b.ID, err)
	}
	return did, nil
}

// Finish heals (if the run has not started healing already), waits for the
// cluster to settle and for exec commands, writes faults.json to Dir and
// returns the record. The error says the cluster did not heal; the report
// is complete either way.
func (r *Runner) Finish(ctx context.Context) (*Report, error) {
	r.startHeal()
	defer r.cancel()
	select {
	case <-r.healDone:
	case <-ctx.Done():
		return nil, fmt.Errorf("faults: waiting for the cluster to heal: %w", ctx.Err())
	}
	execsDone := make(chan struct{})
	go func() {
		r.execs.Wait()
		close(execsDone)
	}()
	wait := time.NewTimer(r.o.HealTimeout)
	defer wait.Stop()
	select {
	case <-execsDone:
	case <-wait.C:
		r.cancel() // kills commands still running; their events say so
		<-execsDone
	case <-ctx.Done():
		r.cancel()
		<-execsDone
	}
	r.mu.Lock()
	rep := &Report{Schedule: slices.Clone(r.sched), Events: slices.Clone(r.events), Heal: r.heal}
	r.mu.Unlock()
	var errs []error
	if rep.Heal.Err != "" {
		errs = append(errs, errors.New("faults: "+rep.Heal.Err))
	}
	if r.o.Dir != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(filepath.Join(r.o.Dir, ReportFile), append(b, '\n'), 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("faults: write report: %w", err))
		}
	}
	return rep, errors.Join(errs...)
}
