package verify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Kind names an anomaly.
type Kind string

// The anomalies Check finds.
const (
	// Lost: an acknowledged record never read back (produce), never
	// delivered to the group (queue), or never turned into visible
	// output (txn).
	Lost Kind = "lost"
	// Duplicated: a record read back more than once although its producer
	// was idempotent (produce workload; without idempotence duplicates
	// are at-least-once and only counted).
	Duplicated Kind = "duplicated"
	// CommitRegression: a group's committed offset of a partition went
	// below an earlier successful commit (a later commit, or the
	// observer's read, lower than a commit that had completed before it
	// was invoked).
	CommitRegression Kind = "commit-regression"
	// Skip: a consumer starting on a partition (after an assignment)
	// began beyond a record nobody had consumed yet.
	Skip Kind = "skip"
	// Order: a consumer received a partition's records out of offset
	// order within one assignment.
	Order Kind = "order"
	// AbortedRead: a read_committed consumer saw a record of an aborted
	// transaction.
	AbortedRead Kind = "aborted-read"
	// MissingCommitted: no record of a committed transaction became
	// visible although the last stable offset passed them (counted per
	// record).
	MissingCommitted Kind = "missing-committed"
	// EOSDuplicate: one input record appears more than once in the
	// committed output of an exactly-once pipeline.
	EOSDuplicate Kind = "eos-duplicate"
	// TornTxn: only part of a committed (or unknown-outcome) transaction
	// became visible, the rest below the last stable offset (counted per
	// transaction).
	TornTxn Kind = "torn-txn"
	// StalledLSO: a committed transaction's records on a partition became
	// visible to read_committed consumers only after more than the stall
	// threshold, or were still beyond the partition's last stable offset
	// at the end (counted per partition and stall window).
	StalledLSO Kind = "stalled-lso"
)

// Kinds lists the anomalies a workload's checker looks for.
func Kinds(workload string) []Kind {
	switch workload {
	case "produce":
		return []Kind{Lost, Duplicated}
	case "queue":
		return []Kind{Lost, CommitRegression, Skip, Order}
	case "txn":
		return []Kind{Lost, AbortedRead, MissingCommitted, EOSDuplicate, TornTxn, StalledLSO}
	}
	return nil
}

// MaxExamples is how many examples an anomaly lists.
const MaxExamples = 5

