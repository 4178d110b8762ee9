package verify

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/kbench/kbench/bench"
)

// scenario is a named workload: a checked workload with a scripted fault
// sequence instead of the random nemesis, and a timeline printed from its
// history (WriteTimeline).
type scenario struct {
	name     string
	workload string
	// actions are the faults it applies (an external cluster needs their
	// commands).
	actions []Action
	setup   func(c *Config)
	// start replaces the workload's start; nil: the workload's own.
	start func(ctx context.Context, e *env) (load, error)
	// drive runs the script; the load ends when it returns (or at
	// --duration); nil waits for --duration.
	drive func(ctx context.Context, e *env, l load, ex executor, stop <-chan struct{})
}

func scenarios() map[string]*scenario {
	return map[string]*scenario{
		"isr-timeline": {name: "isr-timeline", workload: "produce", actions: []Action{Kill}, setup: setupISR, drive: driveISR},
		"duplicates":   {name: "duplicates", workload: "produce", actions: []Action{DropProduce}, setup: setupDuplicates, start: startDuplicates, drive: driveDuplicates},
		"rebalance":    {name: "rebalance", workload: "queue", setup: setupRebalance, start: startRebalance, drive: driveRebalance},
		"eos":          {name: "eos", workload: "txn", setup: setupEOS, start: startEOS},
	}
}

// ScenarioActions lists the faults a named scenario applies (nil for
// other workloads).
func ScenarioActions(workload string) []Action {
	if sc := scenarios()[workload]; sc != nil {
		return sc.actions
	}
	return nil
}

// sleepOr waits d unless stop or ctx ends first.
func sleepOr(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-ctx.Done():
	}
	return false
}

// waitFor polls cond every 200 ms for up to limit.
func waitFor(ctx context.Context, stop <-chan struct{}, limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) || !sleepOr(ctx, stop, 200*time.Millisecond) {
			return false
		}
	}
	return true
}

// withProps sets props over the user's (the scenario needs them).
func withProps(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// isr-timeline: RF 3, min.insync.replicas 2, acks=all without retries, one
// partition; its followers are killed one by one until writes fail with
// NOT_ENOUGH_REPLICAS, then restarted.

func setupISR(c *Config) {
	c.Run.Topic.Partitions, c.Run.Topic.ReplicationFactor = 1, 3
	c.Run.Topic.Configs = withProps(c.Run.Topic.Configs, "min.insync.replicas", "2")
	c.Run.Producer = withProps(c.Run.Producer, "acks", "all", "enable.idempotence", "false", "retries", "0")
	c.Run.Producers = 1
}

// partState is partition 0's leader and ISR as metadata last said.
type partState struct {
	leader   int32
	replicas []int32
	isr      []int32
}

// watchISR records partition 0's leader and ISR whenever they change,
// until stop; state returns the latest.
func (e *env) watchISR(ctx context.Context, stop <-chan struct{}) (state func() partState, done func()) {
	var mu sync.Mutex
	var cur partState
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			m, err := e.adm.Metadata(mctx, e.topic)
			cancel()
			if err == nil {
				if p, ok := m.Topics[e.topic].Partitions[0]; ok && p.Err == nil {
					st := partState{leader: p.Leader, replicas: slices.Sorted(slices.Values(p.Replicas)), isr: slices.Sorted(slices.Values(p.ISR))}
					mu.Lock()
					changed := st.leader != cur.leader || !slices.Equal(st.isr, cur.isr)
					cur = st
					mu.Unlock()
					if changed {
						e.rec.Record(Op{Type: TMetadata, Proc: "observer", Topic: e.topic, Brokers: []int32{st.leader}, ISR: st.isr})
					}
				}
			}
			select {
			case <-stop:
				return
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() partState {
			mu.Lock()
			defer mu.Unlock()
			return cur
		}, func() {
			close(quit)
			wg.Wait()
		}
}

func driveISR(ctx context.Context, e *env, _ load, ex executor, stop <-chan struct{}) {
	state, done := e.watchISR(ctx, stop)
	defer done()
	if !waitFor(ctx, stop, 10*time.Second, func() bool { return len(state().isr) == 3 }) || !sleepOr(ctx, stop, e.cfg.Pause) {
		return
	}
	st := state()
	var followers []int32
	for _, r := range st.replicas {
		if r != st.leader {
			followers = append(followers, r)
		}
	}
	var killed []Step
	for _, f := range followers {
		s := Step{N: len(killed) + 1, Action: Kill, Broker: f}
		note, err := ex.apply(ctx, s, f)
		e.rec.Record(Op{Type: TFaultStart, Proc: "nemesis", Fault: fmt.Sprintf("kill follower %d", f), Brokers: []int32{f}, Note: note, Err: errString(err)})
		e.logf("killed follower %d of partition 0 (leader %d) %s", f, st.leader, errString(err))
		killed = append(killed, s)
		waitFor(ctx, stop, 20*time.Second, func() bool { return !slices.Contains(state().isr, f) })
		if !sleepOr(ctx, stop, e.cfg.Pause) {
			return // the final heal restarts them
		}
	}
	for _, s := range slices.Backward(killed) {
		err := ex.undo(ctx, s, s.Broker)
		e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: fmt.Sprintf("kill follower %d", s.Broker), Brokers: []int32{s.Broker}, Err: errString(err)})
		e.logf("restarted broker %d %s", s.Broker, errString(err))
	}
	waitFor(ctx, stop, 30*time.Second, func() bool { return len(state().isr) == len(st.replicas) })
	sleepOr(ctx, stop, e.cfg.Pause)
}

// duplicates: 30 % of produce responses dropped on every broker; half the
// run a producer without idempotence, then one with it.

