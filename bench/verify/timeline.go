package verify

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteTimeline prints a named scenario's timeline from its history;
// other histories print nothing.
func WriteTimeline(w io.Writer, ops []Op) {
	if len(ops) == 0 || ops[0].Meta == nil {
		return
	}
	switch ops[0].Meta.Scenario {
	case "isr-timeline":
		isrTimeline(w, ops)
	case "duplicates":
		duplicatesTimeline(w, ops)
	case "rebalance":
		rebalanceTimeline(w, ops)
	case "eos":
		eosTimeline(w, ops)
	}
}

func ints(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "{" + strings.Join(s, ",") + "}"
}

// isrTimeline: ISR changes, faults and runs of produce outcomes in time
// order.
func isrTimeline(w io.Writer, ops []Op) {
	fmt.Fprintln(w, "timeline (partition 0, acks=all, min.insync.replicas=2):")
	var isr []int32
	class, n, since, last := "", 0, 0.0, 0.0
	flush := func() {
		if n > 0 {
			fmt.Fprintf(w, "  %7.2fs  produce: %d × %s (%.2fs to %.2fs)\n", since, n, class, since, last)
		}
		n = 0
	}
	for _, op := range ops {
		switch {
		case op.Type == TMetadata:
			flush()
			isr = op.ISR
			leader := int32(-1)
			if len(op.Brokers) > 0 {
				leader = op.Brokers[0]
			}
			fmt.Fprintf(w, "  %7.2fs  leader %d, ISR %s (size %d)\n", op.T, leader, ints(isr), len(isr))
		case op.Type == TFaultStart:
			flush()
			fmt.Fprintf(w, "  %7.2fs  %s\n", op.T, op.Fault)
		case op.Type == TFaultStop:
			flush()
			fmt.Fprintf(w, "  %7.2fs  healed: %s\n", op.T, op.Fault)
		case op.Type == TProduce && op.Outcome != Invoke:
			c := "ok"
			if op.Outcome != OK {
				c = op.Err
			}
			if c != class {
				flush()
				class = c
			}
			if n == 0 {
				since = op.T
			}
			n, last = n+1, op.T
		}
	}
	flush()
}

// duplicatesTimeline compares the producer without idempotence with the
// one with it.
func duplicatesTimeline(w io.Writer, ops []Op) {
	type row struct {
		setting        string
		start          float64
		sent, acked    int
		reads, dupIDs  int
		readIDs        map[string]int
		failed, unsure int
	}
	rows := map[string]*row{}
	var order []string
	get := func(proc string) *row {
		r := rows[proc]
		if r == nil {
			r = &row{readIDs: map[string]int{}}
			rows[proc] = r
			order = append(order, proc)
		}
		return r
	}
	fmt.Fprintln(w, "timeline:")
	for _, op := range ops {
		switch {
		case op.Type == TPhase && strings.HasPrefix(op.Note, "enable.idempotence"):
			r := get(op.Proc)
			r.setting, r.start = op.Note, op.T
			fmt.Fprintf(w, "  %7.2fs  %s starts with %s\n", op.T, op.Proc, op.Note)
		case op.Type == TFaultStart && len(op.Brokers) > 0:
			fmt.Fprintf(w, "  %7.2fs  %s on brokers %s\n", op.T, op.Fault, ints(op.Brokers))
		case op.Type == TFaultStart:
			fmt.Fprintf(w, "  %7.2fs  %s\n", op.T, op.Fault)
		case op.Type == TFaultStop:
			fmt.Fprintf(w, "  %7.2fs  healed: %s\n", op.T, op.Fault)
		case op.Type == TProduce:
			r := get(op.Proc)
			switch op.Outcome {
			case Invoke:
				r.sent++
			case OK:
				r.acked++
			case Fail:
				r.failed++
			case Info:
				r.unsure++
			}
		case op.Type == TRead:
			p, _, _ := strings.Cut(op.ID, ":")
			r := get("producer-" + p)
			r.reads++
			r.readIDs[op.ID]++
		}
	}
	fmt.Fprintln(w, "duplicates in the log (read back after healing):")
	for _, proc := range order {
		r := rows[proc]
		if r.setting == "" {
			continue
		}
		for _, c := range r.readIDs {
			if c > 1 {
				r.dupIDs++
			}
		}
		fmt.Fprintf(w, "  %s (%s): %d sent, %d acknowledged, %d failed, %d unknown; %d copies of %d ids read back: %d duplicated ids, %d extra copies\n",
			proc, r.setting, r.sent, r.acked, r.failed, r.unsure, r.reads, len(r.readIDs), r.dupIDs, r.reads-len(r.readIDs))
	}
}

