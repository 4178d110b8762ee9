package verify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// describe says what each anomaly means, for the summary.
var describe = map[Kind]string{
	Lost:             "acknowledged, never read back / delivered / transformed",
	Duplicated:       "read back more than once with idempotence on",
	CommitRegression: "committed offset went below an earlier successful commit",
	Skip:             "consumer started beyond records nobody had consumed",
	Order:            "delivered out of offset order within one assignment",
	AbortedRead:      "read_committed consumer saw an aborted transaction's record",
	MissingCommitted: "committed transaction's record never visible",
	EOSDuplicate:     "input in the exactly-once output more than once",
	TornTxn:          "part of a committed transaction visible",
	StalledLSO:       "committed records invisible to read_committed for longer than the stall threshold",
}

// WriteSummary prints the verdict, the anomaly table with first examples,
// the counts, the faults and availability.
func WriteSummary(w io.Writer, r *Result, history string) {
	var total int
	for _, a := range r.Anomalies {
		total += a.Count
	}
	line := fmt.Sprintf("verdict: %s", r.Verdict())
	if !r.Valid {
		line += fmt.Sprintf(" (%d kind(s), %d occurrence(s))", len(r.Anomalies), total)
	}
	fmt.Fprintf(w, "%s — %s workload, history %s\n", line, r.Meta.Workload, history)
	if !r.Complete {
		fmt.Fprintln(w, "  the history has no end: the run was interrupted, so unread records may show as lost")
	}
	if len(r.Anomalies) > 0 {
		fmt.Fprintln(w, "anomalies:")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tCOUNT\tMEANING")
		for _, a := range r.Anomalies {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", a.Kind, a.Count, describe[a.Kind])
		}
		tw.Flush()
		for _, a := range r.Anomalies {
			fmt.Fprintf(w, "  first %s:\n", a.Kind)
			for _, ex := range a.Examples {
				id := ""
				if ex.ID != "" {
					id = "record " + ex.ID + ": "
				}
				fmt.Fprintf(w, "    %s%s (history lines %s)\n", id, ex.Detail, joinInts(ex.Lines))
			}
		}
	}
	var clean []string
	for _, k := range r.Checked {
		if r.Count(k) == 0 {
			clean = append(clean, string(k))
		}
	}
	if len(clean) > 0 {
		fmt.Fprintf(w, "checked, none found: %s\n", strings.Join(clean, ", "))
	}
	s := r.Stats
	fmt.Fprintf(w, "records: %d sent, %d acknowledged, %d failed, %d unknown\n", s.Sent, s.Acked, s.Failed, s.Unknown)
	what := "deliveries"
	if r.Meta.Workload == "produce" {
		what = "read back"
	}
	fmt.Fprintf(w, "%s: %d of %d distinct ids; duplicates %d (rate %.2f%%); %d present without a successful send\n",
		what, s.Delivered, s.Distinct, s.Duplicates, 100*s.DuplicateRate, s.UnackedPresent)
	if s.Commits+s.CommitsFailed > 0 {
		fmt.Fprintf(w, "commits: %d ok, %d failed or unknown\n", s.Commits, s.CommitsFailed)
	}
	if r.Meta.Workload == "txn" {
		fmt.Fprintf(w, "transactions: %d committed, %d aborted, %d unknown\n", s.TxnCommitted, s.TxnAborted, s.TxnUnknown)
	}
	if len(r.Faults) > 0 {
		fmt.Fprintln(w, "faults (seconds since the start):")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for _, f := range r.Faults {
			stop := "never healed"
			if f.Stop >= 0 {
				stop = fmt.Sprintf("%.2f", f.Stop)
			}
			extra := f.Note
			if f.Err != "" {
				extra = strings.TrimPrefix(extra+"; ", "; ") + "ERROR " + f.Err
			}
			fmt.Fprintf(tw, "  %s\tbrokers %s\t%.2f → %s\t%s\n", f.Fault, joinInt32s(f.Brokers), f.Start, stop, extra)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "availability (longest window without a success during the load):")
	for _, a := range r.Availability {
		if a.None {
			fmt.Fprintf(w, "  %-8s none succeeded\n", a.What)
			continue
		}
		fmt.Fprintf(w, "  %-8s %.2fs (%.2fs → %.2fs)\n", a.What, a.Seconds, a.From, a.To)
	}
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ", ")
}

func joinInt32s(xs []int32) string {
	if len(xs) == 0 {
		return "-"
	}
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ",")
}
