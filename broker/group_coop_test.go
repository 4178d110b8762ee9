package broker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The test binary doubles as a consumer process that can be killed without
// leaving its group: with KBENCH_CHILD_CONSUMER=addr it joins and prints its
// partitions after every change until killed (or a minute passes).
func init() {
	if addr := os.Getenv("KBENCH_CHILD_CONSUMER"); addr != "" {
		os.Exit(runChildConsumer(addr, os.Getenv("KBENCH_CHILD_GROUP"), os.Getenv("KBENCH_CHILD_TOPIC")))
	}
}

func runChildConsumer(addr, group, topic string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := &ownership{owned: map[int32]bool{}}
	report := func(context.Context, *kgo.Client, map[string][]int32) {
		owned, _ := o.snapshot()
		fmt.Printf("OWNED %v\n", owned)
	}
	opts := append(coopOpts(group, topic), kgo.SeedBrokers(addr))
	opts = append(opts, o.opts(topic, report)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	for ctx.Err() == nil {
		cl.PollFetches(ctx)
	}
	return 0
}

// coopOpts are the consumer settings every member of the cooperative test uses.
func coopOpts(group, topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
	}
}

// ownership follows one consumer's partitions through its callbacks.
type ownership struct {
	mu     sync.Mutex
	owned  map[int32]bool
	events []string // "assigned 3", "revoked 5", "lost 1", in order
}

// opts installs the callbacks; then, if given, runs after each of them.
func (o *ownership) opts(topic string, then ...func(context.Context, *kgo.Client, map[string][]int32)) []kgo.Opt {
	apply := func(kind string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			o.mu.Lock()
			for _, p := range m[topic] {
				o.events = append(o.events, fmt.Sprintf("%s %d", kind, p))
				o.owned[p] = kind == "assigned"
			}
			o.mu.Unlock()
			for _, fn := range then {
				fn(ctx, cl, m)
			}
		}
	}
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(apply("assigned")),
		kgo.OnPartitionsRevoked(apply("revoked")),
		kgo.OnPartitionsLost(apply("lost")),
	}
}

func (o *ownership) snapshot() (owned []int32, nEvents int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, ok := range o.owned {
		if ok {
			owned = append(owned, p)
		}
	}
	slices.Sort(owned)
	return owned, len(o.events)
}

func (o *ownership) eventsSince(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events[n:])
}

