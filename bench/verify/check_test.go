package verify

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// hist builds synthetic histories; every op advances the clock by 10 ms.
type hist struct {
	ops []Op
	t   float64
}

func newHist(workload string, idempotent bool) *hist {
	m := Meta{Schema: Schema, Workload: workload, Topic: "in", Output: "out", Partitions: 2, Group: "g", Idempotent: idempotent, StallS: 10}
	h := &hist{ops: []Op{{Type: TStart, Meta: &m}}}
	return h.phase(PhaseLoadStart)
}

func (h *hist) op(o Op) *hist {
	h.t += 0.01
	o.T = h.t
	if o.Outcome != Invoke && (o.Type == TCommit || o.Type == TOffsets) {
		o.T0 = h.t - 0.005
	}
	h.ops = append(h.ops, o)
	return h
}

func (h *hist) wait(s float64) *hist { h.t += s; return h }

func (h *hist) phase(name string) *hist { return h.op(Op{Type: TPhase, Note: name}) }

// produce records an acknowledged plain produce to the input topic.
func (h *hist) produce(id string, p int32, off int64) *hist {
	h.op(Op{Type: TProduce, Outcome: Invoke, Proc: "producer-0", ID: id, Topic: "in"})
	return h.op(Op{Type: TProduce, Outcome: OK, Proc: "producer-0", ID: id, Topic: "in", Partition: p, Offset: off})
}

func (h *hist) sendOutcome(id string, o Outcome) *hist {
	h.op(Op{Type: TProduce, Outcome: Invoke, Proc: "producer-0", ID: id, Topic: "in"})
	return h.op(Op{Type: TProduce, Outcome: o, Proc: "producer-0", ID: id, Topic: "in", Offset: -1})
}

func (h *hist) read(id string, p int32, off int64) *hist {
	return h.op(Op{Type: TRead, Outcome: OK, Proc: "final-read", ID: id, Topic: "in", Partition: p, Offset: off})
}

func (h *hist) assign(proc string, ps ...int32) *hist {
	return h.op(Op{Type: TAssign, Proc: proc, Partitions: ps})
}

func (h *hist) consume(proc, id string, p int32, off int64) *hist {
	return h.op(Op{Type: TConsume, Outcome: OK, Proc: proc, ID: id, Topic: "in", Partition: p, Offset: off})
}

func (h *hist) commit(proc string, p int32, off int64) *hist {
	return h.op(Op{Type: TCommit, Outcome: OK, Proc: proc, Group: "g", Partition: p, Offset: off})
}

func (h *hist) observe(p int32, off int64) *hist {
	return h.op(Op{Type: TOffsets, Outcome: OK, Proc: "observer", Group: "g", Partition: p, Offset: off})
}

func (h *hist) begin(txn string) *hist {
	return h.op(Op{Type: TTxnBegin, Outcome: Invoke, Proc: "txn-0", Txn: txn})
}

// out records a produce of output record id (made from src) in txn.
func (h *hist) out(txn, id, src string, p int32, off int64) *hist {
	h.op(Op{Type: TProduce, Outcome: Invoke, Proc: "txn-0", ID: id, Src: src, Txn: txn, Topic: "out"})
	return h.op(Op{Type: TProduce, Outcome: OK, Proc: "txn-0", ID: id, Src: src, Txn: txn, Topic: "out", Partition: p, Offset: off})
}

func (h *hist) end(txn string, t Type, o Outcome) *hist {
	return h.op(Op{Type: t, Outcome: o, Proc: "txn-0", Txn: txn})
}

// see records the downstream read_committed consumer receiving id.
func (h *hist) see(txn, id, src string, p int32, off int64) *hist {
	return h.op(Op{Type: TConsume, Outcome: OK, Proc: "downstream", ID: id, Src: src, Txn: txn, Topic: "out", Partition: p, Offset: off})
}

// ends records the output's final last stable offset of a partition.
func (h *hist) ends(p int32, lso int64) *hist {
	return h.op(Op{Type: TEnds, Outcome: OK, Proc: "final", Topic: "out", Partition: p, Offset: lso, HW: lso})
}

func (h *hist) done() []Op { return h.phase(PhaseLoadEnd).phase(PhaseEnd).ops }

