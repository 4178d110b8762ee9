package reports

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// table is a rendered table, shared by the Markdown and HTML writers.
type table struct {
	head []string
	rows [][]string
	// class marks rows: "best", "invalid", "failed", "missing" or "".
	class []string
}

func (t *table) add(class string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.class = append(t.class, class)
}

// withoutEmptyColumns drops the columns no row has a value in ("–" or
// empty), so a table shows only what the run measured.
func (t table) withoutEmptyColumns() table {
	keep := make([]bool, len(t.head))
	for i := range t.head {
		keep[i] = t.head[i] == ""
		for _, row := range t.rows {
			if i < len(row) && row[i] != "–" && row[i] != "" {
				keep[i] = true
				break
			}
		}
	}
	out := table{class: t.class}
	for i, h := range t.head {
		if keep[i] {
			out.head = append(out.head, h)
		}
	}
	for _, row := range t.rows {
		var r []string
		for i, c := range row {
			if i < len(keep) && keep[i] {
				r = append(r, c)
			}
		}
		out.rows = append(out.rows, r)
	}
	return out
}

// fig formats a point's median figure, "–" when absent.
func fig(p *Point, name string) string {
	v, ok := p.Fig(name)
	if !ok {
		return "–"
	}
	return formatFig(v)
}

func lingerText(s Settings) string {
	if s.LingerMs < 0 {
		return "–"
	}
	return strconv.Itoa(s.LingerMs)
}

func batchText(s Settings) string {
	if s.BatchBytes <= 0 {
		return "–"
	}
	return sizeLabel(s.BatchBytes)
}

// resultsTable lists every point of the profile, run or not.
func (r *Report) resultsTable() table {
	t := table{head: []string{"", "point", "swept settings", "durability", "codec", "linger.ms", "batch.size", "partitions",
		"rate", "records/s", "MiB/s", "p50 ms", "p99 ms", "p99.9 ms", "service p99 ms", "e2e p99 ms", "ratio", "CPU cores", "SLO", "valid", "notes"}}
	for _, p := range r.Run.Points {
		s := p.Set
		mark, class := "", ""
		var notes []string
		slo, valid := "–", "–"
		switch {
		case p.Line == nil:
			mark, class = "…", "missing"
			notes = append(notes, "not run yet")
		case p.Failed():
			mark, class = "✗", "failed"
			notes = append(notes, "failed: "+p.Line.Error)
		default:
			slo, valid = "met", "yes"
			if !p.Passed() {
				slo = "missed"
				notes = append(notes, "SLO missed: "+strings.Join(p.Line.SLO.Reasons, ", "))
			}
			if !p.Valid() {
				mark, class, valid = "⚠", "invalid", "INVALID"
				why := strings.Join(p.Line.Invalid, ", ")
				if why == "" {
					why = "no run counted"
				}
				notes = append(notes, "invalid: "+why)
			}
			switch {
			case r.Best[s.Durability()] == p:
				mark, class = "★", "best"
			case r.Tied[p]:
				mark = "≈"
				notes = append(notes, "tied with the best")
			}
			notes = append(notes, spreadNotes(p)...)
		}
		t.add(class, mark, p.Def.ID, p.Def.Label, s.Durability(), s.Codec, lingerText(s), batchText(s), strconv.Itoa(s.Partitions),
			rateOf(p), fig(p, "produce_records_per_sec"), fig(p, "produce_mib_per_sec"),
			fig(p, "response_p50_ms"), fig(p, "response_p99_ms"), fig(p, "response_p99_9_ms"), fig(p, "service_p99_ms"), fig(p, "e2e_p99_ms"),
			fig(p, "compression_ratio"), fig(p, "cpu_cores"), slo, valid, strings.Join(notes, "; "))
	}
	return t
}

// spreadNotes flags figures whose repetitions disagree by more than 10 %.
func spreadNotes(p *Point) []string {
	var out []string
	for _, name := range []string{"produce_records_per_sec", "response_p99_ms"} {
		if st, ok := p.Line.Figures[name]; ok && st.N > 1 && st.SpreadPct > 10 {
			out = append(out, fmt.Sprintf("%s spread %.0f %% over %d runs", name, st.SpreadPct, st.N))
		}
	}
	return out
}

