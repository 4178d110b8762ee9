package selfbench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kbench/kbench/internal/atomicfile"
	"github.com/kbench/kbench/internal/stats"
)

// Report is everything one harness invocation measured; it round-trips
// through JSON.
type Report struct {
	Kbench   string    `json:"kbench_version"`
	Started  time.Time `json:"started"`
	ElapsedS float64   `json:"elapsed_s"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	// Samples holds every run; the summaries are computed from them.
	Samples []Sample  `json:"samples"`
	Produce []Summary `json:"produce"`
	Backlog []Summary `json:"backlog,omitempty"`
	Consume []Summary `json:"consume,omitempty"`
	Latency []Sample  `json:"latency,omitempty"`
	Allocs  []Sample  `json:"allocations,omitempty"`
	Checks  []Check   `json:"checks"`
	Notes   []string  `json:"notes,omitempty"`
	Errors  []string  `json:"errors,omitempty"`
}

// Machine is where the report was measured.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GoMaxProcs int    `json:"gomaxprocs"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Hostname   string `json:"hostname"`
}

// Settings is the configuration, with durations in seconds.
type Settings struct {
	Config
	WarmupS          float64 `json:"warmup_s"`
	DurationS        float64 `json:"duration_s"`
	LatencyDurationS float64 `json:"latency_duration_s"`
}

// Summary is one (phase, workload, target) over its rounds. The ratios are
// medians of per-round records/s ratios (see ratios); nil for the
// reference itself or when it was not measured.
type Summary struct {
	Phase         string `json:"phase"`
	Workload      string `json:"workload"`
	Target        Kind   `json:"target"`
	RecordsPerSec Stat   `json:"records_per_sec"`
	MBPerSec      Stat   `json:"mb_per_sec"`
	P50Ms         Stat   `json:"p50_ms"`
	P99Ms         Stat   `json:"p99_ms"`
	CPUSecPerGB   Stat   `json:"broker_cpu_s_per_gb"`
	PeakRSSMiB    Stat   `json:"broker_peak_rss_mib"`
	VsCeiling     *Stat  `json:"vs_ceiling,omitempty"`
	VsStore       *Stat  `json:"vs_store_only,omitempty"`
	VsKfake       *Stat  `json:"vs_kfake,omitempty"`
	Failed        int64  `json:"failed,omitempty"`
	// InvalidRuns counts the rounds bench judged invalid; Invalid lists
	// each kind of reason with how many runs it hit.
	InvalidRuns int      `json:"invalid_runs,omitempty"`
	Invalid     []string `json:"invalid,omitempty"`
}

// Check is one of the broker's performance targets and whether this run met it.
type Check struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Status string `json:"status"` // met, not met, not measured, info
}

// Check statuses.
const (
	Met         = "met"
	NotMet      = "not met"
	NotMeasured = "not measured"
	Info        = "info"
	// WithinNoise: the interval of the median reaches the target from
	// either side; more rounds would decide.
	WithinNoise = "within noise"
	// InvalidRun: the run behind the figure failed the load generator's
	// own checks, so the figure does not count.
	InvalidRun = "invalid run"
)

// statJSON writes NaN (nothing measured) as null, which JSON lacks.
type statJSON struct {
	Median *float64   `json:"median"`
	Min    *float64   `json:"min"`
	Max    *float64   `json:"max"`
	N      int        `json:"n"`
	Values []*float64 `json:"values,omitempty"`
}