func setupDuplicates(c *Config) {
	// Each phase sets enable.idempotence; the history marks its records.
	c.Run.Producer = withProps(c.Run.Producer, "acks", "all", "enable.idempotence", "false")
	c.Run.Producers = 1
}

// dupLoad runs one producer set at a time, then reads the topic back.
type dupLoad struct {
	produceLoad
	mu   sync.Mutex
	sets []*producers
}

func startDuplicates(_ context.Context, e *env) (load, error) {
	return &dupLoad{produceLoad: produceLoad{e: e}}, nil
}

// next stops the running set's sends (its records complete meanwhile)
// and makes ps the running one.
func (l *dupLoad) next(ps *producers) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.sets); n > 0 {
		l.sets[n-1].stopSending()
	}
	if ps != nil {
		l.sets = append(l.sets, ps)
	}
}

func (l *dupLoad) stopProducing() {
	l.mu.Lock()
	sets := l.sets
	l.sets = nil
	l.mu.Unlock()
	for _, ps := range sets {
		ps.stopProducing()
	}
}

func driveDuplicates(ctx context.Context, e *env, l load, ex executor, stop <-chan struct{}) {
	dl := l.(*dupLoad)
	ids := e.brokerIDs(ctx)
	var steps []Step
	for _, b := range ids {
		s := Step{N: len(steps) + 1, Action: DropProduce, Broker: b}
		if _, err := ex.apply(ctx, s, b); err != nil {
			e.logf("drop-produce on broker %d: %v", b, err)
		}
		steps = append(steps, s)
	}
	e.rec.Record(Op{Type: TFaultStart, Proc: "nemesis", Fault: fmt.Sprintf("drop %.0f%% of produce responses", stepFraction*100), Brokers: ids})
	defer func() {
		for _, s := range steps {
			_ = ex.undo(context.WithoutCancel(ctx), s, s.Broker)
		}
		e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: fmt.Sprintf("drop %.0f%% of produce responses", stepFraction*100), Brokers: ids})
	}()
	half := e.cfg.Run.Duration / 2
	for i, idem := range []bool{false, true} {
		rc := e.cfg.Run
		rc.Producer = withProps(rc.Producer, "enable.idempotence", fmt.Sprint(idem))
		if !idem {
			rc.Producer["max.in.flight.requests.per.connection"] = "5"
		}
		opts, err := rc.ClientOptions(bench.RoleProducer)
		if err != nil {
			e.logf("producer settings: %v", err)
			return
		}
		e.rec.Record(Op{Type: TPhase, Proc: fmt.Sprintf("producer-%d", i), Note: fmt.Sprintf("enable.idempotence=%v", idem)})
		e.logf("producer-%d with enable.idempotence=%v", i, idem)
		ps, err := e.startProducerSet(ctx, e.topic, opts, idem, i, 1)
		if err != nil {
			e.logf("producer: %v", err)
			return
		}
		dl.next(ps)
		if !sleepOr(ctx, stop, half-time.Second) {
			return
		}
	}
	dl.next(nil)
}

// brokerIDs lists the cluster's brokers.
func (e *env) brokerIDs(ctx context.Context) []int32 {
	m, err := e.adm.BrokerMetadata(ctx)
	if err != nil {
		return nil
	}
	return slices.Sorted(slices.Values(m.Brokers.NodeIDs()))
}

// rebalance: 4 consumers over 8 partitions with cooperative-sticky; once
// every consumer owns partitions, one is killed (its connections cut, no
// LeaveGroup, as a crash) and the group moves its partitions.

const rebalanceVictim = "consumer-3"

func setupRebalance(c *Config) {
	c.Run.Consumers, c.Run.Topic.Partitions = 4, 8
	c.Run.Consumer = withProps(c.Run.Consumer, "partition.assignment.strategy", "cooperative-sticky")
}

func startRebalance(ctx context.Context, e *env) (load, error) {
	e.cuttable = true
	return e.startQueue(ctx)
}

// cutDialer dials normally until cut, then refuses and closes what it
// opened: a consumer that crashed, as its group sees it.
type cutDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
	d     net.Dialer
}

func (c *cutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, fmt.Errorf("dial %s: consumer killed by the scenario", host)
	}
	conn, err := c.d.DialContext(ctx, network, host)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutDialer) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

func driveRebalance(ctx context.Context, e *env, l load, _ executor, stop <-chan struct{}) {
	ql := l.(*queueLoad)
	if !waitFor(ctx, stop, 60*time.Second, func() bool { return ql.owners() == e.cfg.Run.Consumers }) || !sleepOr(ctx, stop, e.cfg.Pause) {
		return
	}
	owned := ql.owned(rebalanceVictim)
	e.rec.Record(Op{Type: TFaultStart, Proc: "nemesis", Fault: "kill " + rebalanceVictim, Partitions: owned})
	e.logf("killed %s, which owned partitions %v", rebalanceVictim, owned)
	ql.kill(rebalanceVictim)
	moved := waitFor(ctx, stop, 60*time.Second, func() bool {
		for _, p := range owned {
			if ql.ownerOf(p) == "" {
				return false
			}
		}
		return true
	})
	e.rec.Record(Op{Type: TFaultStop, Proc: "nemesis", Fault: "kill " + rebalanceVictim})
	if moved {
		sleepOr(ctx, stop, e.cfg.Pause)
	}
}

// eos: the txn pipeline with one worker, whose third transaction is
// aborted on purpose; the output is read back without read_committed too.

func setupEOS(c *Config) { c.Run.Consumers = 1 }

func startEOS(ctx context.Context, e *env) (load, error) {
	e.abortTxn = 3
	return e.startTxn(ctx)
}