// Example is one occurrence of an anomaly.
type Example struct {
	ID        string `json:"id,omitempty"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Detail    string `json:"detail"`
	// Lines are the history lines (1-based) of the operations involved.
	Lines []int `json:"lines,omitempty"`
}

// Anomaly is every occurrence of one kind.
type Anomaly struct {
	Kind     Kind      `json:"kind"`
	Count    int       `json:"count"`
	Examples []Example `json:"examples"`
}

// Window is the longest stretch without a successful operation of one
// sort during the load.
type Window struct {
	What    string  `json:"what"`
	From    float64 `json:"from_s"`
	To      float64 `json:"to_s"`
	Seconds float64 `json:"seconds"`
	// None is set when no such operation succeeded at all.
	None bool `json:"none,omitempty"`
}

// Fault is one nemesis fault with its times.
type Fault struct {
	Fault   string  `json:"fault"`
	Brokers []int32 `json:"brokers,omitempty"`
	Start   float64 `json:"start_s"`
	Stop    float64 `json:"stop_s"`
	Note    string  `json:"note,omitempty"`
	Err     string  `json:"error,omitempty"`
}

// Stats are the history's counts.
type Stats struct {
	Sent    int `json:"sent"`
	Acked   int `json:"acked"`
	Failed  int `json:"failed"`
	Unknown int `json:"unknown"`
	// Delivered counts consume (or final read) lines; Distinct the ids
	// among them; Duplicates the extra deliveries; DuplicateRate
	// Duplicates / Distinct.
	Delivered     int     `json:"delivered"`
	Distinct      int     `json:"distinct"`
	Duplicates    int     `json:"duplicates"`
	DuplicateRate float64 `json:"duplicate_rate"`
	// UnackedPresent are ids delivered whose produce did not succeed (a
	// failed or unknown send that did land).
	UnackedPresent int `json:"unacked_present"`
	Commits        int `json:"commits"`
	CommitsFailed  int `json:"commits_failed"`
	TxnCommitted   int `json:"txn_committed"`
	TxnAborted     int `json:"txn_aborted"`
	TxnUnknown     int `json:"txn_unknown"`
}

// Result is the checker's verdict on a history.
type Result struct {
	Meta         Meta      `json:"meta"`
	Valid        bool      `json:"valid"`
	Checked      []Kind    `json:"checked"`
	Anomalies    []Anomaly `json:"anomalies"`
	Stats        Stats     `json:"stats"`
	Availability []Window  `json:"availability"`
	Faults       []Fault   `json:"faults"`
	// Complete is false when the history has no end phase (the run was
	// interrupted): lost records may only be unread.
	Complete bool    `json:"complete"`
	Duration float64 `json:"duration_s"`
}

// Verdict is VALID or ANOMALIES.
func (r *Result) Verdict() string {
	if r.Valid {
		return "VALID"
	}
	return "ANOMALIES"
}

// Count is how many occurrences of k the result holds.
func (r *Result) Count(k Kind) int {
	for _, a := range r.Anomalies {
		if a.Kind == k {
			return a.Count
		}
	}
	return 0
}

// pos is a record's place in a partition.
type pos struct {
	p   int32
	off int64
}

// checker holds one Check's indexes; ops[i] is history line i+1.
type checker struct {
	ops  []Op
	meta Meta
	res  *Result
	byK  map[Kind]*Anomaly
	idem map[string]bool // ids sent by idempotent producers
}

func (c *checker) add(k Kind, ex Example) {
	a := c.byK[k]
	a.Count++
	if len(a.Examples) < MaxExamples {
		a.Examples = append(a.Examples, ex)
	}
}

// Check reads a history and reports its anomalies. It is a pure function
// of the operations.
func Check(ops []Op) Result {
	res := Result{Anomalies: []Anomaly{}, Faults: []Fault{}}
	if len(ops) == 0 || ops[0].Meta == nil {
		return res
	}
	c := &checker{ops: ops, meta: *ops[0].Meta, res: &res, byK: map[Kind]*Anomaly{}, idem: map[string]bool{}}
	res.Meta = c.meta
	res.Checked = Kinds(c.meta.Workload)
	for _, k := range res.Checked {
		c.byK[k] = &Anomaly{Kind: k, Examples: []Example{}}
	}
	res.Duration = ops[len(ops)-1].T
	for _, op := range ops {
		if op.Type == TPhase && op.Note == PhaseEnd {
			res.Complete = true
		}
	}
	acks := c.produced()
	switch c.meta.Workload {
	case "produce":
		c.checkReadBack(acks)
	case "queue":
		c.checkQueue(acks)
	case "txn":
		c.checkTxn(acks)
	}
	c.availability()
	c.faults()
	res.Valid = true
	for _, k := range res.Checked {
		a := c.byK[k]
		if a.Count > 0 {
			res.Valid = false
			res.Anomalies = append(res.Anomalies, *a)
		}
	}
	return res
}

// ack is where an acknowledged record landed.
type ack struct {
	pos
	line int
}

// produced counts the plain (non-transactional) produces to the topic and
// returns the acknowledged ones by id.
func (c *checker) produced() map[string]ack {
	acks := map[string]ack{}
	done := map[string]bool{}
	invoked := map[string]bool{}
	s := &c.res.Stats
	for i, op := range c.ops {
		if op.Type != TProduce || op.Txn != "" || op.Topic != c.meta.Topic {
			continue
		}
		switch op.Outcome {
		case Invoke:
			s.Sent++
			invoked[op.ID] = true
			if op.Idem {
				c.idem[op.ID] = true
			}
		case OK:
			s.Acked++
			acks[op.ID] = ack{pos{op.Partition, op.Offset}, i + 1}
			done[op.ID] = true
		case Fail:
			s.Failed++
			done[op.ID] = true
		case Info:
			s.Unknown++
			done[op.ID] = true
		}
	}
	for id := range invoked {
		if !done[id] {
			s.Unknown++ // invoked, never completed
		}
	}
	return acks
}

// deliveries counts delivered ids (lines of type t on topic) into Stats and
// returns each id's count.
func (c *checker) deliveries(t Type, topic string, acks map[string]ack) map[string]int {
	seen := map[string]int{}
	s := &c.res.Stats
	for _, op := range c.ops {
		if op.Type == t && op.Topic == topic && op.ID != "" {
			seen[op.ID]++
			s.Delivered++
		}
	}
	s.Distinct = len(seen)
	s.Duplicates = s.Delivered - s.Distinct
	if s.Distinct > 0 {
		s.DuplicateRate = float64(s.Duplicates) / float64(s.Distinct)
	}
	for id := range seen {
		if _, ok := acks[id]; !ok {
			s.UnackedPresent++
		}
	}
	return seen
}

// lost reports acknowledged ids not in seen, in history order.
func (c *checker) lost(acks map[string]ack, seen map[string]int, where string) {
	ids := make([]string, 0, len(acks))
	for id := range acks {
		if seen[id] == 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(acks[a].line, acks[b].line) })
	for _, id := range ids {
		a := acks[id]
		c.add(Lost, Example{ID: id, Partition: a.p, Offset: a.off, Lines: []int{a.line},
			Detail: fmt.Sprintf("acknowledged at partition %d offset %d, %s", a.p, a.off, where)})
	}
}

// checkReadBack is the produce workload: the final read-back against the
// acknowledgements.
func (c *checker) checkReadBack(acks map[string]ack) {
	seen := c.deliveries(TRead, c.meta.Topic, acks)
	c.lost(acks, seen, "not in the final read-back")
	first := map[string]int{}
	for i, op := range c.ops {
		if op.Type != TRead || op.Topic != c.meta.Topic || seen[op.ID] < 2 || !(c.meta.Idempotent || c.idem[op.ID]) {
			continue
		}
		if l, ok := first[op.ID]; ok {
			c.add(Duplicated, Example{ID: op.ID, Partition: op.Partition, Offset: op.Offset, Lines: []int{l, i + 1},
				Detail: fmt.Sprintf("read again at partition %d offset %d with enable.idempotence=true", op.Partition, op.Offset)})
			continue
		}
		first[op.ID] = i + 1
	}
}

func (c *checker) checkQueue(acks map[string]ack) {
	seen := c.deliveries(TConsume, c.meta.Topic, acks)
	c.lost(acks, seen, "never delivered to the group")
	c.commitRegressions()
	c.skipsAndOrder(acks)
}

// commitRegressions compares every commit and observed committed offset
// with the successful commits that had completed before it was invoked.
func (c *checker) commitRegressions() {
	type done struct {
		t    float64
		max  int64 // highest successful commit completed by t
		line int   // the line holding max
	}
	type key struct {
		group string
		p     int32
	}
	hist := map[key][]done{}
	s := &c.res.Stats
	for i, op := range c.ops {
		if op.Type != TCommit && op.Type != TOffsets {
			continue
		}
		if op.Type == TCommit {
			switch op.Outcome {
			case OK:
				s.Commits++
			case Fail, Info:
				s.CommitsFailed++
				continue
			default:
				continue
			}
		}
		k := key{op.Group, op.Partition}
		h := hist[k]
		// The last successful commit completed before op was invoked.
		j, _ := slices.BinarySearchFunc(h, op.T0, func(d done, t float64) int {
			if d.t < t {
				return -1
			}
			return 1
		})
		if j > 0 && op.Offset < h[j-1].max {
			prev := h[j-1]
			what := "commit"
			if op.Type == TOffsets {
				what = "committed offset read"
			}
			got := fmt.Sprint(op.Offset)
			if op.Offset < 0 {
				got = "none"
			}
			c.add(CommitRegression, Example{Partition: op.Partition, Offset: op.Offset, Lines: []int{prev.line, i + 1},
				Detail: fmt.Sprintf("group %s partition %d: %s at %.2fs gave %s after offset %d was committed (line %d)", op.Group, op.Partition, what, op.T, got, prev.max, prev.line)})
		}
		if op.Type == TCommit {
			d := done{t: op.T, max: op.Offset, line: i + 1}
			if len(h) > 0 && h[len(h)-1].max >= d.max {
				d.max, d.line = h[len(h)-1].max, h[len(h)-1].line
			}
			hist[k] = append(h, d)
		}
	}
}

// skipsAndOrder walks the deliveries: a consumer's first record on a
// partition after an assignment must not lie beyond a record nobody had
// consumed yet, and within an assignment offsets must rise.
func (c *checker) skipsAndOrder(acks map[string]ack) {
	// Every offset known to hold a record: acknowledged or delivered.
	known := map[int32][]int64{}
	ackLine := map[pos]int{}
	for _, a := range acks {
		if a.off >= 0 {
			known[a.p] = append(known[a.p], a.off)
			ackLine[a.pos] = a.line
		}
	}
	for _, op := range c.ops {
		if op.Type == TConsume && op.Topic == c.meta.Topic {
			known[op.Partition] = append(known[op.Partition], op.Offset)
		}
	}
	for p, offs := range known {
		slices.Sort(offs)
		known[p] = slices.Compact(offs)
	}
	consumed := map[pos]bool{}
	next := map[int32]int{} // index into known[p] of the lowest record not yet consumed
	type sess struct {
		proc string
		p    int32
	}
	last := map[sess]int64{}   // last offset delivered in the current assignment
	lastLine := map[sess]int{} // its line
	for i, op := range c.ops {
		switch op.Type {
		case TAssign:
			for _, p := range op.Partitions {
				delete(last, sess{op.Proc, p})
			}
			continue
		case TConsume:
		default:
			continue
		}
		if op.Topic != c.meta.Topic {
			continue
		}
		k := sess{op.Proc, op.Partition}
		prev, inSession := last[k]
		if !inSession {
			ks, n := known[op.Partition], next[op.Partition]
			for n < len(ks) && consumed[pos{op.Partition, ks[n]}] {
				n++
			}
			next[op.Partition] = n
			if n < len(ks) && ks[n] < op.Offset {
				u := ks[n]
				missed := 0
				for _, o := range ks[n:] {
					if o >= op.Offset {
						break
					}
					if !consumed[pos{op.Partition, o}] {
						missed++
					}
				}
				lines := []int{i + 1}
				if l := ackLine[pos{op.Partition, u}]; l > 0 {
					lines = append(lines, l)
				}
				c.add(Skip, Example{ID: op.ID, Partition: op.Partition, Offset: op.Offset, Lines: lines,
					Detail: fmt.Sprintf("%s started partition %d at offset %d at %.2fs; offset %d and %d more record(s) below it had not been consumed", op.Proc, op.Partition, op.Offset, op.T, u, missed-1)})
			}
		} else if op.Offset <= prev {
			c.add(Order, Example{ID: op.ID, Partition: op.Partition, Offset: op.Offset, Lines: []int{lastLine[k], i + 1},
				Detail: fmt.Sprintf("%s received partition %d offset %d after offset %d in the same assignment", op.Proc, op.Partition, op.Offset, prev)})
		}
		last[k], lastLine[k] = op.Offset, i+1
		consumed[pos{op.Partition, op.Offset}] = true
	}
}

// txn is one transaction of the pipeline.
type txn struct {
	id      string
	line    int // txn-begin
	end     int // the line of its outcome
	outcome Type
	result  Outcome
	endT    float64
	records []string // output ids produced in it
}

// committed reports a txn-commit ok.
func (t *txn) committed() bool { return t.outcome == TTxnCommit && t.result == OK }

// aborted reports an abort or a failed commit.
func (t *txn) aborted() bool {
	return t.outcome == TTxnAbort || (t.outcome == TTxnCommit && t.result == Fail)
}

// visible is an output record as downstream read_committed consumers saw it.
type visible struct {
	pos
	line int
	t    float64
	src  string
	txn  string
}

func (c *checker) checkTxn(acks map[string]ack) {
	txns := map[string]*txn{}
	var order []*txn
	get := func(id string, line int) *txn {
		t := txns[id]
		if t == nil {
			t = &txn{id: id, line: line}
			txns[id] = t
			order = append(order, t)
		}
		return t
	}
	out := map[string][]visible{} // output id -> where it was seen (distinct positions)
	srcOf := map[string]string{}  // output id -> input id
	outPos := map[string]pos{}    // output id -> where its produce landed
	lso := map[int32]int64{}      // the output's last stable offsets at the end
	var lsoT float64
	var outIDs []string
	s := &c.res.Stats
	for i, op := range c.ops {
		switch {
		case op.Type == TTxnBegin:
			get(op.Txn, i+1)
		case op.Type == TProduce && op.Txn != "" && op.Outcome == Invoke:
			t := get(op.Txn, i+1)
			t.records = append(t.records, op.ID)
			srcOf[op.ID] = op.Src
		case op.Type == TProduce && op.Txn != "" && op.Outcome == OK:
			outPos[op.ID] = pos{op.Partition, op.Offset}
		case op.Type == TEnds && op.Topic == c.meta.Output:
			lso[op.Partition], lsoT = op.Offset, op.T
		case (op.Type == TTxnCommit || op.Type == TTxnAbort) && op.Outcome != Invoke:
			t := get(op.Txn, i+1)
			t.outcome, t.result, t.end, t.endT = op.Type, op.Outcome, i+1, op.T
		case op.Type == TConsume && op.Topic == c.meta.Output:
			v := visible{pos: pos{op.Partition, op.Offset}, line: i + 1, t: op.T, src: op.Src, txn: op.Txn}
			vs := out[op.ID]
			if slices.ContainsFunc(vs, func(w visible) bool { return w.pos == v.pos }) {
				continue // the same record delivered again
			}
			if len(vs) == 0 {
				outIDs = append(outIDs, op.ID)
			}
			out[op.ID] = append(vs, v)
		}
	}
	for _, t := range order {
		switch {
		case t.committed():
			s.TxnCommitted++
		case t.aborted():
			s.TxnAborted++
		default:
			s.TxnUnknown++
		}
	}
	// Deliveries of output records, counted like the queue's.
	for _, id := range outIDs {
		s.Distinct++
		s.Delivered += len(out[id])
	}
	s.Duplicates = s.Delivered - s.Distinct

	bySrc := map[string][]visible{}
	for _, id := range outIDs {
		for _, v := range out[id] {
			if t := txns[v.txn]; t != nil && t.aborted() {
				c.add(AbortedRead, Example{ID: id, Partition: v.p, Offset: v.off, Lines: []int{t.end, v.line},
					Detail: fmt.Sprintf("record of %s read with read_committed; the transaction was aborted (line %d)", v.txn, t.end)})
			}
			if t := txns[v.txn]; t == nil || !t.aborted() {
				bySrc[v.src] = append(bySrc[v.src], v)
			}
		}
	}
	var srcs []string
	for src, vs := range bySrc {
		if len(vs) > 1 {
			srcs = append(srcs, src)
		}
	}
	slices.SortFunc(srcs, func(a, b string) int { return cmp.Compare(bySrc[a][1].line, bySrc[b][1].line) })
	for _, src := range srcs {
		vs := bySrc[src]
		var where []string
		lines := []int{}
		for _, v := range vs {
			where = append(where, fmt.Sprintf("%d/%d (%s)", v.p, v.off, v.txn))
			lines = append(lines, v.line)
		}
		c.add(EOSDuplicate, Example{ID: src, Partition: vs[1].p, Offset: vs[1].off, Lines: lines,
			Detail: fmt.Sprintf("input %s is in the committed output %d times: %s", src, len(vs), strings.Join(where, ", "))})
	}

	// Missing, torn and stalled transactions.
	type stall struct {
		from, to float64
		txn      string
		line     int
		behind   int // records still beyond the last stable offset at the end
	}
	stalls := map[int32][]stall{}
	covered := map[string]bool{} // inputs a committed or visible output came from
	for _, t := range order {
		if t.aborted() || len(t.records) == 0 {
			continue
		}
		var seen, missing []string
		firstSeen := map[int32]float64{}
		behind := map[int32]int{}
		for _, id := range t.records {
			if t.committed() {
				covered[srcOf[id]] = true
			}
			vs := out[id]
			if len(vs) == 0 {
				if p, ok := outPos[id]; ok && len(lso) > 0 && p.off >= lso[p.p] {
					behind[p.p]++
					continue
				}
				missing = append(missing, id)
				continue
			}
			seen = append(seen, id)
			for _, v := range vs {
				if f, ok := firstSeen[v.p]; !ok || v.t < f {
					firstSeen[v.p] = v.t
				}
			}
		}
		switch {
		case len(seen) > 0 && len(missing) > 0:
			c.add(TornTxn, Example{ID: missing[0], Lines: []int{t.line, t.end},
				Detail: fmt.Sprintf("%s (%s): %d of its %d records visible; below the last stable offset yet never visible: %s", t.id, outcomeName(t), len(seen), len(t.records), strings.Join(head(missing, 3), ", "))})
		case len(seen) == 0 && t.committed():
			for _, id := range missing {
				p := outPos[id]
				c.add(MissingCommitted, Example{ID: id, Partition: p.p, Offset: p.off, Lines: []int{t.line, t.end},
					Detail: fmt.Sprintf("%s committed at %.2fs; record %s (partition %d offset %d) never visible to read_committed consumers", t.id, t.endT, id, p.p, p.off)})
			}
		}
		if !t.committed() || c.meta.StallS <= 0 {
			continue
		}
		for p, f := range firstSeen {
			if f-t.endT > c.meta.StallS {
				stalls[p] = append(stalls[p], stall{from: t.endT, to: f, txn: t.id, line: t.end})
			}
		}
		for p, n := range behind {
			if lsoT-t.endT > c.meta.StallS {
				stalls[p] = append(stalls[p], stall{from: t.endT, to: lsoT, txn: t.id, line: t.end, behind: n})
			}
		}
	}
	parts := make([]int32, 0, len(stalls))
	for p := range stalls {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		ss := stalls[p]
		slices.SortFunc(ss, func(a, b stall) int { return cmp.Compare(a.from, b.from) })
		for i := 0; i < len(ss); {
			w, n := ss[i], 1
			for i+n < len(ss) && ss[i+n].from <= w.to {
				w.to = max(w.to, ss[i+n].to)
				w.behind += ss[i+n].behind
				n++
			}
			i += n
			detail := fmt.Sprintf("%s committed at %.2fs; read_committed consumers saw nothing of it on partition %d for %.2fs (to %.2fs; %d transaction(s) waited; stall threshold %.0fs)", w.txn, w.from, p, w.to-w.from, w.to, n, c.meta.StallS)
			if w.behind > 0 {
				detail += fmt.Sprintf("; at the end %d committed record(s) were still beyond the last stable offset %d", w.behind, lso[p])
			}
			c.add(StalledLSO, Example{Partition: p, Offset: lso[p], Lines: []int{w.line}, Detail: detail})
		}
	}

	// Lost inputs: acknowledged, never transformed by a committed
	// transaction nor visible in the output.
	for src := range bySrc {
		covered[src] = true
	}
	srcSeen := map[string]int{}
	for src := range covered {
		srcSeen[src] = 1
	}
	c.lost(acks, srcSeen, "never transformed by a committed transaction")
}

func outcomeName(t *txn) string {
	if t.committed() {
		return "committed"
	}
	return "outcome unknown"
}

func head(xs []string, n int) []string { return xs[:min(n, len(xs))] }

// availability finds, for produce, consume and commit, the longest
// stretch of the load without a success.
func (c *checker) availability() {
	from, to := c.ops[0].T, c.ops[len(c.ops)-1].T
	for _, op := range c.ops {
		if op.Type == TPhase && op.Note == PhaseLoadStart {
			from = op.T
		}
		if op.Type == TPhase && op.Note == PhaseLoadEnd {
			to = op.T
		}
	}
	succ := map[string][]float64{}
	for _, op := range c.ops {
		var what string
		switch {
		case op.Type == TProduce && op.Outcome == OK:
			what = "produce"
		case op.Type == TConsume:
			what = "consume"
		case (op.Type == TCommit || op.Type == TTxnCommit) && op.Outcome == OK:
			what = "commit"
		default:
			continue
		}
		succ[what] = append(succ[what], op.T)
	}
	for _, what := range []string{"produce", "consume", "commit"} {
		ts, ok := succ[what]
		if !ok {
			if what == "produce" || c.meta.Workload != "produce" {
				c.res.Availability = append(c.res.Availability, Window{What: what, From: from, To: to, Seconds: to - from, None: true})
			}
			continue
		}
		w := Window{What: what}
		prev := from
		for _, t := range ts {
			if t < from {
				continue
			}
			if t > to {
				break
			}
			if t-prev > w.Seconds {
				w = Window{What: what, From: prev, To: t, Seconds: t - prev}
			}
			prev = t
		}
		if to-prev > w.Seconds {
			w = Window{What: what, From: prev, To: to, Seconds: to - prev}
		}
		c.res.Availability = append(c.res.Availability, w)
	}
}

// faults pairs fault-start and fault-stop lines.
func (c *checker) faults() {
	open := map[string]int{} // fault -> index in Faults
	for _, op := range c.ops {
		switch op.Type {
		case TFaultStart:
			open[op.Fault] = len(c.res.Faults)
			c.res.Faults = append(c.res.Faults, Fault{Fault: op.Fault, Brokers: op.Brokers, Start: op.T, Stop: -1, Note: op.Note, Err: op.Err})
		case TFaultStop:
			if i, ok := open[op.Fault]; ok {
				f := &c.res.Faults[i]
				f.Stop = op.T
				if op.Note != "" {
					f.Note = strings.TrimPrefix(f.Note+"; ", "; ") + op.Note
				}
				if op.Err != "" {
					f.Err = strings.TrimPrefix(f.Err+"; ", "; ") + "heal: " + op.Err
				}
				delete(open, op.Fault)
			}
		}
	}
}
