package sweep

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kbench/kbench/profiles"
)

// runOverhead is what a run costs beyond warmup and duration: topic
// checks, clients connecting, the end-to-end drain and closing (measured
// on the embedded broker; a remote cluster adds round trips).
const runOverhead = 500 * time.Millisecond

// expectedProbes is how many runs a search typically takes: the
// calibration, the start and one step out of it, then bisection down to
// the precision. The probe budget caps it.
func expectedProbes(s profiles.Search) int {
	n := 2
	if s.Start == 0 {
		n++
	}
	factor, prec := s.Factor, s.Precision
	if factor <= 1 {
		factor = profiles.DefaultSearchFactor
	}
	if prec <= 0 {
		prec = profiles.DefaultSearchPrecision
	}
	n += int(math.Ceil(math.Log2(math.Log(factor) / math.Log1p(prec))))
	return min(n, maxProbes(s))
}

func maxProbes(s profiles.Search) int {
	if s.MaxProbes < 2 {
		return profiles.DefaultSearchMaxProbes
	}
	return s.MaxProbes
}

// runsOf is the expected and the largest number of runs of a point.
func runsOf(p *profiles.Profile, pt *profiles.Point) (expected, most int) {
	if pt.Rate.Kind == profiles.RateMaxSustainable {
		extra := frontierRunsPer(p)
		return p.Repeat * (expectedProbes(p.Search) + extra), p.Repeat * (maxProbes(p.Search) + extra)
	}
	return p.Repeat, p.Repeat
}

func perRun(pt *profiles.Point) time.Duration {
	return time.Duration(pt.Warmup) + time.Duration(pt.Duration) + runOverhead
}

// Estimate is the expected duration of each point and of the whole sweep,
// and the longest the sweep can take (every search using its budget).
func Estimate(p *profiles.Profile) (perPoint []time.Duration, total, most time.Duration) {
	for i := range p.Points {
		pt := &p.Points[i]
		exp, mx := runsOf(p, pt)
		extra := frontierExtra(p)
		d := time.Duration(exp)*perRun(pt) + extra
		perPoint = append(perPoint, d)
		total += d
		most += time.Duration(mx)*perRun(pt) + extra
	}
	return perPoint, total, most
}

