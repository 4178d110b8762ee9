package measure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench/rebalance"
)

// Options configure a measurement of one group.
type Options struct {
	Bootstrap []string
	Topic     string // exists, with Partitions partitions
	Group     string
	Protocol  rebalance.Protocol
	Members   int
	Events    []rebalance.Event
	// Classic members' session timeout and heartbeat interval; consumer
	// groups get theirs from the broker (the target is started with the
	// same values).
	Session, Heartbeat time.Duration
	// Settle is the quiet time (no assignment change) that ends a
	// measurement; it must exceed the heartbeat interval.
	Settle time.Duration
	// Timeout bounds each measurement (and the group's start).
	Timeout time.Duration
	Logf    func(string, ...any)
}

// Measurement is one event's outcome.
type Measurement struct {
	Event   rebalance.Event
	Members int // group size before the event
	Outcome
	Err error // not converged within the timeout, or the event failed
}

// recorder is the history all members append to.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	h     []entry
}

func (r *recorder) add(kind entryKind, member int, partition int32, first, last int64) {
	r.mu.Lock()
	r.h = append(r.h, entry{at: time.Since(r.start), kind: kind, member: member, partition: partition, first: first, last: last})
	r.mu.Unlock()
}

// now is the time on the history's clock.
func (r *recorder) now() time.Duration { return time.Since(r.start) }

// history is the entries so far (a view that later appends do not touch).
func (r *recorder) history() []entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h[:len(r.h):len(r.h)]
}

// split returns the state just before at and the entries from at on.
func (r *recorder) split(partitions int, at time.Duration) (state, []entry) {
	h := r.history()
	i := sort.Search(len(h), func(i int) bool { return h[i].at >= at })
	s := newState(partitions)
	for _, e := range h[:i] {
		s.apply(e)
	}
	return s, h[i:]
}

// member is one consumer; cut makes its dialer fail and closes its
// connections, which is a crash as far as the broker can tell.
type member struct {
	id     int
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	cut     atomic.Bool
	crashed atomic.Bool // stays set when cut is cleared for the final Close
	mu      sync.Mutex
	conns   []net.Conn
}

func (m *member) dial(ctx context.Context, network, host string) (net.Conn, error) {
	if m.cut.Load() {
		return nil, errors.New("member crashed")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.conns = append(m.conns, c)
	m.mu.Unlock()
	return c, nil
}

func (m *member) crash() {
	m.crashed.Store(true)
	m.cut.Store(true)
	m.cancel()
	m.mu.Lock()
	for _, c := range m.conns {
		c.Close()
	}
	m.conns = nil
	m.mu.Unlock()
	<-m.done
}

// groupOpts are the options of a member of protocol p.
func (o *Options) groupOpts(p rebalance.Protocol) []kgo.Opt {
	opts := []kgo.Opt{kgo.ConsumerGroup(o.Group), kgo.ConsumeTopics(o.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(100 * time.Millisecond)}
	switch p {
	case rebalance.Eager:
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
	case rebalance.Cooperative:
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()))
	case rebalance.Consumer:
		return append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.StickyBalancer()))
	}
	return append(opts, kgo.SessionTimeout(o.Session), kgo.HeartbeatInterval(o.Heartbeat))
}

type group struct {
	o       *Options
	rec     *recorder
	parts   int
	members []*member
	nextID  int
}

func (g *group) start(ctx context.Context) (*member, error) {
	m := &member{id: g.nextID, done: make(chan struct{})}
	g.nextID++
	track := func(kind entryKind) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			if kind == revoked && !m.crashed.Load() {
				// A callback of ours replaces franz-go's default one, which
				// commits before giving partitions up; without this commit
				// the next owner resumes at an older commit or, with none,
				// at the end, and the records between are never delivered.
				// Every polled record is recorded, so all of them count as
				// delivered (a failed commit shows as records delivered
				// again). A crashed member does not commit: records it
				// polled after its crash are not recorded.
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && g.o.Logf != nil {
					g.o.Logf("member %d: commit before giving up partitions: %v", m.id, err)
				}
			}
			for _, p := range ps[g.o.Topic] {
				g.rec.add(kind, m.id, p, 0, 0)
			}
		}
	}
	opts := append(g.o.groupOpts(g.o.Protocol), kgo.SeedBrokers(g.o.Bootstrap...), kgo.Dialer(m.dial),
		kgo.OnPartitionsAssigned(track(assigned)), kgo.OnPartitionsRevoked(track(revoked)), kgo.OnPartitionsLost(track(lost)))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	mctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for mctx.Err() == nil {
			fs := cl.PollFetches(mctx)
			fs.EachPartition(func(fp kgo.FetchTopicPartition) {
				if n := len(fp.Records); n > 0 && !m.cut.Load() {
					g.rec.add(delivered, m.id, fp.Partition, fp.Records[0].Offset, fp.Records[n-1].Offset)
				}
			})
		}
	}()
	g.members = append(g.members, m)
	return m, nil
}