// rebalanceTimeline: assignments, the kill, which partitions moved and
// how long it took.
func rebalanceTimeline(w io.Writer, ops []Op) {
	fmt.Fprintln(w, "timeline:")
	killT, victim, ended := -1.0, "", false
	var lostParts []int32
	movedTo := map[int32]string{}
	movedAt := map[int32]float64{}
	firstRead := map[int32]float64{}
	for _, op := range ops {
		switch op.Type {
		case TPhase:
			if op.Note == PhaseLoadEnd {
				fmt.Fprintf(w, "  %7.2fs  the load ends; members leave\n", op.T)
				ended = true
			}
		case TAssign, TRevoke, TLost:
			if len(op.Partitions) == 0 {
				continue
			}
			verb := map[Type]string{TAssign: "assigned", TRevoke: "revoked", TLost: "lost"}[op.Type]
			after := ""
			if killT >= 0 && !ended {
				after = fmt.Sprintf(" (+%.2fs after the kill)", op.T-killT)
			}
			fmt.Fprintf(w, "  %7.2fs  %s %s %s%s\n", op.T, op.Proc, verb, ints(op.Partitions), after)
			if op.Type == TAssign && killT >= 0 && !ended && op.Proc != victim {
				for _, p := range op.Partitions {
					if slices.Contains(lostParts, p) {
						if _, ok := movedTo[p]; !ok {
							movedTo[p], movedAt[p] = op.Proc, op.T
						}
					}
				}
			}
		case TFaultStart:
			if !strings.HasPrefix(op.Fault, "kill consumer") {
				fmt.Fprintf(w, "  %7.2fs  %s\n", op.T, op.Fault)
				continue
			}
			killT, victim, lostParts = op.T, strings.TrimPrefix(op.Fault, "kill "), op.Partitions
			fmt.Fprintf(w, "  %7.2fs  %s (it owned %s)\n", op.T, op.Fault, ints(op.Partitions))
		case TConsume:
			if killT >= 0 && op.Proc != victim && slices.Contains(lostParts, op.Partition) {
				if _, ok := firstRead[op.Partition]; !ok {
					firstRead[op.Partition] = op.T
				}
			}
		}
	}
	if killT < 0 {
		fmt.Fprintln(w, "  no consumer was killed: the group never had every member owning partitions")
		return
	}
	fmt.Fprintln(w, "moved partitions:")
	last := killT
	for _, p := range lostParts {
		to, ok := movedTo[p]
		if !ok {
			fmt.Fprintf(w, "  partition %d: never reassigned\n", p)
			continue
		}
		read := "no record consumed since"
		if t, ok := firstRead[p]; ok {
			read = fmt.Sprintf("first record consumed +%.2fs", t-killT)
			last = max(last, t)
		}
		fmt.Fprintf(w, "  partition %d → %s at +%.2fs; %s\n", p, to, movedAt[p]-killT, read)
	}
	if len(movedTo) == len(lostParts) {
		var done float64
		for _, t := range movedAt {
			done = max(done, t)
		}
		fmt.Fprintf(w, "rebalance: every partition of %s owned again %.2fs after the kill, consumed again after %.2fs (the session timeout is most of it)\n", victim, done-killT, last-killT)
	}
}

// eosTimeline: the first transactions, the aborted one and what readers
// saw of it.
func eosTimeline(w io.Writer, ops []Op) {
	fmt.Fprintln(w, "timeline (transactions of the consume-transform-produce worker):")
	records := map[string][]string{} // txn -> output ids
	srcs := map[string][]string{}    // txn -> input ids
	outcome := map[string]string{}
	endT := map[string]float64{}
	var order []string
	committedVisible := map[string]bool{}
	inLog := map[string]bool{}
	bySrc := map[string][]string{} // input -> txns that wrote it
	for _, op := range ops {
		switch {
		case op.Type == TTxnBegin:
			order = append(order, op.Txn)
		case op.Type == TProduce && op.Txn != "" && op.Outcome == Invoke:
			records[op.Txn] = append(records[op.Txn], op.ID)
			srcs[op.Txn] = append(srcs[op.Txn], op.Src)
			bySrc[op.Src] = append(bySrc[op.Src], op.Txn)
		case (op.Type == TTxnCommit || op.Type == TTxnAbort) && op.Outcome != Invoke:
			o := "committed"
			switch {
			case op.Type == TTxnAbort:
				o = "aborted"
				if op.Note != "" {
					o += " (" + op.Note + ")"
				}
			case op.Outcome != OK:
				o = "outcome unknown: " + op.Err
			}
			outcome[op.Txn], endT[op.Txn] = o, op.T
		case op.Type == TConsume && op.Txn != "":
			committedVisible[op.ID] = true
		case op.Type == TRead && op.Txn != "":
			inLog[op.ID] = true
		}
	}
	count := func(ids []string, in map[string]bool) int {
		n := 0
		for _, id := range ids {
			if in[id] {
				n++
			}
		}
		return n
	}
	shown := 0
	for i, t := range order {
		aborted := strings.HasPrefix(outcome[t], "aborted")
		afterAbort := i > 0 && strings.HasPrefix(outcome[order[i-1]], "aborted")
		if shown >= 5 && !aborted && !afterAbort {
			continue
		}
		shown++
		fmt.Fprintf(w, "  %7.2fs  %s %s: %d records; visible to read_committed %d, in the log (read_uncommitted) %d\n",
			endT[t], t, outcome[t], len(records[t]), count(records[t], committedVisible), count(records[t], inLog))
		if aborted {
			var again []string
			for _, src := range srcs[t] {
				for _, o := range bySrc[src] {
					if o != t && !slices.Contains(again, o) {
						again = append(again, o)
					}
				}
			}
			fmt.Fprintf(w, "            its %d inputs were processed again in %s\n", len(srcs[t]), strings.Join(again, ", "))
		}
	}
	fmt.Fprintf(w, "  %d transactions in all\n", len(order))
}
