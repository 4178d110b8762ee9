package selfbench

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/internal/stats"
)

// GenSummarize pairs the sides of every workload round by round.
func GenSummarize(works []GenWorkload, samples []GenSample) []GenSummary {
	var out []GenSummary
	for _, w := range works {
		name := w.Name()
		per := map[string]map[int]GenSample{SideBare: {}, SideKbench: {}}
		for _, s := range samples {
			if s.Workload == name && s.Error == "" {
				per[s.Side][s.Round] = s
			}
		}
		col := func(side string, f func(GenSample) float64) (Stat, map[int]float64) {
			m := map[int]float64{}
			var xs []float64
			for r, s := range per[side] {
				m[r] = f(s)
				xs = append(xs, f(s))
			}
			return summarize(xs), m
		}
		rate := func(s GenSample) float64 { return s.RecordsPerSec }
		cpu := func(s GenSample) float64 { return nanIfZero(s.CPUSecPerGB) }
		sum := GenSummary{GenWorkload: w, Name: name}
		var br, kr, bc, kc map[int]float64
		sum.Bare, br = col(SideBare, rate)
		sum.Kbench, kr = col(SideKbench, rate)
		sum.BareCPU, bc = col(SideBare, cpu)
		sum.KbenchCPU, kc = col(SideKbench, cpu)
		sum.RateRatio = ratios(kr, br)
		sum.CPURatio = ratios(kc, bc)
		out = append(out, sum)
	}
	return out
}

// GenCheck is one generator target and whether the run met it.
type GenCheck struct {
	Target string `json:"target"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// GenChecks judges the report against the generator's targets: kbench
// produces unthrottled at ≥ 0.9 × the bare loop, costs ≤ 1.15 × its CPU at
// a fixed rate, consumes at ≥ 0.9 × a bare consumer, and costs ≤ 1.2 × a bare
// producer plus consumer end to end. Judged on the median per-round ratio;
// the detail names the worst workload and its range.
func GenChecks(r *GenReport) []GenCheck {
	var out []GenCheck
	judge := func(target, phase string, limit float64, higherIsBetter bool, pick func(GenSummary) Stat) {
		var worst *GenSummary
		var worstStat Stat
		short := 0
		n := 0
		for i := range r.Summaries {
			s := r.Summaries[i]
			if s.Phase != phase {
				continue
			}
			st := pick(s)
			if st.N == 0 {
				continue
			}
			n++
			bad := st.Median < limit
			if !higherIsBetter {
				bad = st.Median > limit
			}
			if bad {
				short++
			}
			if worst == nil || (higherIsBetter && st.Median < worstStat.Median) || (!higherIsBetter && st.Median > worstStat.Median) {
				worst, worstStat = &r.Summaries[i], st
			}
		}
		c := GenCheck{Target: target, Status: NotMeasured}
		if worst == nil {
			c.Detail = "not measured"
			out = append(out, c)
			return
		}
		c.Status = Met
		if short > 0 {
			c.Status = NotMet
		}
		c.Detail = fmt.Sprintf("worst %s: %.2f (%.2f-%.2f over %d pairs); %d of %d workloads short",
			worst.Name, worstStat.Median, worstStat.Min, worstStat.Max, worstStat.N, short, n)
		out = append(out, c)
	}
	rate := func(s GenSummary) Stat { return s.RateRatio }
	cpu := func(s GenSummary) Stat { return s.CPURatio }
	judge("unthrottled produce >= 0.9 x bare loop", GenProduce, 0.9, true, rate)
	judge("fixed-rate produce CPU <= 1.15 x bare loop", GenFixed, 1.15, false, cpu)
	judge("consume >= 0.9 x bare consume loop", GenConsume, 0.9, true, rate)
	judge("e2e CPU <= 1.2 x bare producer + consumer", GenE2E, 1.2, false, cpu)
	return out
}

// WriteGenTable prints the comparison: medians over rounds, the range of
// the per-round ratios, and the verdicts.
func WriteGenTable(w io.Writer, r *GenReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "generator ceiling: %d rounds (%d consume pairs each), %.1f s + %.1f s warmup per run, %d CPUs (GOMAXPROCS %d), %.0f s in all\n",
		r.Config.Rounds, r.Config.ConsumePairs, r.DurationS, r.WarmupS, r.Machine.CPUs, r.Machine.GoMaxProcs, r.Elapsed)
	fmt.Fprintf(&b, "records/s and CPU s/GB are medians over side-by-side pairs (one per round; consume more); ratios are kbench/bare per pair: median (min-max)\n\n")
	fmt.Fprintf(&b, "%-44s %11s %11s %-18s %8s %8s %-18s %s\n", "workload", "bare rec/s", "kbench", "rate ratio", "bare s/GB", "kbench", "cpu ratio", "kbench own CPU")
	for _, s := range r.Summaries {
		share := ""
		if v := genShare(r, s.Name); !math.IsNaN(v) {
			share = fmt.Sprintf("%.0f %%", 100*v)
		}
		fmt.Fprintf(&b, "%-44s %11s %11s %-18s %8s %8s %-18s %s\n", s.Name,
			thousands(s.Bare.Median), thousands(s.Kbench.Median), ratioRange(s.RateRatio),
			num(s.BareCPU.Median, 2), num(s.KbenchCPU.Median, 2), ratioRange(s.CPURatio), share)
	}
	var errs int
	for _, s := range r.Samples {
		if s.Error != "" {
			errs++
		}
	}
	if errs > 0 {
		fmt.Fprintf(&b, "\n%d runs failed and are left out; their errors are in the JSON report\n", errs)
	}
	b.WriteString("\n")
	for _, c := range GenChecks(r) {
		fmt.Fprintf(&b, "%-8s %s: %s\n", strings.ToUpper(c.Status), c.Target, c.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// genShare is the median share of kbench's CPU spent in its own code.
func genShare(r *GenReport, name string) float64 {
	var xs []float64
	for _, s := range r.Samples {
		if s.Workload == name && s.Side == SideKbench && s.Error == "" && s.GeneratorShare > 0 {
			xs = append(xs, s.GeneratorShare)
		}
	}
	return stats.Median(xs)
}

func ratioRange(s Stat) string {
	if s.N == 0 || math.IsNaN(s.Median) {
		return "-"
	}
	return fmt.Sprintf("%.2f (%.2f-%.2f)", s.Median, s.Min, s.Max)
}

// WriteJSON writes the report as generator.json in dir.
func (r *GenReport) WriteJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "generator.json")
	return path, atomicfile.WriteJSON(path, r, false)
}