// TestGroupCooperativeKill: four cooperative-sticky consumers share eight
// partitions; one (a separate process) is SIGKILLed, so it never leaves. After
// its 6 s session times out its two partitions move to the survivors, and no
// survivor ever gives up a partition it had.
func TestGroupCooperativeKill(t *testing.T) {
	b := startBroker(t) // default group settings: 3 s initial delay, 6 s minimum session
	ctx := testCtx(t, 60*time.Second)
	const topic, group = "coop", "coop-group"
	createTopic(ctx, t, b, topic, 8)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "KBENCH_CHILD_CONSUMER="+b.Addr(), "KBENCH_CHILD_GROUP="+group, "KBENCH_CHILD_TOPIC="+topic)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	var childMu sync.Mutex
	var childOwned []int32
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "OWNED "); ok {
				var ps []int32
				for _, f := range strings.Fields(strings.Trim(rest, "[]")) {
					var p int32
					fmt.Sscan(f, &p)
					ps = append(ps, p)
				}
				childMu.Lock()
				childOwned = ps
				childMu.Unlock()
			}
		}
	}()

	survivors := make([]*ownership, 3)
	for i := range survivors {
		o := &ownership{owned: map[int32]bool{}}
		survivors[i] = o
		cl := newClient(t, b, append(coopOpts(group, topic), o.opts(topic)...)...)
		go func() {
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
	}

	// Steady state: every member, the child included, owns two partitions.
	var before [][]int32
	var marks []int
	for {
		before, marks = nil, nil
		seen := map[int32]bool{}
		steady := true
		for _, o := range survivors {
			owned, n := o.snapshot()
			before, marks = append(before, owned), append(marks, n)
			steady = steady && len(owned) == 2
			for _, p := range owned {
				seen[p] = true
			}
		}
		childMu.Lock()
		steady = steady && len(childOwned) == 2 && len(seen) == 6
		for _, p := range childOwned {
			steady = steady && !seen[p]
		}
		childMu.Unlock()
		if steady && describeGroup(t, b, group).State == "Stable" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("group never settled: survivors own %v, child %v", before, childOwned)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("settled: survivors own %v, child owns %v", before, childOwned)

	killed := time.Now()
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	var after [][]int32
	for {
		after = nil
		total := 0
		for _, o := range survivors {
			owned, _ := o.snapshot()
			after = append(after, owned)
			total += len(owned)
		}
		if total == 8 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the killed consumer's partitions never moved: survivors own %v", after)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("kill -9 → reassignment: %.2f s (session timeout 6 s, heartbeat 500 ms); survivors now own %v", took.Seconds(), after)
	if took < 5*time.Second {
		t.Fatalf("reassigned %v after the kill, before the 6 s session could expire", took)
	}
	got := map[int32]int{}
	for i, o := range survivors {
		for _, e := range o.eventsSince(marks[i]) {
			if !strings.HasPrefix(e, "assigned ") {
				t.Errorf("survivor %d: %q after the kill; a survivor must not give up partitions", i, e)
			}
		}
		for _, p := range before[i] {
			if !slices.Contains(after[i], p) {
				t.Errorf("survivor %d lost partition %d (had %v, has %v)", i, p, before[i], after[i])
			}
		}
		for _, p := range after[i] {
			got[p]++
		}
	}
	for p := int32(0); p < 8; p++ {
		if got[p] != 1 {
			t.Errorf("partition %d owned by %d survivors, want 1", p, got[p])
		}
	}
	if d := describeGroup(t, b, group); d.State != "Stable" || len(d.Members) != 3 {
		t.Errorf("group after the kill: %s with %d members, want Stable with 3", d.State, len(d.Members))
	}
}

// TestGroupStaticFranzRestart: a franz-go static member (group.instance.id)
// closes without leaving and restarts; it gets its old partitions back in
// the same generation and the other members see no rebalance at all.
func TestGroupStaticFranzRestart(t *testing.T) {
	b := startBroker(t)
	b.groups.configure(func(s *groupSettings) { s.initialDelay = 500 * time.Millisecond })
	ctx := testCtx(t, 40*time.Second)
	const topic, group = "static-fr", "static-fr-group"
	createTopic(ctx, t, b, topic, 6)
	start := func(instance string) (*ownership, *kgo.Client) {
		o := &ownership{owned: map[int32]bool{}}
		opts := append(coopOpts(group, topic), kgo.InstanceID(instance))
		cl := newClient(t, b, append(opts, o.opts(topic)...)...)
		go func() {
			for ctx.Err() == nil && !isClosed(cl) {
				cl.PollFetches(ctx)
			}
		}()
		return o, cl
	}
	members := map[string]*ownership{}
	var s2 *kgo.Client
	for _, id := range []string{"s1", "s2", "s3"} {
		o, cl := start(id)
		members[id] = o
		if id == "s2" {
			s2 = cl
		}
	}
	settled := func() bool {
		for _, o := range members {
			if owned, _ := o.snapshot(); len(owned) != 2 {
				return false
			}
		}
		return describeGroup(t, b, group).State == "Stable"
	}
	for !settled() {
		if ctx.Err() != nil {
			t.Fatalf("static group never settled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	gen := b.groups.generationOf(group)
	old2, _ := members["s2"].snapshot()
	_, mark1 := members["s1"].snapshot()
	_, mark3 := members["s3"].snapshot()

	s2.Close() // static: no LeaveGroup
	o2, _ := start("s2")
	for {
		if owned, _ := o2.snapshot(); len(owned) == 2 {
			if !slices.Equal(owned, old2) {
				t.Fatalf("restarted static member got %v, had %v", owned, old2)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("restarted static member never got its partitions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Give a (wrong) rebalance time to show itself.
	time.Sleep(1500 * time.Millisecond)
	if ev := members["s1"].eventsSince(mark1); len(ev) != 0 {
		t.Fatalf("s1 saw %v during the static restart, want nothing", ev)
	}
	if ev := members["s3"].eventsSince(mark3); len(ev) != 0 {
		t.Fatalf("s3 saw %v during the static restart, want nothing", ev)
	}
	if g := b.groups.generationOf(group); g != gen {
		t.Fatalf("generation %d after the static restart, want %d (no rebalance)", g, gen)
	}
	if d := describeGroup(t, b, group); d.State != "Stable" || len(d.Members) != 3 {
		t.Fatalf("group: %s with %d members, want Stable with 3", d.State, len(d.Members))
	}
}

func isClosed(cl *kgo.Client) bool {
	select {
	case <-cl.Context().Done():
		return true
	default:
		return false
	}
}