// when applies f only to the history with the anomaly.
func (h *hist) when(with bool, f func(*hist)) *hist {
	if with {
		f(h)
	}
	return h
}

// unless applies f only to the history without the anomaly.
func (h *hist) unless(with bool, f func(*hist)) *hist { return h.when(!with, f) }

// Each case builds the same history with and without one anomaly: with it
// the checker must count the kind, without it the history must be valid.
func TestCheckDetectsEachAnomaly(t *testing.T) {
	cases := []struct {
		name  string
		kind  Kind
		build func(with bool) []Op
	}{
		// produce: final read-back against the acknowledgements.
		{"produce/acked record missing from the read-back", Lost, func(with bool) []Op {
			h := newHist("produce", true).produce("0:0", 0, 0).produce("0:1", 0, 1).produce("0:2", 1, 0)
			h.read("0:0", 0, 0).unless(with, func(h *hist) { h.read("0:1", 0, 1) }).read("0:2", 1, 0)
			return h.done()
		}},
		{"produce/lost beside failed and unknown sends", Lost, func(with bool) []Op {
			h := newHist("produce", false).produce("0:0", 1, 0).sendOutcome("0:1", Fail).sendOutcome("0:2", Info).produce("0:3", 1, 2)
			// The unknown send landed: present, not an anomaly.
			h.read("0:0", 1, 0).read("0:2", 1, 1).unless(with, func(h *hist) { h.read("0:3", 1, 2) })
			return h.done()
		}},
		{"produce/idempotent record read twice", Duplicated, func(with bool) []Op {
			h := newHist("produce", true).produce("0:0", 0, 0).produce("0:1", 0, 2)
			h.read("0:0", 0, 0).when(with, func(h *hist) { h.read("0:0", 0, 1) }).read("0:1", 0, 2)
			return h.done()
		}},
		{"produce/idempotent duplicate on another partition", Duplicated, func(with bool) []Op {
			h := newHist("produce", true).produce("1:5", 1, 7)
			h.read("1:5", 1, 7).when(with, func(h *hist) { h.read("1:5", 0, 3) })
			return h.done()
		}},

		// queue: deliveries to the group, commits, assignments.
		{"queue/acked record never delivered", Lost, func(with bool) []Op {
			h := newHist("queue", false).produce("0:0", 0, 0).produce("0:1", 0, 1).produce("0:2", 0, 2)
			h.assign("consumer-0", 0, 1).consume("consumer-0", "0:0", 0, 0).unless(with, func(h *hist) { h.consume("consumer-0", "0:1", 0, 1) }).consume("consumer-0", "0:2", 0, 2)
			return h.done()
		}},
		{"queue/record never delivered after a rebalance", Lost, func(with bool) []Op {
			h := newHist("queue", false).produce("0:0", 1, 0).produce("0:1", 1, 1)
			h.assign("consumer-0", 0, 1).consume("consumer-0", "0:0", 1, 0).op(Op{Type: TRevoke, Proc: "consumer-0", Partitions: []int32{1}})
			h.assign("consumer-1", 1).unless(with, func(h *hist) { h.consume("consumer-1", "0:1", 1, 1) })
			return h.done()
		}},
		{"queue/later commit below an earlier one", CommitRegression, func(with bool) []Op {
			h := newHist("queue", false).commit("consumer-0", 0, 3).commit("consumer-0", 0, 5)
			h.when(with, func(h *hist) { h.commit("consumer-1", 0, 2) }).unless(with, func(h *hist) { h.commit("consumer-1", 0, 6) })
			return h.done()
		}},
		{"queue/committed offset read back as none", CommitRegression, func(with bool) []Op {
			h := newHist("queue", false).commit("consumer-0", 1, 4).observe(1, 4)
			h.when(with, func(h *hist) { h.observe(1, -1) }).unless(with, func(h *hist) { h.observe(1, 4) })
			return h.done()
		}},
		{"queue/new owner starts beyond unconsumed records", Skip, func(with bool) []Op {
			h := newHist("queue", false)
			for i := int64(0); i < 5; i++ {
				h.produce(fmt.Sprintf("0:%d", i), 0, i)
			}
			h.assign("consumer-0", 0).consume("consumer-0", "0:0", 0, 0).consume("consumer-0", "0:1", 0, 1)
			h.op(Op{Type: TRevoke, Proc: "consumer-0", Partitions: []int32{0}}).assign("consumer-1", 0)
			h.unless(with, func(h *hist) { h.consume("consumer-1", "0:2", 0, 2).consume("consumer-1", "0:3", 0, 3) })
			return h.consume("consumer-1", "0:4", 0, 4).done()
		}},
		{"queue/restarted consumer skips a record known only from its ack", Skip, func(with bool) []Op {
			h := newHist("queue", false).produce("0:0", 1, 0).produce("0:1", 1, 1).produce("0:2", 1, 2)
			h.assign("consumer-0", 1).consume("consumer-0", "0:0", 1, 0)
			// A restart: a new process, a new assignment.
			h.assign("consumer-2", 1).unless(with, func(h *hist) { h.consume("consumer-2", "0:1", 1, 1) }).consume("consumer-2", "0:2", 1, 2)
			// Delivered later by a third consumer: not lost, but still skipped when it mattered.
			h.assign("consumer-3", 1).when(with, func(h *hist) { h.consume("consumer-3", "0:1", 1, 1) })
			return h.done()
		}},
		{"queue/offset goes back within an assignment", Order, func(with bool) []Op {
			h := newHist("queue", false).produce("0:0", 0, 0).produce("0:1", 0, 1).produce("0:2", 0, 2)
			h.assign("consumer-0", 0).consume("consumer-0", "0:0", 0, 0).consume("consumer-0", "0:1", 0, 1).consume("consumer-0", "0:2", 0, 2)
			// Re-reading after a new assignment is fine; within one it is not.
			h.unless(with, func(h *hist) { h.assign("consumer-0", 0) }).consume("consumer-0", "0:1", 0, 1)
			return h.done()
		}},
		{"queue/same offset twice within an assignment", Order, func(with bool) []Op {
			h := newHist("queue", false).produce("0:0", 1, 0).produce("0:1", 1, 1)
			h.assign("consumer-0", 1).consume("consumer-0", "0:0", 1, 0).when(with, func(h *hist) { h.consume("consumer-0", "0:0", 1, 0) }).consume("consumer-0", "0:1", 1, 1)
			return h.done()
		}},

		// txn: a consume-transform-produce pipeline read with read_committed.
		{"txn/aborted transaction's record read", AbortedRead, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnAbort, OK)
			h.begin("txn-0/2").out("txn-0/2", "t0:1", "0:0", 0, 2).end("txn-0/2", TTxnCommit, OK)
			h.when(with, func(h *hist) { h.see("txn-0/1", "t0:0", "0:0", 0, 0) }).see("txn-0/2", "t0:1", "0:0", 0, 2)
			return h.done()
		}},
		{"txn/failed commit's record read", AbortedRead, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 1, 0).produce("0:1", 1, 1)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 1, 0).out("txn-0/1", "t0:1", "0:1", 0, 0).end("txn-0/1", TTxnCommit, Fail)
			h.begin("txn-0/2").out("txn-0/2", "t0:2", "0:0", 1, 2).out("txn-0/2", "t0:3", "0:1", 0, 2).end("txn-0/2", TTxnCommit, OK)
			h.when(with, func(h *hist) { h.see("txn-0/1", "t0:1", "0:1", 0, 0) })
			return h.see("txn-0/2", "t0:2", "0:0", 1, 2).see("txn-0/2", "t0:3", "0:1", 0, 2).done()
		}},
		{"txn/committed transaction never visible", MissingCommitted, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnCommit, OK)
			return h.unless(with, func(h *hist) { h.see("txn-0/1", "t0:0", "0:0", 0, 0) }).done()
		}},
		{"txn/two-partition committed transaction below the LSO never visible", MissingCommitted, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).produce("0:1", 1, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).out("txn-0/1", "t0:1", "0:1", 1, 0).end("txn-0/1", TTxnCommit, OK)
			h.unless(with, func(h *hist) { h.see("txn-0/1", "t0:1", "0:1", 1, 0).see("txn-0/1", "t0:0", "0:0", 0, 0) })
			return h.wait(30).ends(0, 2).ends(1, 2).done()
		}},
		{"txn/input processed in two committed transactions", EOSDuplicate, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnCommit, OK).see("txn-0/1", "t0:0", "0:0", 0, 0)
			h.when(with, func(h *hist) {
				h.begin("txn-1/1").out("txn-1/1", "t1:0", "0:0", 1, 0).end("txn-1/1", TTxnCommit, OK).see("txn-1/1", "t1:0", "0:0", 1, 0)
			})
			return h.done()
		}},
		{"txn/output record visible at two offsets", EOSDuplicate, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 1, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 1, 0).end("txn-0/1", TTxnCommit, OK).see("txn-0/1", "t0:0", "0:0", 1, 0)
			// Redelivery of the same offset is not a duplicate in the log.
			h.see("txn-0/1", "t0:0", "0:0", 1, 0).when(with, func(h *hist) { h.see("txn-0/1", "t0:0", "0:0", 1, 1) })
			return h.done()
		}},
		{"txn/half of a committed transaction visible", TornTxn, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).produce("0:1", 0, 1)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).out("txn-0/1", "t0:1", "0:1", 1, 0).end("txn-0/1", TTxnCommit, OK)
			h.see("txn-0/1", "t0:0", "0:0", 0, 0).unless(with, func(h *hist) { h.see("txn-0/1", "t0:1", "0:1", 1, 0) })
			return h.done()
		}},
		{"txn/part of an unknown-outcome transaction visible", TornTxn, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).produce("0:1", 0, 1)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 1, 0).out("txn-0/1", "t0:1", "0:1", 1, 1).end("txn-0/1", TTxnCommit, Info)
			h.see("txn-0/1", "t0:1", "0:1", 1, 1).unless(with, func(h *hist) { h.see("txn-0/1", "t0:0", "0:0", 1, 0) })
			return h.done()
		}},
		{"txn/committed records visible only after the stall threshold", StalledLSO, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnCommit, OK)
			h.when(with, func(h *hist) { h.wait(12) }).unless(with, func(h *hist) { h.wait(8) })
			return h.see("txn-0/1", "t0:0", "0:0", 0, 0).done()
		}},
		{"txn/one partition's LSO stuck while another moves", StalledLSO, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).produce("0:1", 0, 1)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).out("txn-0/1", "t0:1", "0:1", 1, 0).end("txn-0/1", TTxnCommit, OK)
			h.see("txn-0/1", "t0:0", "0:0", 0, 0).wait(5)
			h.when(with, func(h *hist) { h.wait(20) })
			return h.see("txn-0/1", "t0:1", "0:1", 1, 0).done()
		}},
		{"txn/committed records still beyond the LSO at the end", StalledLSO, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).produce("0:1", 0, 1)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 1, 0).end("txn-0/1", TTxnCommit, OK).see("txn-0/1", "t0:0", "0:0", 1, 0)
			h.begin("txn-0/2").out("txn-0/2", "t0:1", "0:1", 1, 2).end("txn-0/2", TTxnCommit, OK)
			h.unless(with, func(h *hist) { h.see("txn-0/2", "t0:1", "0:1", 1, 2) })
			// An open transaction at offset 1 holds the LSO there.
			lso := int64(1)
			if !with {
				lso = 4
			}
			return h.wait(30).ends(1, lso).done()
		}},
		{"txn/input never transformed", Lost, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0).when(with, func(h *hist) { h.produce("0:1", 1, 0) })
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnCommit, OK).see("txn-0/1", "t0:0", "0:0", 0, 0)
			return h.done()
		}},
		{"txn/input only in an aborted transaction", Lost, func(with bool) []Op {
			h := newHist("txn", true).produce("0:0", 0, 0)
			h.begin("txn-0/1").out("txn-0/1", "t0:0", "0:0", 0, 0).end("txn-0/1", TTxnAbort, OK)
			h.unless(with, func(h *hist) {
				h.begin("txn-0/2").out("txn-0/2", "t0:1", "0:0", 0, 2).end("txn-0/2", TTxnCommit, OK).see("txn-0/2", "t0:1", "0:0", 0, 2)
			})
			return h.done()
		}},
	}
	perKind := map[Kind]int{}
	for _, tc := range cases {
		perKind[tc.kind]++
		t.Run(tc.name, func(t *testing.T) {
			with := Check(tc.build(true))
			if got := with.Count(tc.kind); got == 0 || with.Valid {
				t.Errorf("with the anomaly: got %d %s (valid %v), want at least 1: %+v", got, tc.kind, with.Valid, with.Anomalies)
			}
			without := Check(tc.build(false))
			if !without.Valid {
				t.Errorf("without the anomaly: got %s, want VALID: %+v", without.Verdict(), without.Anomalies)
			}
		})
	}
	for _, w := range []string{"produce", "queue", "txn"} {
		for _, k := range Kinds(w) {
			if k == Lost {
				continue // counted over all three workloads
			}
			if perKind[k] < 2 {
				t.Errorf("%s: %d cases, want at least 2", k, perKind[k])
			}
		}
	}
	if perKind[Lost] < 6 {
		t.Errorf("lost: %d cases, want 2 per workload", perKind[Lost])
	}
}

