package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupRebalanceDeliversEveryOffset: real franz-go members of a classic
// group read a topic that is written to the whole time, while a member
// joins, that member leaves and another leaves. Each member commits what it
// polled before it gives partitions up (a blocking commit in
// OnPartitionsRevoked) and starts from the earliest offset when nothing is
// committed. Once the producer stops and the last member has caught up,
// every offset below each partition's end must have been delivered to some
// member: a skipped offset means the coordinator handed a new owner a
// committed offset beyond what was delivered, or a fetch position jumped.
func TestGroupRebalanceDeliversEveryOffset(t *testing.T) {
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"eager", kgo.RangeBalancer()}, {"cooperative", kgo.CooperativeStickyBalancer()}} {
		for _, nodes := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/brokers=%d", bal.name, nodes), func(t *testing.T) {
				checkRebalanceDelivery(t, startGroupTarget(t, nodes)[0], int16(nodes), bal.b)
			})
		}
	}
}

// startGroupTarget starts one broker or a cluster of nodes brokers, with
// no initial rebalance delay, and returns their addresses.
func startGroupTarget(t *testing.T, nodes int) []string {
	if nodes == 1 {
		b := startBroker(t)
		b.groups.configure(func(s *groupSettings) { s.initialDelay = 0 })
		return []string{b.Addr()}
	}
	tc := startCluster(t, nodes)
	for _, b := range tc.brokers {
		b.groups.configure(func(s *groupSettings) { s.initialDelay = 0 })
	}
	return tc.addrs()
}

// delivery is every offset some member delivered, per partition.
type delivery struct {
	mu  sync.Mutex
	got map[int32]map[int64]int // offset → times delivered
}

func (d *delivery) add(fs kgo.Fetches) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) {
		if d.got[r.Partition] == nil {
			d.got[r.Partition] = map[int64]int{}
		}
		d.got[r.Partition][r.Offset]++
	})
}

// missing lists, per partition, the offsets below end that nobody delivered
// (as ranges) and counts the extra deliveries.
func (d *delivery) missing(end map[int32]int64) (gaps []string, again int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p, e := range end {
		start := int64(-1)
		for o := int64(0); o <= e; o++ {
			n, ok := d.got[p][o]
			if o < e && n > 1 {
				again += n - 1
			}
			switch {
			case !ok && o < e && start < 0:
				start = o
			case (ok || o == e) && start >= 0:
				gaps = append(gaps, fmt.Sprintf("partition %d: %d..%d", p, start, o-1))
				start = -1
			}
		}
	}
	return gaps, again
}

// caughtUp says whether every partition's last offset (end-1) was delivered.
func (d *delivery) caughtUp(end map[int32]int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for p, e := range end {
		if e > 0 && d.got[p][e-1] == 0 {
			return false
		}
	}
	return true
}

func checkRebalanceDelivery(t *testing.T, addr string, rf int16, bal kgo.GroupBalancer) {
	const topic, group, parts = "rb", "rb-group", 4
	ctx := testCtx(t, 90*time.Second)
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ad := kadm.NewClient(adm)
	for {
		resp, err := ad.CreateTopic(ctx, parts, rf, nil, topic)
		if err == nil && resp.Err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create topic: %v %v", err, resp.Err)
		}
		time.Sleep(100 * time.Millisecond) // a cluster may not have all brokers registered yet
	}

	// The producer writes to every partition until stopped.
	pctx, stopProducing := context.WithCancel(ctx)
	produced := make(chan error, 1)
	go func() {
		pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
		if err != nil {
			produced <- err
			return
		}
		defer pcl.Close()
		var firstErr error
		var once sync.Once
		for i := 0; pctx.Err() == nil; i++ {
			pcl.Produce(ctx, &kgo.Record{Partition: int32(i % parts), Value: []byte("v")}, func(_ *kgo.Record, err error) {
				if err != nil {
					once.Do(func() { firstErr = err })
				}
			})
			if i%parts == parts-1 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if err := pcl.Flush(ctx); err != nil {
			produced <- err
			return
		}
		produced <- firstErr
	}()

	d := &delivery{got: map[int32]map[int64]int{}}
	var commitErrs sync.Map
	type member struct {
		cl     *kgo.Client
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(name string) *member {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Balancers(bal),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond), kgo.FetchMaxWait(100*time.Millisecond),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && !errors.Is(err, context.Canceled) {
					commitErrs.Store(name, err)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		mctx, cancel := context.WithCancel(ctx)
		m := &member{cl: cl, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(m.done)
			for mctx.Err() == nil {
				d.add(cl.PollFetches(mctx))
			}
		}()
		return m
	}
	leave := func(m *member) {
		m.cancel()
		<-m.done
		m.cl.Close() // revokes everything: commits what was polled, then leaves
	}
	delivering := func(what string) {
		t.Helper()
		d.mu.Lock()
		n := map[int32]int{}
		for p, got := range d.got {
			n[p] = len(got)
		}
		d.mu.Unlock()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			d.mu.Lock()
			grew := 0
			for p, got := range d.got {
				if len(got) > n[p] {
					grew++
				}
			}
			d.mu.Unlock()
			if grew == parts {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d of %d partitions delivered new records within 20s", what, grew, parts)
			}
		}
	}

	m0, m1 := start("m0"), start("m1")
	delivering("two members")
	m2 := start("m2")
	time.Sleep(time.Second)
	delivering("after m2 joined")
	leave(m2)
	delivering("after m2 left")
	leave(m1)
	delivering("after m1 left")
	stopProducing()
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	ends, err := ad.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { end[o.Partition] = o.Offset })
	for deadline := time.Now().Add(20 * time.Second); !d.caughtUp(end); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			break // the gaps below say what is missing
		}
	}
	leave(m0)
	commitErrs.Range(func(k, v any) bool {
		t.Errorf("member %s: commit before revoking: %v", k, v)
		return true
	})
	gaps, again := d.missing(end)
	var total int64
	for _, e := range end {
		total += e
	}
	t.Logf("%d records produced, %d delivered again", total, again)
	if len(gaps) > 0 {
		t.Fatalf("offsets produced but delivered to no member: %v", gaps)
	}
}
