package audit

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

func TestIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		run uint64
		id  ID
	}{
		{1, ID{0, 0}},
		{0xdeadbeefcafef00d, ID{3, 1_000_000}},
		{^uint64(0), ID{1 << 20, ^uint64(0)}},
	} {
		b := AppendID(nil, tc.run, tc.id)
		run, id, err := ParseID(b)
		if err != nil || run != tc.run || id != tc.id {
			t.Errorf("ParseID(AppendID(%x, %v)) = %x, %v, %v; want %x, %v", tc.run, tc.id, run, id, err, tc.run, tc.id)
		}
	}
	if n := len(AppendID(nil, 7, ID{0, 1_000_000})); n != 12 {
		t.Errorf("id of producer 0, sequence 1e6: %d bytes, want 12", n)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, append(AppendID(nil, 1, ID{1, 2}), 0), AppendID(nil, 1, ID{1, 300})[:10]} {
		if _, _, err := ParseID(bad); !errors.Is(err, errBadID) {
			t.Errorf("ParseID(%x): err %v, want errBadID", bad, err)
		}
	}
}

func FuzzParseID(f *testing.F) {
	f.Add(AppendID(nil, 42, ID{2, 12345}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		run, id, err := ParseID(b)
		if err != nil {
			return
		}
		if again := AppendID(nil, run, id); !slices.Equal(again, b) {
			t.Fatalf("ParseID(%x) = %x %v, which encodes as %x", b, run, id, again)
		}
	})
}

// ack is one acknowledgement in a synthetic stream.
type ack struct {
	seq  uint64
	part int32
	off  int64
}

// batches makes a producer's acknowledgements the way a client delivers
// them: records spread over partitions in batches, each partition's batches
// at increasing offsets, the partitions' callbacks interleaved.
func batches(rng *rand.Rand, n uint64, parts int32, keyed bool) []ack {
	next := make([]int64, parts)
	var perPart = make([][]ack, parts)
	var seq uint64
	for seq < n {
		p := rng.Int32N(parts)
		size := 1 + rng.Uint64N(40)
		if keyed {
			size = 1
		}
		for i := uint64(0); i < size && seq < n; i++ {
			perPart[p] = append(perPart[p], ack{seq, p, next[p]})
			next[p]++
			seq++
		}
		next[p] += rng.Int64N(3) // other producers' records in between
	}
	var out []ack
	for {
		left := false
		for p := range perPart {
			k := min(len(perPart[p]), 1+rng.IntN(50))
			out = append(out, perPart[p][:k]...)
			perPart[p] = perPart[p][k:]
			left = left || len(perPart[p]) > 0
		}
		if !left {
			return out
		}
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		keyed    bool
		noOffset bool
	}{{"batched", false, false}, {"keyed", true, false}, {"acks0", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			want := batches(rng, 20000, 7, tc.keyed)
			var l ledger
			for _, a := range want {
				if tc.noOffset {
					a.off = -1
				}
				l.ack(a.seq, a.part, a.off)
			}
			var got []ack
			l.each(func(r ackRun) {
				for k := range r.n {
					off := r.off
					if off >= 0 {
						off += int64(k)
					}
					got = append(got, ack{r.seq + k, r.part, off})
				}
			})
			if tc.noOffset {
				for i := range want {
					want[i].off = -1
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("decoded %d acks, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			if l.ackedN != int64(len(want)) || l.acked.count() != int64(len(want)) {
				t.Errorf("acked %d (bitset %d), want %d", l.ackedN, l.acked.count(), len(want))
			}
		})
	}
}

func firstDiff(a, b []ack) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestLedgerMillions checks that the bookkeeping stays compact: five
// million acknowledgements in batches of 1-40 records, and one million
// lone records (keyed partitioning), with bytes per record bounded.
func TestLedgerMillions(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		n      uint64
		keyed  bool
		maxPer float64
	}{{"batched-5M", 5_000_000, false, 1.0}, {"keyed-1M", 1_000_000, true, 8.0}} {
		t.Run(tc.name, func(t *testing.T) {
			var l ledger
			for _, a := range batches(rng, tc.n, 12, tc.keyed) {
				l.ack(a.seq, a.part, a.off)
			}
			l.mu.Lock()
			l.flush()
			l.mu.Unlock()
			per := float64(l.bytes()) / float64(tc.n)
			t.Logf("%s: %d bytes of bookkeeping, %.2f bytes per record", tc.name, l.bytes(), per)
			if per > tc.maxPer {
				t.Errorf("%.2f bytes per record, want at most %.1f", per, tc.maxPer)
			}
			var n uint64
			l.each(func(r ackRun) { n += r.n })
			if n != tc.n {
				t.Errorf("decoded %d acknowledgements, want %d", n, tc.n)
			}
		})
	}
}

func TestAvailabilityWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var a availability
	type outcome struct {
		part       int32
		sent, done int
		ok         bool
	}
	for _, o := range []outcome{
		// Partition 0: steady, then a record sent at 1000 waits until 3000
		// (a leader change) while the last ack was at 20.
		{0, 0, 5, true}, {0, 10, 20, true}, {0, 1000, 3000, true}, {0, 1010, 3000, true}, {0, 3100, 3110, true},
		// Partition 1: idle between 600 and 2500 with nothing sent: not
		// unavailable; then a record fails after waiting 400 ms.
		{1, 500, 510, true}, {1, 590, 600, true}, {1, 2500, 2505, true}, {1, 2600, 3000, false},
		// Partition 3: its only record fails after 1.5 s; partition 2
		// sees nothing.
		{3, 100, 1600, false},
	} {
		a.outcome(o.part, at(o.sent), at(o.done), o.ok)
	}
	ws := a.windows(5)
	want := []window{
		{acks: 5, from: at(1000), dur: 2000 * time.Millisecond},
		{acks: 3, from: at(2600), dur: 400 * time.Millisecond},
		{},
		{acks: 0, from: at(100), dur: 1500 * time.Millisecond},
		{},
	}
	if !slices.Equal(ws, want) {
		t.Errorf("windows:\n got %+v\nwant %+v", ws, want)
	}
}

// TestReportBookkeeping feeds an attached audit synthetic sends,
// acknowledgements and read-backs and checks every count of the report.
func TestReportBookkeeping(t *testing.T) {
	tg, err := bench.NewExternal("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.RunConfig{Mode: bench.ModeProduce, Target: tg, Producers: 2, Topic: bench.TopicConfig{Name: "t"}}
	a := New(Options{MaxListed: 3})
	if err := a.Attach(&cfg); err != nil {
		t.Fatal(err)
	}
	h := cfg.Hooks
	h.OnStart(time.Now())
	// Producer 0 sends 0..9, producer 1 sends 0..4.
	recs := map[ID]*kgo.Record{}
	for p, n := range []uint64{10, 5} {
		for s := range n {
			r := &kgo.Record{Topic: "t"}
			h.BeforeProduce(p, s, r)
			if r.Partition != -1 {
				t.Fatalf("BeforeProduce left partition %d, want -1 (not yet partitioned)", r.Partition)
			}
			r.Timestamp = time.Now() // as the client stamps it
			recs[ID{p, s}] = r
		}
	}
	// Acknowledged: all but 0:9 (failed) and 1:4 (failed); offsets per
	// partition in order of acknowledgement.
	next := map[int32]int64{}
	for p, n := range []uint64{10, 5} {
		for s := range n {
			r := recs[ID{p, s}]
			r.Partition = int32(s % 2)
			if (p == 0 && s == 9) || (p == 1 && s == 4) {
				h.OnAck(p, s, r, errors.New("timed out"))
				continue
			}
			r.Offset = next[r.Partition]
			next[r.Partition]++
			h.OnAck(p, s, r, nil)
		}
	}
	// Read back: everything acknowledged except 0:2, 0:5, 1:1 and 1:3
	// (lost); 0:9 (failed) is present; 0:0 twice and 1:0 three times.
	reads := []*readBack{{}, {}}
	for id := range recs {
		switch id {
		case ID{0, 2}, ID{0, 5}, ID{1, 1}, ID{1, 3}, ID{1, 4}:
			continue
		}
		reads[id.Producer].read(id.Seq)
	}
	reads[0].read(0)
	reads[1].read(0)
	reads[1].read(0)
	parts := []PartitionAudit{{Partition: 0}, {Partition: 1}}
	rep := a.report(parts, reads)
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %d, want %d", name, got, want)
		}
	}
	check("sent", rep.Sent, 15)
	check("acknowledged", rep.Acknowledged, 13)
	check("failed", rep.Failed, 2)
	check("readable", rep.Readable, 10)
	check("lost", rep.Lost, 4)
	check("duplicated", rep.Duplicated, 2)
	check("duplicate copies", rep.DuplicateCopies, 3)
	check("unacknowledged present", rep.UnackedPresent, 1)
	check("lost on partition 0", parts[0].Lost, 1)
	check("lost on partition 1", parts[1].Lost, 3)
	// Listed: the first 3 by producer and sequence, with the offsets they
	// were acknowledged at.
	var want []LostRecord
	for _, id := range []ID{{0, 2}, {0, 5}, {1, 1}} {
		r := recs[id]
		want = append(want, LostRecord{ID: id, Partition: r.Partition, Offset: r.Offset})
	}
	if !slices.Equal(rep.LostIDs, want) {
		t.Errorf("lost ids: got %+v, want %+v", rep.LostIDs, want)
	}
}