func TestCheckStatsAndAvailability(t *testing.T) {
	h := newHist("queue", false).produce("0:0", 0, 0)
	h.assign("consumer-0", 0).consume("consumer-0", "0:0", 0, 0).commit("consumer-0", 0, 1)
	h.op(Op{Type: TFaultStart, Proc: "nemesis", Fault: "#1 kill", Brokers: []int32{2}})
	h.wait(5).sendOutcome("0:1", Info).produce("0:2", 0, 2).consume("consumer-0", "0:2", 0, 2).assign("consumer-0", 0).consume("consumer-0", "0:2", 0, 2)
	h.op(Op{Type: TFaultStop, Proc: "nemesis", Fault: "#1 kill", Brokers: []int32{2}})
	r := Check(h.done())
	s := r.Stats
	if s.Sent != 3 || s.Acked != 2 || s.Unknown != 1 || s.Delivered != 3 || s.Distinct != 2 || s.Duplicates != 1 || s.DuplicateRate != 0.5 || s.Commits != 1 {
		t.Errorf("stats: got %+v", s)
	}
	// The 5 s wait right after the first produce is the longest gap.
	if w := r.Availability[0]; w.What != "produce" || w.Seconds < 5 || w.Seconds > 5.1 {
		t.Errorf("produce availability: got %+v, want a 5 s window", w)
	}
	if len(r.Faults) != 1 || r.Faults[0].Brokers[0] != 2 || r.Faults[0].Stop <= r.Faults[0].Start {
		t.Errorf("faults: got %+v", r.Faults)
	}
	if !r.Complete || !r.Valid {
		t.Errorf("got complete %v valid %v, want both", r.Complete, r.Valid)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	rec := newRecorder(&buf, nopCloser{})
	m := Meta{Schema: Schema, Workload: "queue", Topic: "in", Partitions: 3, Group: "g"}
	rec.Record(Op{Type: TStart, Meta: &m})
	want := []Op{
		{Type: TProduce, Outcome: Invoke, Proc: "producer-0", ID: "0:1", Topic: "in"},
		{Type: TProduce, Outcome: OK, Proc: "producer-0", ID: "0:1", Topic: "in", Partition: 2, Offset: 0},
		{Type: TCommit, Outcome: Fail, T0: 0.5, Group: "g", Offset: -1, Err: "NOT_COORDINATOR"},
		{Type: TAssign, Proc: "consumer-0", Partitions: []int32{0, 2}},
	}
	for _, op := range want {
		rec.Record(op)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want)+1 || got[0].Meta.Workload != "queue" {
		t.Fatalf("got %d ops (%+v), want %d", len(got), got[0], len(want)+1)
	}
	for i, op := range want {
		op.T = got[i+1].T
		if !reflect.DeepEqual(got[i+1], op) {
			t.Errorf("line %d: got %+v, want %+v", i+2, got[i+1], op)
		}
	}
}

func TestDecodeHistoryErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no start line", `{"t":0,"type":"produce"}` + "\n"},
		{"future schema", `{"t":0,"type":"start","meta":{"schema":99}}` + "\n"},
		{"not json", `{"t":0,"type":"start","meta":{"schema":1}}` + "\nnope\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeHistory(bytes.NewBufferString(tc.in)); err == nil {
				t.Error("got no error")
			}
		})
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
