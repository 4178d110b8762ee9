package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

// CoordinatorOptions configure a coordinator.
type CoordinatorOptions struct {
	// Conn connects to the cluster holding the control topic.
	Conn []kgo.Opt
	// Topic is the control topic (default DefaultTopic).
	Topic string
	// Count is how many agents a run uses; Names, if set, names them
	// (and Count is len(Names)).
	Count int
	Names []string
	// Wait bounds how long a run waits for its agents (default 60 s).
	Wait time.Duration
	// StartIn is how far ahead of the run message the common start time
	// lies, for agents to connect their clients (default 3 s).
	StartIn time.Duration
	// Log receives a line per event (nil: discarded).
	Log io.Writer
}

// Coordinator hands runs out to agents and merges what they measured. Its
// Run has bench.Run's signature, so callers treat a run spread over agents
// like a local one.
type Coordinator struct {
	o    CoordinatorOptions
	ctl  *control
	name string
	// seen is when each agent last spoke, and what it said (coordinator
	// goroutine only: Run is not concurrent).
	seen map[string]message
	last map[string]time.Time
}

// ParseAgents reads --agents: a count ("3") or names ("a1,a2").
func ParseAgents(s string) (count int, names []string, err error) {
	if s == "" {
		return 0, nil, nil
	}
	if count, err := strconv.Atoi(s); err == nil {
		if count < 1 {
			return 0, nil, fmt.Errorf("--agents %s: want a count of at least 1 or agent names (a1,a2)", s)
		}
		return count, nil, nil
	}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || slices.Contains(names, n) {
			return 0, nil, fmt.Errorf("--agents %q: want a count or distinct, non-empty agent names separated by commas", s)
		}
		names = append(names, n)
	}
	return len(names), names, nil
}