func numPtr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func numOf(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes unmeasured figures as null.
func (s Stat) MarshalJSON() ([]byte, error) {
	var vs []*float64
	for _, v := range s.Values {
		vs = append(vs, numPtr(v))
	}
	return json.Marshal(statJSON{numPtr(s.Median), numPtr(s.Min), numPtr(s.Max), s.N, vs})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Stat) UnmarshalJSON(b []byte) error {
	var j statJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var vs []float64
	for _, v := range j.Values {
		vs = append(vs, numOf(v))
	}
	*s = Stat{numOf(j.Median), numOf(j.Min), numOf(j.Max), j.N, vs}
	return nil
}

// WriteJSON writes the report, indented.
func (r *Report) WriteJSON(path string) error {
	if err := atomicfile.WriteJSON(path, r, false); err != nil {
		return fmt.Errorf("selfbench report: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read selfbench report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode selfbench report %s: %w", path, err)
	}
	return &r, nil
}

func (h *harness) report() *Report {
	r := &Report{
		Kbench:   h.cfg.Version,
		Started:  h.started,
		ElapsedS: time.Since(h.started).Seconds(),
		Machine:  machine(),
		Settings: Settings{Config: h.cfg, WarmupS: h.cfg.Warmup.Seconds(), DurationS: h.cfg.Duration.Seconds(), LatencyDurationS: h.cfg.LatencyDuration.Seconds()},
		Samples:  h.samples,
		Errors:   h.errs,
	}
	r.Produce = Summarize(h.samples, PhaseProduce)
	r.Backlog = Summarize(h.samples, PhaseBacklog)
	r.Consume = Summarize(h.samples, PhaseConsume)
	for _, s := range h.samples {
		switch s.Phase {
		case PhaseLatency:
			r.Latency = append(r.Latency, s)
		case PhaseAllocs:
			r.Allocs = append(r.Allocs, s)
		}
	}
	r.Checks = Checks(r)
	r.Notes = h.notes()
	return r
}

func (h *harness) notes() []string {
	notes := []string{
		"every target is its own process: broker CPU (utime+stime from /proc/PID/stat) and peak RSS (VmHWM, reset through /proc/PID/clear_refs before each run) are the broker processes' only; for the RF=3 cluster they are summed over its 3 broker processes, and its controller (in the harness process) is not counted",
		"CPU s/GB is broker CPU over the whole run (warmup and flush included, topic creation excluded) per 10^9 bytes of record values acknowledged or consumed in it; MB/s is 10^6 bytes of record values per second",
		"p50/p99 are service times (actual send to acknowledgement); unthrottled runs saturate the load generator on a small machine, which bench marks as invalid: expected here, since the ratios compare targets under the same client",
		"ratios are the median over rounds of the per-round records/s ratio (runs of a round are adjacent in time), with their range",
		"acks=all producers are idempotent, acks=1 ones not; payloads are random with compressibility " + strconv.FormatFloat(h.cfg.Compressibility, 'g', -1, 64) + " (zstd gets about 2:1 on them)",
		"the catch-up reads a backlog just written, so the kbench broker serves it from the page cache",
	}
	switch {
	case !h.cfg.Allocations || !h.cfg.has(KbenchRF1):
		notes = append(notes, "allocations per produce request: not measured (switched off, or kbench-rf1 not among the targets)")
	case !h.metricsFlag:
		notes = append(notes, "allocations per produce request: not measured; `kbench broker` has no "+metricsFlag+" flag, and another process's Go allocation counters cannot be read from outside")
	default:
		notes = append(notes, "allocations per produce request: from a separate `kbench broker "+metricsFlag+"` process (so the metrics' own cost stays out of the throughput runs): go_memstats_mallocs_total and alloc_bytes_total per kbench_broker_request_duration_seconds_count{api=\"Produce\"}, as the slope between a run and one twice as long on a warmed topic, so per-run costs (client connections, metadata, the scrapes) cancel; the whole process counts, background work included")
	}
	return notes
}

// Summarize groups a phase's samples by workload and target, in the order
// they first appear, and adds the ratios to the ceiling and kfake.
func Summarize(samples []Sample, phase string) []Summary {
	type key struct {
		w string
		k Kind
	}
	var keys []key
	by := map[key][]Sample{}
	firstSeen := map[string]int{}
	for _, s := range samples {
		if s.Phase != phase || !s.ok() {
			continue
		}
		k := key{s.Workload, s.Target}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		if _, ok := firstSeen[s.Workload]; !ok {
			firstSeen[s.Workload] = len(firstSeen)
		}
		by[k] = append(by[k], s)
	}
	// Rows grouped by workload, targets in their fixed order.
	slices.SortFunc(keys, func(a, b key) int {
		if a.w != b.w {
			return firstSeen[a.w] - firstSeen[b.w]
		}
		return slices.Index(AllKinds(), a.k) - slices.Index(AllKinds(), b.k)
	})
	rates := func(k key) map[int]float64 {
		m := map[int]float64{}
		for _, s := range by[k] {
			m[s.Round] = s.RecordsPerSec
		}
		return m
	}
	var out []Summary
	for _, k := range keys {
		ss := by[k]
		col := func(f func(Sample) float64) Stat {
			xs := make([]float64, len(ss))
			for i, s := range ss {
				xs[i] = f(s)
			}
			return summarize(xs)
		}
		sum := Summary{
			Phase: phase, Workload: k.w, Target: k.k,
			RecordsPerSec: col(func(s Sample) float64 { return s.RecordsPerSec }),
			MBPerSec:      col(func(s Sample) float64 { return s.MBPerSec }),
			P50Ms:         col(func(s Sample) float64 { return nanIfZero(s.P50Ms) }),
			P99Ms:         col(func(s Sample) float64 { return nanIfZero(s.P99Ms) }),
			CPUSecPerGB:   col(func(s Sample) float64 { return nanIfZero(s.CPUSecPerGB) }),
			PeakRSSMiB:    col(func(s Sample) float64 { return s.PeakRSSMiB }),
		}
		kinds := map[string]int{}
		var order []string
		for _, s := range ss {
			sum.Failed += s.Failed
			if len(s.Invalid) > 0 {
				sum.InvalidRuns++
			}
			for _, why := range s.Invalid {
				// The kind is what comes before the run's own figures.
				kind, _, _ := strings.Cut(why, ":")
				if kinds[kind] == 0 {
					order = append(order, kind)
				}
				kinds[kind]++
			}
		}
		for _, kind := range order {
			sum.Invalid = append(sum.Invalid, fmt.Sprintf("%s (%d of %d runs)", kind, kinds[kind], len(ss)))
		}
		for ref, dst := range map[Kind]**Stat{Ceiling: &sum.VsCeiling, StoreOnly: &sum.VsStore, Kfake: &sum.VsKfake} {
			if k.k == ref {
				continue
			}
			if _, ok := by[key{k.w, ref}]; ok {
				st := ratios(rates(k), rates(key{k.w, ref}))
				*dst = &st
			}
		}
		out = append(out, sum)
	}
	return out
}

// nanIfZero marks a figure that was not measured (no latency in a consume
// run, no bytes moved) so it stays out of medians.
func nanIfZero(x float64) float64 {
	if x == 0 {
		return math.NaN()
	}
	return x
}

func find(sums []Summary, workload string, k Kind) *Summary {
	for i := range sums {
		if sums[i].Workload == workload && sums[i].Target == k {
			return &sums[i]
		}
	}
	return nil
}

// Checks compares the report with the broker's performance targets.
func Checks(r *Report) []Check {
	var out []Check
	status := func(ok bool) string {
		if ok {
			return Met
		}
		return NotMet
	}
	// judge pools the per-round ratios of the workloads picked and judges
	// their median with its 95 % interval (internal/stats): met when the
	// whole interval is at or above the target, not met when it is all
	// below, within noise otherwise. The lowest workload is named too.
	judge := func(pick func(Summary) bool, ratio func(Summary) *Stat, target float64) (string, string, bool) {
		var pool []float64
		var name string
		var low *Stat
		workloads := 0
		for _, s := range r.Produce {
			if !pick(s) {
				continue
			}
			st := ratio(s)
			if st == nil || math.IsNaN(st.Median) {
				continue
			}
			workloads++
			pool = append(pool, st.Values...)
			if low == nil || st.Median < low.Median {
				name, low = s.Workload, st
			}
		}
		if low == nil || len(pool) == 0 {
			return "", "", false
		}
		med := stats.Median(pool)
		lo, hi := stats.MedianInterval(pool, 0.05)
		interval := fmt.Sprintf("95 %% interval %.2f-%.2f", lo, hi)
		if math.IsInf(lo, 0) {
			interval = "no 95 % interval (6 or more workload rounds needed)"
		}
		got := fmt.Sprintf("median %.3f, %s over %d workload rounds (%d workloads); lowest workload %.3f (%s)",
			med, interval, len(pool), workloads, low.Median, name)
		switch {
		case lo >= target:
			return got, Met, true
		case hi < target:
			return got, NotMet, true
		}
		return got, WithinNoise, true
	}
	vsCeiling := func(s Summary) *Stat { return s.VsCeiling }
	vsKfake := func(s Summary) *Stat { return s.VsKfake }
	vsStore := func(s Summary) *Stat { return s.VsStore }

	sizes := []int{}
	for _, w := range r.Settings.Workloads {
		if w.Acks == "1" && !slices.Contains(sizes, w.RecordSize) {
			sizes = append(sizes, w.RecordSize)
		}
	}
	// check judges one ratio target, or says it was not measured.
	check := func(name, want string, pick func(Summary) bool, ratio func(Summary) *Stat, target float64) Check {
		c := Check{Name: name, Want: want, Got: "-", Status: NotMeasured}
		if got, st, ok := judge(pick, ratio, target); ok {
			c.Got, c.Status = got, st
		}
		return c
	}
	for _, size := range sizes {
		label := sizeLabel(int64(size))
		pick := func(s Summary) bool {
			return s.Target == KbenchRF1 && strings.HasPrefix(s.Workload, label+" ") && strings.Contains(s.Workload, "acks=1 ")
		}
		const want = ">= 0.85 (median over the acks=1 workloads and rounds)"
		// Against the broker that stores nothing, and against one that
		// stores the batches and does nothing else: the limit a storing
		// broker can reach.
		out = append(out,
			check(fmt.Sprintf("kbench RF=1 acks=1, %s records, vs ceiling (records/s)", label), want, pick, vsCeiling, 0.85),
			check(fmt.Sprintf("kbench RF=1 acks=1, %s records, vs store-only ceiling (records/s)", label), want, pick, vsStore, 0.85))
	}
	rf3 := func(s Summary) bool { return s.Target == KbenchRF3 }
	rf1 := func(s Summary) bool { return s.Target == KbenchRF1 }
	const median = " (median over the workloads and rounds)"
	out = append(out,
		// kfake is one in-memory broker: kbench RF=1 is its like for like.
		check("kbench RF=1 vs kfake, both one broker at RF=1 (records/s)", ">= 1"+median, rf1, vsKfake, 1),
		check("kbench RF=3 acks=all vs ceiling (records/s)", ">= 0.5"+median, rf3, vsCeiling, 0.5),
		check("kbench RF=3 acks=all vs kfake (1 broker, RF=1, in memory; records/s)", ">= 1"+median, rf3, vsKfake, 1))

	// Catch-up against the produce rate of the same bytes, and CPU per GB.
	c := Check{Name: "kbench RF=1 consume catch-up vs producing the same bytes (MB/s)", Want: ">= 2"}
	cpu := Check{Name: "kbench RF=1 broker CPU per GB: fetch (catch-up) vs produce (backlog)", Want: "fetch well below produce (sendfile)", Status: Info}
	var cons, prod *Summary
	for i := range r.Consume {
		if r.Consume[i].Target == KbenchRF1 {
			cons = &r.Consume[i]
		}
	}
	for i := range r.Backlog {
		if r.Backlog[i].Target == KbenchRF1 {
			prod = &r.Backlog[i]
		}
	}
	if cons != nil && prod != nil && prod.MBPerSec.Median > 0 {
		x := cons.MBPerSec.Median / prod.MBPerSec.Median
		c.Got, c.Status = fmt.Sprintf("%.3f (%.0f vs %.0f MB/s)", x, cons.MBPerSec.Median, prod.MBPerSec.Median), status(x >= 2)
		cpu.Got = fmt.Sprintf("fetch %s vs produce %s CPU s/GB", num(cons.CPUSecPerGB.Median, 2), num(prod.CPUSecPerGB.Median, 2))
	} else {
		c.Got, c.Status = "-", NotMeasured
		cpu.Got, cpu.Status = "-", NotMeasured
	}
	out = append(out, c, cpu)

	p99 := Check{Name: "kbench RF=3 acks=all p99 service time at 50 % of its max rate", Want: "<= 2 ms"}
	p999 := Check{Name: "kbench RF=3 acks=all p99.9 service time at 50 % of its max rate", Want: "<= 5 ms"}
	p99.Got, p99.Status, p999.Got, p999.Status = "-", NotMeasured, "-", NotMeasured
	for _, s := range r.Latency {
		if s.Target == KbenchRF3 && s.ok() {
			p99.Got = fmt.Sprintf("%.2f ms at %.0f records/s (%s)", s.P99Ms, s.TargetRate, s.Workload)
			p99.Status = status(s.P99Ms <= 2)
			p999.Got = fmt.Sprintf("%.2f ms", s.P999Ms)
			p999.Status = status(s.P999Ms <= 5)
			if len(s.Invalid) > 0 { // a latency from an invalid run does not count either way
				why := "; INVALID run: " + strings.Join(s.Invalid, "; ")
				p99.Got, p999.Got = p99.Got+why, p999.Got+why
				p99.Status, p999.Status = InvalidRun, InvalidRun
			}
		}
	}
	allocs := Check{Name: "kbench RF=1 steady-state allocations per produce request", Want: "about 0 (below 1 in every workload)", Got: "-", Status: NotMeasured}
	var got []string
	worst := math.Inf(-1)
	for _, s := range r.Allocs {
		if s.ok() {
			got = append(got, fmt.Sprintf("%.1f (%s)", s.AllocsPerRequest, s.Workload))
			worst = max(worst, s.AllocsPerRequest)
		}
	}
	if len(got) > 0 {
		allocs.Got, allocs.Status = strings.Join(got, ", "), status(worst < 1)
	}
	return append(out, p99, p999, allocs)
}

// WriteTable prints the ratio table, the catch-up, the latency runs and the
// checks.
func WriteTable(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	pr := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	header := "workload\ttarget\trec/s\tspread\tMB/s\tp50 ms\tp99 ms\tcpu s/GB\trss MiB\tx ceiling\tx store\tx kfake\t\n"
	sections := []struct {
		title string
		sums  []Summary
	}{
		{fmt.Sprintf("produce, unthrottled (%d rounds of %.1fs after %.1fs warmup; medians, spread = range/median)", r.Settings.Rounds, r.Settings.DurationS, r.Settings.WarmupS), r.Produce},
		{"backlog: one producer, acks=1 (the produce rate of the catch-up's bytes)", r.Backlog},
		{"consume catch-up: one consumer from the start of the backlog", r.Consume},
	}
	for _, sec := range sections {
		if len(sec.sums) == 0 {
			continue
		}
		fmt.Fprintf(tw, "\n%s\n", sec.title)
		pr("%s", header)
		last := ""
		for _, s := range sec.sums {
			name := s.Workload
			if name == last {
				name = ""
			}
			last = s.Workload
			pr("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, s.Target,
				thousands(s.RecordsPerSec.Median), pct(s.RecordsPerSec.Spread()), num(s.MBPerSec.Median, 1),
				num(s.P50Ms.Median, 2), num(s.P99Ms.Median, 2), num(s.CPUSecPerGB.Median, 2), num(s.PeakRSSMiB.Median, 0),
				ratio(s.VsCeiling), ratio(s.VsStore), ratio(s.VsKfake))
			if s.Failed > 0 || s.InvalidRuns > 0 {
				pr("\t\tINVALID %d of %d runs, %d failed records: %s\t\t\t\t\t\t\t\t\t\t\n", s.InvalidRuns, s.RecordsPerSec.N, s.Failed, strings.Join(s.Invalid, "; "))
			}
		}
	}
	if len(r.Latency) > 0 {
		fmt.Fprintf(tw, "\nfixed rate at 50 %% of the RF=3 cluster's median maximum (%.1fs)\n", r.Settings.LatencyDurationS)
		pr("workload\ttarget\trate\tachieved\tp50 ms\tp99 ms\tp99.9 ms\tresponse p99 ms\tcpu s/GB\t\n")
		for _, s := range r.Latency {
			if !s.ok() {
				pr("%s\t%s\tfailed: %s\t\t\t\t\t\t\t\n", s.Workload, s.Target, s.Error)
				continue
			}
			pr("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Workload, s.Target, thousands(s.TargetRate), thousands(s.RecordsPerSec),
				num(s.P50Ms, 2), num(s.P99Ms, 2), num(s.P999Ms, 2), num(s.ResponseP99Ms, 2), num(s.CPUSecPerGB, 2))
			if len(s.Invalid) > 0 {
				pr("\t\tINVALID: %s\t\t\t\t\t\t\t\n", strings.Join(s.Invalid, "; "))
			}
		}
	}
	if len(r.Allocs) > 0 {
		fmt.Fprintf(tw, "\nkbench broker heap allocations per produce request (separate broker with %s)\n", metricsFlag)
		pr("workload\ttarget\tproduce requests\tallocs/request\tbytes/request\trec/s\t\n")
		for _, s := range r.Allocs {
			if !s.ok() {
				pr("%s\t%s\tfailed: %s\t\t\t\t\n", s.Workload, s.Target, s.Error)
				continue
			}
			pr("%s\t%s\t%d\t%s\t%s\t%s\t\n", s.Workload, s.Target, s.ProduceRequests, num(s.AllocsPerRequest, 1), num(s.AllocBytesPerRequest, 0), thousands(s.RecordsPerSec))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	cw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(cw, "\nbroker performance targets\n")
	for _, c := range r.Checks {
		fmt.Fprintf(cw, "%s\t%s\t%s\t%s\n", c.Status, c.Name, "want "+c.Want, c.Got)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(cw, "\n%d runs failed:\n", len(r.Errors))
		for _, e := range r.Errors {
			fmt.Fprintf(cw, "  %s\n", e)
		}
	}
	return cw.Flush()
}

func num(x float64, digits int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', digits, 64)
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", x*100)
}

func ratio(s *Stat) string {
	if s == nil || math.IsNaN(s.Median) {
		return "-"
	}
	if s.N > 1 {
		return fmt.Sprintf("%.2f (%.2f-%.2f)", s.Median, s.Min, s.Max)
	}
	return fmt.Sprintf("%.2f", s.Median)
}

// thousands formats a rate with thousands separators.
func thousands(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