// WriteDryRun prints what a sweep of p would run: the resolved settings, the
// expanded points and the estimated duration (kbench sweep --dry-run).
func WriteDryRun(w io.Writer, p *profiles.Profile) error {
	var b strings.Builder
	src := p.Source
	fmt.Fprintf(&b, "profile %s (%s)", p.Name, src)
	if p.Description != "" {
		fmt.Fprintf(&b, ": %s", p.Description)
	}
	b.WriteString("\n")
	for _, o := range p.Overrides {
		fmt.Fprintf(&b, "  --set %s\n", o)
	}
	base := &p.Base
	var shapes []int
	for i := range p.Points {
		if !slices.Contains(shapes, p.Points[i].Brokers) {
			shapes = append(shapes, p.Points[i].Brokers)
		}
	}
	kv := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-10s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	kv("target", "%s", describeTarget(p.Target.Bootstrap, shapes))
	if p.Target.ClientProperties != "" || len(p.Target.Client) > 0 {
		kv("client", "%s", strings.TrimSpace(p.Target.ClientProperties+" "+props(redact(p.Target.Client))))
	}
	rf := fmt.Sprintf("replication factor %d", base.Topic.ReplicationFactor)
	if base.Topic.ReplicationFactor == 0 {
		rf = "the cluster's default replication factor"
	}
	kv("topic", "%s, %d partitions, %s%s", base.Topic.Name, base.Topic.Partitions, rf, configs(base.Topic.Configs))
	kv("producer", "%s", cmpOr(props(base.Producer), "Kafka defaults"))
	if base.Mode == "e2e" {
		kv("consumer", "%s", cmpOr(props(base.Consumer), "Kafka defaults"))
	}
	kv("workload", "%s, %d producers, %d consumers, record size %s, keys %s, payload %s; warmup %v + %v measured per run",
		base.Mode, base.Producers, base.Consumers, base.Workload.RecordSize, cmpOr(base.Workload.Keys, "none"),
		cmpOr(base.Workload.Payload, "random"), time.Duration(base.Warmup), time.Duration(base.Duration))
	rate := describeRate(base.Rate)
	for _, ax := range p.Axes {
		for _, g := range ax.Values {
			for _, st := range g {
				if st.Name == "rate" {
					rate = "swept (see axes)"
				}
			}
		}
	}
	kv("rate", "%s", rate)
	if p.UsesSearch() {
		s := p.Search
		start := "calibrate (one unthrottled probe, then 0.8× what it achieved)"
		if s.Start > 0 {
			start = fmt.Sprintf("%g records/s", s.Start)
		}
		kv("search", "start %s, step ×%g, precision %g %%, at most %d probes", start, s.Factor, s.Precision*100, maxProbes(s))
	}
	kv("slo", "%s", p.SLO.Describe())
	if len(p.Faults) > 0 {
		kv("faults", "%s after the warmup of every run, healed when the load ends", strings.Join(p.Faults.Strings(), ", "))
	}
	if p.Audit {
		kv("audit", "%s", "every run's records read back: lost, duplicated, unavailability")
	}
	if f := p.Frontier; f != nil {
		kv("frontier", "after each search, at a common %g records/s: one run without faults (steady-state p50/p99), then one audited run per scenario:", f.Rate)
		for _, sc := range f.Scenarios {
			fmt.Fprintf(&b, "%-10s   %s: %s\n", "", sc.Name, strings.Join(sc.Faults.Strings(), ", "))
		}
	}
	kv("repeat", "%d", p.Repeat)
	var axes []string
	for _, ax := range p.Axes {
		var vals []string
		for _, g := range ax.Values {
			var parts []string
			for _, s := range g {
				if len(g) == 1 && s.Name == ax.Name {
					parts = append(parts, s.Written)
				} else {
					parts = append(parts, s.Name+"="+s.Written)
				}
			}
			vals = append(vals, strings.Join(parts, ","))
		}
		axes = append(axes, fmt.Sprintf("%s [%s]", ax.Name, strings.Join(vals, " ")))
	}
	if len(axes) > 0 {
		kv("axes", "%s", strings.Join(axes, " × "))
	}
	for _, r := range p.Exclude {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r)) {
			parts = append(parts, k+"="+strings.Join(r[k], "|"))
		}
		kv("exclude", "%s", strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	per, total, most := Estimate(p)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	cols := []string{"#", "id"}
	var names []string
	for _, ax := range p.Axes {
		for _, g := range ax.Values {
			for _, s := range g {
				if !slices.Contains(names, s.Name) {
					names = append(names, s.Name)
				}
			}
		}
	}
	cols = append(append(cols, names...), "brokers", "runs", "est.")
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	runs := 0
	for i := range p.Points {
		pt := &p.Points[i]
		row := []string{fmt.Sprint(pt.Index), pt.ID}
		for _, n := range names {
			v := "-"
			for _, s := range pt.Axes {
				if s.Name == n {
					v = s.Written
				}
			}
			row = append(row, v)
		}
		exp, mx := runsOf(p, pt)
		runs += exp
		r := fmt.Sprint(exp)
		if mx != exp {
			r = fmt.Sprintf("~%d (≤%d)", exp, mx)
		}
		shape := fmt.Sprint(pt.Brokers)
		if !p.Target.Embedded() && pt.Brokers == 0 {
			shape = "-"
		} else if p.Target.Embedded() && CheckShape(pt.Brokers) != nil {
			shape += " (n/a)"
		}
		row = append(row, shape, r, fmtDur(per[i]))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var tail strings.Builder
	fmt.Fprintf(&tail, "\n%d points", len(p.Points))
	if p.Excluded > 0 {
		fmt.Fprintf(&tail, " (%d excluded)", p.Excluded)
	}
	fmt.Fprintf(&tail, ", about %d runs, estimated %s", runs, fmtDur(total))
	if most != total {
		fmt.Fprintf(&tail, " (at most %s if every search uses its probe budget)", fmtDur(most))
	}
	tail.WriteString("\n")
	unavailable := 0
	for i := range p.Points {
		if p.Target.Embedded() && CheckShape(p.Points[i].Brokers) != nil {
			unavailable++
		}
	}
	if unavailable > 0 {
		fmt.Fprintf(&tail, "note: %d points need a cluster the embedded target cannot start (it runs 1 to %d brokers); they will be recorded as failed. Use --bootstrap to run them on a real cluster.\n",
			unavailable, EmbeddedMaxBrokers)
	}
	_, err := io.WriteString(w, tail.String())
	return err
}

func describeRate(r profiles.Rate) string {
	switch r.Kind {
	case profiles.RateFixed:
		return fmt.Sprintf("fixed %g records/s", r.PerSec)
	case profiles.RateUnthrottled:
		return "unthrottled (as fast as the producers can)"
	case profiles.RateMaxSustainable:
		return "max-sustainable (search for the highest rate meeting the SLO)"
	}
	return "swept (see axes)"
}

func props(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

func configs(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	return ", configs " + props(m)
}

// redact hides secrets in client properties shown to the user.
func redact(m map[string]string) map[string]string {
	out := maps.Clone(m)
	for k := range out {
		if k == "sasl.jaas.config" || strings.HasSuffix(k, "password") {
			out[k] = "[redacted]"
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// fmtDur rounds a duration for people: 1h2m, 4m10s, 42s.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	case d >= time.Minute:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
