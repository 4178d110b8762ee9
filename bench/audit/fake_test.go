package audit_test

import (
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/audit"
)

// dropper makes a kfake cluster acknowledge one produce request without
// storing it: the broker bug the audit exists to catch.
type dropper struct {
	c     *kfake.Cluster
	after int // produce requests passed through before the drop

	mu      sync.Mutex
	seen    int
	next    map[int32]int64 // the offset the next stored record gets
	dropped []audit.LostRecord
}

func (d *dropper) control(req kmsg.Request) (kmsg.Response, error, bool) {
	pr := req.(*kmsg.ProduceRequest)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen++
	var recs []audit.LostRecord
	for _, t := range pr.Topics {
		for _, p := range t.Partitions {
			for _, id := range batchIDs(p.Records) {
				recs = append(recs, audit.LostRecord{ID: id, Partition: p.Partition})
			}
		}
	}
	if d.seen <= d.after || len(d.dropped) > 0 {
		// Let kfake store it, and track where its records land (this test
		// is the only writer, and nothing fails).
		for _, r := range recs {
			d.next[r.Partition]++
		}
		d.c.KeepControl()
		return nil, nil, false
	}
	// Acknowledge at the offsets the records would have had, store nothing.
	resp := pr.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = pr.Version
	for _, t := range pr.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.BaseOffset = d.next[p.Partition]
			rp.LogStartOffset = 0
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	within := map[int32]int64{}
	for _, r := range recs {
		r.Offset = d.next[r.Partition] + within[r.Partition] // the next stored record takes it
		within[r.Partition]++
		d.dropped = append(d.dropped, r)
	}
	d.c.KeepControl()
	return resp, nil, true
}

// batchIDs decodes the kbench-id of every record in an uncompressed
// record batch.
func batchIDs(raw []byte) []audit.ID {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil {
		return nil
	}
	var out []audit.ID
	in := b.Records
	for range b.NumRecords {
		l, n := binary.Varint(in)
		if n <= 0 || int(l)+n > len(in) {
			return out
		}
		var r kmsg.Record
		if err := r.ReadFrom(in[:n+int(l)]); err != nil {
			return out
		}
		in = in[n+int(l):]
		for _, h := range r.Headers {
			if h.Key == audit.Header {
				if _, id, err := audit.ParseID(h.Value); err == nil {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// TestFakeTargetDropsAnAcknowledgedRecord checks the audit's own
// bookkeeping: a target that acknowledges one produce request without
// storing it shows exactly those records as lost, at the offsets they were
// acknowledged at, and nothing else.
func TestFakeTargetDropsAnAcknowledgedRecord(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := &dropper{c: c, after: 40, next: map[int32]int64{}}
	c.ControlKey(int16(kmsg.Produce), d.control)
	tg, err := bench.NewExternal(strings.Join(c.ListenAddrs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{
		Mode: bench.ModeProduce, Target: tg,
		Topic: bench.TopicConfig{Name: "fake", Partitions: 2},
		// Not idempotent: kfake would reject the sequence gap the drop
		// leaves, and the client would not see a silent loss.
		Producer: map[string]string{"acks": "all", "enable.idempotence": "false", "linger.ms": "0"},
		Rate:     500, Duration: 1500 * time.Millisecond, Interval: 500 * time.Millisecond,
		Workload: bench.Workload{RecordSize: "64"},
	}
	aud := audit.New(audit.Options{Dir: t.TempDir()})
	if err := aud.Attach(&cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := bench.Run(ctx, cfg, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := aud.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	d.mu.Lock()
	dropped := d.dropped
	d.mu.Unlock()
	if len(dropped) == 0 {
		t.Fatal("the fake target dropped nothing: too few produce requests")
	}
	if rep.Lost != int64(len(dropped)) {
		t.Errorf("lost %d, want the %d records the target dropped", rep.Lost, len(dropped))
	}
	if rep.Acknowledged != rep.Sent || rep.Readable != rep.Acknowledged-int64(len(dropped)) {
		t.Errorf("sent %d, acknowledged %d, readable %d; want all acknowledged and all but %d readable", rep.Sent, rep.Acknowledged, rep.Readable, len(dropped))
	}
	if rep.Duplicated != 0 || rep.UnackedPresent != 0 {
		t.Errorf("duplicated %d, unacknowledged present %d; want 0", rep.Duplicated, rep.UnackedPresent)
	}
	got := map[audit.ID]audit.LostRecord{}
	for _, l := range rep.LostIDs {
		got[l.ID] = l
	}
	for _, want := range dropped {
		if g, ok := got[want.ID]; !ok || g != want {
			t.Errorf("dropped %s at %d@%d: listed as %+v (found %v)", want.ID, want.Partition, want.Offset, g, ok)
		}
	}
}