// bestTable shows each durability level's best point.
func (r *Report) bestTable() table {
	t := table{head: []string{"durability", "best point", "swept settings", "codec", "linger.ms", "batch.size", "rate", "records/s", "MiB/s", "p99 ms", "e2e p99 ms"}}
	for _, lv := range r.Levels {
		p := r.Best[lv]
		if p == nil {
			t.add("", lv, "none met the SLO", "–", "–", "–", "–", "–", "–", "–", "–", "–")
			continue
		}
		s := p.Set
		t.add("best", lv, p.Def.ID, p.Def.Label, s.Codec, lingerText(s), batchText(s), rateOf(p),
			fig(p, "produce_records_per_sec"), fig(p, "produce_mib_per_sec"), fig(p, "response_p99_ms"), fig(p, "e2e_p99_ms"))
	}
	return t
}

// auditTable lists the durability audit of each audited point; ok is
// false when the run has none.
func (r *Report) auditTable() (table, bool) {
	t := table{head: []string{"point", "durability", "swept settings", "acknowledged", "readable", "lost", "duplicated", "unacked but present", "longest unavailability s"}}
	for _, p := range r.Run.Points {
		a := p.Audit
		if a == nil {
			continue
		}
		class := ""
		if a.Lost > 0 || a.Duplicated > 0 {
			class = "invalid"
		}
		t.add(class, p.Def.ID, p.Set.Durability(), p.Def.Label, strconv.FormatInt(a.Acknowledged, 10), strconv.FormatInt(a.Readable, 10),
			strconv.FormatInt(a.Lost, 10), strconv.FormatInt(a.Duplicated, 10), strconv.FormatInt(a.UnackedPresent, 10),
			formatFig(float64(a.Unavailability)))
	}
	return t, len(t.rows) > 0
}

// outcomeAbout explains the outcome table's columns.
const outcomeAbout = "Each fault scenario's run at the common rate, audited after the faults were healed: lost = acknowledged but not readable (silent loss), " +
	"duplicated = readable more than once, refused = the send failed and the producer was told (NOT_ENOUGH_REPLICAS, a timeout), " +
	"longest unavailability = the longest a partition went with a record waiting and none acknowledged."

// outcomeTable lists every fault run of a frontier: per point and scenario
// what the audit found.
func (r *Report) outcomeTable() (table, bool) {
	t := table{head: []string{"point", "durability", "scenario", "run", "records/s", "acknowledged", "lost", "duplicated", "refused", "longest unavailability s", "client errors"}}
	for _, p := range r.Run.Points {
		if !p.Done() {
			continue
		}
		for _, o := range p.Line.Outcomes {
			class := ""
			if o.Lost > 0 || o.Duplicated > 0 {
				class = "invalid"
			}
			var errs []string
			for _, e := range o.Errors {
				errs = append(errs, fmt.Sprintf("%d × %s", e.Count, e.Name))
			}
			t.add(class, p.Def.ID, p.Set.Durability(), o.Scenario, o.Run, formatCount(o.Rate), strconv.FormatInt(o.Acknowledged, 10),
				strconv.FormatInt(o.Lost, 10), strconv.FormatInt(o.Duplicated, 10), strconv.FormatInt(o.Refused, 10),
				formatFig(float64(o.Unavailability)), cmp.Or(strings.Join(errs, ", "), "–"))
		}
	}
	return t, len(t.rows) > 0
}

// markdown writes the table; pipes in cells are escaped.
func (t table) markdown(b *strings.Builder) {
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "|", `\|`)
		return strings.ReplaceAll(s, "\n", " ")
	}
	b.WriteString("|")
	for _, h := range t.head {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for range t.head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i, row := range t.rows {
		b.WriteString("|")
		for j, c := range row {
			c = cell(c)
			if t.class[i] == "best" && j <= 1 && c != "" {
				c = "**" + c + "**"
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
}