// stop closes m cleanly (it leaves the group).
func (g *group) stop(m *member) {
	m.cancel()
	<-m.done
	m.cl.Close()
	g.drop(m)
}

func (g *group) drop(m *member) {
	for i, x := range g.members {
		if x == m {
			g.members = append(g.members[:i], g.members[i+1:]...)
			return
		}
	}
}

// settle waits until the history from at on says done and nothing changed
// for the settle time.
func (g *group) settle(ctx context.Context, at time.Duration) (Outcome, error) {
	deadline := time.Now().Add(g.o.Timeout)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		before, after := g.rec.split(g.parts, at)
		o := check(before, after, at)
		if o.Done && g.rec.now()-o.LastChange >= g.o.Settle && g.rec.now()-(at+o.Rebalance) >= g.o.Settle {
			o.Again, o.Skipped = redelivery(g.rec.history(), at, g.parts)
			return o, nil
		}
		if time.Now().After(deadline) {
			why := o.Pending
			if o.Done {
				why = "assignments still changing"
			}
			return o, fmt.Errorf("not settled within %v: %s", g.o.Timeout, why)
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-t.C:
		}
	}
}

// Run starts the group, waits until it is steady, then causes each event in
// turn and measures it. The group and its members are gone when it returns.
func Run(ctx context.Context, o Options) ([]Measurement, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(o.Bootstrap...))
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	td, err := kadm.NewClient(adm).ListTopics(ctx, o.Topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", o.Topic, err)
	}
	parts := len(td[o.Topic].Partitions)
	if parts == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", o.Topic)
	}
	g := &group{o: &o, rec: &recorder{start: time.Now()}, parts: parts}
	defer func() {
		var wg sync.WaitGroup
		for _, m := range g.members {
			wg.Add(1)
			go func() { defer wg.Done(); m.cut.Store(false); g.stop(m) }()
		}
		wg.Wait()
	}()
	for range o.Members {
		if _, err := g.start(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := g.settle(ctx, 0); err != nil {
		return nil, fmt.Errorf("group of %d did not start: %w", o.Members, err)
	}
	// Every partition has delivered since it was assigned: commit, so that
	// the first event finds a committed offset for every partition (a
	// crashed member's partitions would otherwise start at the end if its
	// first autocommit is still to come).
	for _, m := range g.members {
		if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
			return nil, fmt.Errorf("group of %d: first commit: %w", o.Members, err)
		}
	}
	var out []Measurement
	var joined *member
	for _, ev := range o.Events {
		ms := Measurement{Event: ev, Members: len(g.members)}
		at := g.rec.now()
		switch ev {
		case rebalance.Join:
			joined, err = g.start(ctx)
		case rebalance.Leave:
			m := joined
			if m == nil {
				m = g.members[len(g.members)-1]
			}
			joined = nil
			g.stop(m)
		case rebalance.Crash:
			m := g.members[0]
			m.crash()
			g.drop(m)
			// Closed after the measurement, when it can no longer matter.
			defer func() { m.cut.Store(false); m.cl.Close() }()
		}
		if err == nil {
			ms.Outcome, err = g.settle(ctx, at)
		}
		ms.Err = err
		if o.Logf != nil {
			o.Logf("%s, %d members, %s: %v to owned and consumed again, %d moved, %d delivered again, %d skipped (%v)", o.Protocol, ms.Members, ev, ms.Rebalance.Round(time.Millisecond), ms.Moved, ms.Again, ms.Skipped, err)
		}
		out = append(out, ms)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			err = nil
			// The group is not steady: later events would measure the
			// tail of this one. Stop here.
			break
		}
	}
	return out, nil
}
