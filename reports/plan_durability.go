package reports

import (
	"fmt"
	"strconv"
	"strings"
)

// durabilityEvidence adds what a frontier run measured to the acks
// recommendation, and recommends min.insync.replicas from it: each
// acks=all level's loss and refusals under the faults and its capacity
// against the acks=1 level of the same replication factor. recs are
// returned unchanged when the run measured no frontier.
func durabilityEvidence(recs []Recommendation, levels []LevelOutcome, rf int) []Recommendation {
	if len(levels) == 0 {
		return recs
	}
	var all []LevelOutcome
	byLevel := map[string]LevelOutcome{}
	for _, l := range levels {
		byLevel[l.Level] = l
		if strings.HasPrefix(l.Level, "acks=all ") {
			all = append(all, l)
		}
	}
	for i := range recs {
		if recs[i].Setting != "acks" {
			continue
		}
		for _, a := range all {
			line := fmt.Sprintf("measured under faults: %s lost %d acknowledged records in %d fault run(s) (%d refused, the producer was told) at %s MiB/s sustained",
				a.Level, a.Lost, a.FaultRuns, a.Refused, formatFig(a.MaxMiBps))
			one := strings.Replace(a.Level, "acks=all", "acks=1", 1)
			if before, _, ok := strings.Cut(one, " min.insync="); ok {
				one = before + " min.insync=1" // min.insync only binds acks=all
			}
			if o, ok := byLevel[one]; ok {
				line += fmt.Sprintf("; %s lost %d", o.Level, o.Lost)
				if o.LagMs > 0 && o.Lost > 0 {
					line += fmt.Sprintf(" in a %g ms replication lag", o.LagMs)
				}
				line += fmt.Sprintf(" at %s MiB/s", formatFig(o.MaxMiBps))
				if o.MaxMiBps > 0 {
					line += fmt.Sprintf(" (acks=all's capacity cost: %+.0f %%)", 100*(a.MaxMiBps/o.MaxMiBps-1))
				}
			}
			recs[i].Costs = append(recs[i].Costs, line)
		}
	}
	// min.insync.replicas: the highest measured value that lost nothing
	// at the plan's RF, below RF so one broker can fail without refusals.
	var best *LevelOutcome
	var seen []string
	for i := range all {
		a := &all[i]
		if !strings.Contains(a.Level, fmt.Sprintf(" RF=%d ", rf)) {
			continue
		}
		mi := minISROf(a.Level)
		seen = append(seen, fmt.Sprintf("min.insync=%d lost %d and refused %d in %d fault run(s), %s MiB/s sustained",
			mi, a.Lost, a.Refused, a.FaultRuns, formatFig(a.MaxMiBps)))
		if a.Lost == 0 && mi < rf && (best == nil || mi > minISROf(best.Level)) {
			best = a
		}
	}
	if best == nil {
		return recs
	}
	return append(recs, Recommendation{
		Setting: "min.insync.replicas", Value: strconv.Itoa(minISROf(best.Level)),
		Why: fmt.Sprintf("with acks=all at RF %d the run lost no acknowledged record at this setting under its faults; "+
			"below it the cluster refuses writes (NOT_ENOUGH_REPLICAS, the producer is told) instead of keeping them on fewer copies", rf),
		Costs: seen,
	})
}

// minISROf reads min.insync from a level name; 1 when absent.
func minISROf(level string) int {
	_, v, ok := strings.Cut(level, "min.insync=")
	if !ok {
		return 1
	}
	n, err := strconv.Atoi(strings.Fields(v)[0])
	if err != nil {
		return 1
	}
	return n
}