// NewCoordinator joins the control topic.
func NewCoordinator(ctx context.Context, o CoordinatorOptions) (*Coordinator, error) {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Wait == 0 {
		o.Wait = 60 * time.Second
	}
	if o.StartIn == 0 {
		o.StartIn = 3 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if len(o.Names) > 0 {
		o.Count = len(o.Names)
	}
	if o.Count < 1 {
		return nil, errors.New("coordinator: want at least one agent")
	}
	name := fmt.Sprintf("%s%08x", coordinatorPrefix, rand.Uint32())
	ctl, err := dialControl(ctx, o.Conn, o.Topic, name)
	if err != nil {
		return nil, err
	}
	return &Coordinator{o: o, ctl: ctl, name: name, seen: map[string]message{}, last: map[string]time.Time{}}, nil
}

// Close leaves the control topic.
func (c *Coordinator) Close() { c.ctl.close() }

func (c *Coordinator) logf(format string, args ...any) {
	fmt.Fprintf(c.o.Log, "agents: %s\n", fmt.Sprintf(format, args...))
}

// coordinatorPrefix starts every coordinator's name (no agent's).
const coordinatorPrefix = "coordinator-"

// isAgent tells agents' messages from other coordinators'.
func isAgent(m message) bool { return !strings.HasPrefix(m.From, coordinatorPrefix) }

func (c *Coordinator) note(m message) {
	if isAgent(m) {
		c.last[m.From] = time.Now()
		if m.Kind == kindBeat {
			c.seen[m.From] = m
		}
	}
}

// pick waits for enough live, idle agents and returns their names, sorted.
func (c *Coordinator) pick(ctx context.Context) ([]string, error) {
	deadline := time.Now().Add(c.o.Wait)
	for {
		var idle []string
		for name, m := range c.seen {
			if time.Since(c.last[name]) < 2*Beat+time.Second && m.Busy == "" {
				idle = append(idle, name)
			}
		}
		sort.Strings(idle)
		if len(c.o.Names) > 0 {
			var missing []string
			for _, n := range c.o.Names {
				if !slices.Contains(idle, n) {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				return slices.Clone(c.o.Names), nil
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("waited %v for agents %s on control topic %s: %s not idle and alive (heard: %s)",
					c.o.Wait, strings.Join(c.o.Names, ","), c.o.Topic, strings.Join(missing, ","), c.heard())
			}
		} else {
			if len(idle) >= c.o.Count {
				return idle[:c.o.Count], nil
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("waited %v for %d idle agents on control topic %s, found %d (heard: %s); start them with kbench agent --bootstrap pointing at the same cluster",
					c.o.Wait, c.o.Count, c.o.Topic, len(idle), c.heard())
			}
		}
		msgs, err := c.ctl.poll(ctx, 250*time.Millisecond)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			c.logf("%v", err)
		}
		for _, m := range msgs {
			c.note(m)
		}
	}
}

// heard lists the agents heard so far, for error messages.
func (c *Coordinator) heard() string {
	if len(c.seen) == 0 {
		return "none"
	}
	var out []string
	for name, m := range c.seen {
		s := fmt.Sprintf("%s %.0fs ago", name, time.Since(c.last[name]).Seconds())
		if m.Busy != "" {
			s += " busy with " + m.Busy
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// split returns n shares of total, the first ones larger by one; every
// share is at least min.
func split(total, n, least int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = max(total/n+btoi(i < total%n), least)
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shares turns the whole run's config into one per agent: producers,
// consumers, rate and record counts split, every agent with at least one
// producer and one consumer where the mode uses them.
func shares(cfg bench.RunConfig, agents []string, start time.Time) map[string]bench.RunConfig {
	n := len(agents)
	prods := split(max(cfg.Producers, 1), n, 1)
	cons := split(max(cfg.Consumers, 1), n, 1)
	var allProds, allCons int
	for i := range n {
		allProds += prods[i]
		allCons += cons[i]
	}
	out := map[string]bench.RunConfig{}
	first := 0
	for i, name := range agents {
		s := cfg
		s.Target, s.Hooks, s.Dial, s.Client = nil, nil, nil, portable(cfg.Client)
		s.Topic.Recreate = false
		s.Producers, s.Consumers = prods[i], cons[i]
		frac := float64(prods[i]) / float64(allProds)
		s.Rate = cfg.Rate * frac
		s.NumRecords = int64(float64(cfg.NumRecords) * frac)
		s.Prefill = int64(float64(cfg.Prefill) * frac)
		s.Share = &bench.Share{Agent: name, Stamp: rand.Uint64() | 1, Start: start, FirstConsumer: first, Consumers: allCons}
		first += cons[i]
		out[name] = s
	}
	for _, a := range agents {
		for _, b := range agents {
			if a != b {
				out[a].Share.Peers = append(out[a].Share.Peers, out[b].Share.Stamp)
			}
		}
	}
	return out
}

// portable keeps the client properties that may travel to agents: not
// the connection and security ones, which each agent has its own of.
func portable(props map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		switch {
		case k == "bootstrap.servers", k == "security.protocol", strings.HasPrefix(k, "sasl."), strings.HasPrefix(k, "ssl."):
		default:
			out[k] = v
		}
	}
	return out
}

// PerRecord reports whether cfg has hooks that must see every record (the
// durability audit): those cannot run on agents.
func PerRecord(cfg bench.RunConfig) bool {
	h := cfg.Hooks
	return h != nil && (h.BeforeProduce != nil || h.OnAck != nil || h.OnConsume != nil)
}

// Check reports what a run spread over agents cannot do.
func Check(cfg bench.RunConfig) error {
	if PerRecord(cfg) {
		return errors.New("the durability audit needs every record's acknowledgement in one process: run it without agents")
	}
	if cfg.Prefill > 0 {
		return errors.New("--prefill with agents would race the agents' consumers: write the records first (kbench produce), then consume")
	}
	if cfg.Backlog > 0 {
		return errors.New("a backlog run needs all its consumers in one process: run it without agents")
	}
	if cfg.Consumer["group.id"] != "" {
		return errors.New("consumers of a group (group.id) cannot be split over agents yet: leave the group out and partitions are assigned to the agents' consumers directly")
	}
	if cfg.Dial != nil {
		return errors.New("a custom dialer cannot travel to agents")
	}
	return nil
}

// runState is one run's progress on the coordinator.
type runState struct {
	id        string
	agents    []string
	results   map[string]*bench.Result
	loaded    map[string]bool
	flushed   map[string]bool
	intervals map[int]map[string]*bench.Interval
	emitted   int // intervals before this index were emitted
	merged    []*bench.Interval
	sink      bench.Sink
	sinkErr   error
}

// Run spreads one run over the agents and returns the merged result, as
// bench.Run does for a local run: intervals reach sink merged over the
// agents, faults (cfg.Hooks OnStart and OnLoadEnd) run here. A dead or
// silent agent fails the run naming it; Ctrl-C (ctx) stops every agent
// and still returns their merged, interrupted result.
func (c *Coordinator) Run(ctx context.Context, cfg bench.RunConfig, sink bench.Sink) (*bench.Result, error) {
	if err := Check(cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		sink = bench.Sinks{}
	}
	agents, err := c.pick(ctx)
	if err != nil {
		return nil, err
	}
	// The topic is made (or remade) once, here, so agents never race.
	if _, err := bench.PrepareTopic(ctx, cfg); err != nil {
		return nil, err
	}
	start := time.Now().Add(c.o.StartIn)
	st := &runState{
		id: fmt.Sprintf("%s-%d", c.name, time.Now().UnixMilli()), agents: agents,
		results: map[string]*bench.Result{}, loaded: map[string]bool{}, flushed: map[string]bool{},
		intervals: map[int]map[string]*bench.Interval{}, sink: sink,
	}
	sh := shares(cfg, agents, start)
	for _, a := range agents {
		s := sh[a]
		var parts []string
		if cfg.Mode != bench.ModeConsume {
			rate := "as fast as possible"
			if s.Rate > 0 {
				rate = fmt.Sprintf("%.0f records/s", s.Rate)
			}
			parts = append(parts, fmt.Sprintf("%d producers at %s", s.Producers, rate))
		}
		if cfg.Mode != bench.ModeProduce {
			parts = append(parts, fmt.Sprintf("%d consumers (partitions p with p mod %d in %d..%d)",
				s.Consumers, s.Share.Consumers, s.Share.FirstConsumer, s.Share.FirstConsumer+s.Consumers-1))
		}
		c.logf("%s: %s", a, strings.Join(parts, ", "))
	}
	msg := message{Kind: kindRun, Run: st.id, Spec: &spec{Bootstrap: cfg.Target.Bootstrap(), Shares: sh}}
	if err := c.ctl.send(ctx, msg); err != nil {
		return nil, err
	}
	c.logf("run %s on %s, common start %s", st.id, strings.Join(agents, ","), start.Format("15:04:05.000"))

	// Beat while the run goes on, so agents know the coordinator lives.
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(Beat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = c.ctl.send(beatCtx, message{Kind: kindBeat, Run: st.id})
			case <-beatCtx.Done():
				return
			}
		}
	}()
	defer func() {
		stopBeat()
		wg.Wait()
	}()

	hooks := cfg.Hooks
	if hooks != nil && hooks.OnStart != nil {
		t := time.AfterFunc(time.Until(start), func() { hooks.OnStart(start) })
		defer t.Stop()
	}
	loadEnded := false
	endLoad := func() {
		if !loadEnded && hooks != nil && hooks.OnLoadEnd != nil {
			hooks.OnLoadEnd()
		}
		loadEnded = true
	}
	defer endLoad()

	for _, a := range agents {
		c.last[a] = time.Now() // silence counts from the run message
	}
	// The whole run is bounded: its schedule, then the agents' own bounded
	// waits for acknowledgements (up to delivery.timeout.ms, 2 minutes by
	// default) and for the drain, with a margin for slow machines. Dead
	// agents are caught much sooner, by their silence.
	limit := c.o.StartIn + cfg.Warmup + cfg.Duration + 2*cmp.Or(cfg.DrainTimeout, 10*time.Second) + 5*time.Minute
	if cfg.Duration == 0 {
		limit = 24 * time.Hour // a --num-records run: silence still bounds it
	}
	deadline := time.Now().Add(limit)
	var stopped time.Time
	stop := func(why string) {
		if stopped.IsZero() {
			stopped = time.Now()
			c.logf("stopping run %s: %s", st.id, why)
			_ = c.ctl.send(context.Background(), message{Kind: kindStop, Run: st.id, Error: why})
		}
	}
	for len(st.results) < len(agents) {
		if ctx.Err() != nil {
			stop("interrupted")
			if time.Since(stopped) > 20*time.Second {
				return nil, fmt.Errorf("interrupted; no result within 20 s from agents %s", strings.Join(st.missing(), ","))
			}
		}
		if time.Now().After(deadline) {
			stop("time limit")
			return nil, fmt.Errorf("run %s: no result from agents %s within %v", st.id, strings.Join(st.missing(), ","), limit)
		}
		for _, a := range st.missing() {
			if quiet := time.Since(c.last[a]); quiet > Silence {
				stop("agent " + a + " went silent")
				return nil, fmt.Errorf("agent %s went silent: nothing heard from it for %.1f s during run %s (it died, or lost its connection to the cluster)", a, quiet.Seconds(), st.id)
			}
		}
		msgs, err := c.ctl.poll(context.WithoutCancel(ctx), 250*time.Millisecond)
		if err != nil {
			c.logf("%v", err)
		}
		for _, m := range msgs {
			c.note(m)
			if m.Run != st.id || !slices.Contains(agents, m.From) {
				continue
			}
			switch m.Kind {
			case kindFailed:
				stop("agent " + m.From + " failed")
				return nil, fmt.Errorf("agent %s: %s", m.From, m.Error)
			case kindInterval:
				iv, err := m.Interval.interval()
				if err != nil {
					stop("bad interval")
					return nil, fmt.Errorf("agent %s: %w", m.From, err)
				}
				st.interval(m.From, iv)
			case kindLoaded:
				st.loaded[m.From] = true
				if len(st.loaded) == len(agents) {
					endLoad()
				}
			case kindFlushed:
				st.flushed[m.From] = true
				if len(st.flushed) == len(agents) {
					_ = c.ctl.send(ctx, message{Kind: kindDrain, Run: st.id})
				}
			case kindResult:
				if m.Result == nil {
					return nil, fmt.Errorf("agent %s: result message without a result", m.From)
				}
				st.results[m.From] = m.Result
			}
		}
	}
	endLoad()
	st.flush()
	parts := make([]bench.AgentResult, 0, len(agents))
	for _, a := range agents {
		parts = append(parts, bench.AgentResult{Name: a, Host: c.seen[a].Host, Result: st.results[a]})
	}
	res, err := bench.MergeResults(cfg, parts, st.merged)
	if err != nil {
		return nil, err
	}
	return res, st.sinkErr
}

func (st *runState) missing() []string {
	var out []string
	for _, a := range st.agents {
		if st.results[a] == nil {
			out = append(out, a)
		}
	}
	return out
}

// interval keeps an agent's interval and emits every index all agents
// have reported, in order. Final intervals wait for flush.
func (st *runState) interval(agent string, iv *bench.Interval) {
	if iv.Final {
		iv.Index = -1
	}
	if st.intervals[iv.Index] == nil {
		st.intervals[iv.Index] = map[string]*bench.Interval{}
	}
	st.intervals[iv.Index][agent] = iv
	for {
		got := st.intervals[st.emitted]
		if len(got) < len(st.agents) {
			return
		}
		st.emit(got, false)
		delete(st.intervals, st.emitted)
		st.emitted++
	}
}

// flush emits what is left once every result is in: intervals some agent
// did not report (it ended a tick earlier) and the merged final one.
func (st *runState) flush() {
	var idx []int
	for i := range st.intervals {
		if i >= st.emitted {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	for _, i := range idx {
		st.emit(st.intervals[i], false)
	}
	if fin := st.intervals[-1]; len(fin) > 0 {
		st.emit(fin, true)
	}
}

func (st *runState) emit(byAgent map[string]*bench.Interval, final bool) {
	ivs := make([]*bench.Interval, 0, len(byAgent))
	for _, a := range st.agents {
		if iv := byAgent[a]; iv != nil {
			ivs = append(ivs, iv)
		}
	}
	m := bench.MergeIntervals(ivs)
	m.Index, m.Final = len(st.merged), final
	st.merged = append(st.merged, m)
	if err := st.sink.Interval(m); err != nil && st.sinkErr == nil {
		st.sinkErr = fmt.Errorf("sink: %w", err)
	}
}
