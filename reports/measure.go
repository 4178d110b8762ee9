package reports

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kbench/kbench/internal/stats"
	"github.com/kbench/kbench/internal/units"
	"github.com/kbench/kbench/profiles"
)

// Measured is what a run tells a capacity plan.
type Measured struct {
	// Per-partition ceilings in events/s; zero when the run has none.
	ProducePerPartition, ConsumePerPartition float64
	// The same in MB/s of uncompressed records, and the record size they
	// were measured at (0 when it varied), so a plan for other record
	// sizes can convert by bytes.
	ProduceMBpsPerPartition, ConsumeMBpsPerPartition float64
	RecordBytes                                      float64
	CeilingFrom                                      *Point
	CeilingNote                                      string
	// CompressionRatio is the median ratio of the recommended codec's
	// points; 0 when unmeasured.
	CompressionRatio float64
	RatioNote        string
	Recommendations  []Recommendation
}

// Recommendation is one producer setting the plan recommends, why, and
// what it cost in the measured run.
type Recommendation struct {
	Setting string   `json:"setting"`
	Value   string   `json:"value"`
	Why     string   `json:"why"`
	Costs   []string `json:"measured_costs"`
}

// pairsOf returns pairs of valid points that differ only in the named
// settings (and those in ignore), a matching the first choice and b the
// second.
func pairsOf(points []*Point, a, b func(Settings) bool, names ...string) [][2]*Point {
	var out [][2]*Point
	for _, p := range points {
		if !p.Valid() || !a(p.Set) {
			continue
		}
		key := p.Set.without(names...)
		for _, q := range points {
			if q != p && q.Valid() && b(q.Set) && q.Set.without(names...) == key {
				out = append(out, [2]*Point{p, q})
			}
		}
	}
	return out
}

// costOf states what choosing the first point of each pair over the
// second cost: throughput where the rate was not fixed (a fixed rate sets
// the throughput), p99 response time at fixed rates (same load), else at
// each point's own rate.
func costOf(what string, pairs [][2]*Point) string {
	if len(pairs) == 0 {
		return ""
	}
	var thr, fixedP99, ownP99, ratio, cpu []float64
	for _, pr := range pairs {
		a, b := pr[0], pr[1]
		if a.Set.RateKind != profiles.RateFixed {
			if x, ok := a.Fig("produce_mib_per_sec"); ok {
				if y, ok := b.Fig("produce_mib_per_sec"); ok && y > 0 {
					thr = append(thr, 100*(x/y-1))
				}
			}
		}
		if x, ok := a.Fig("response_p99_ms"); ok {
			if y, ok := b.Fig("response_p99_ms"); ok {
				if a.Set.RateKind == profiles.RateFixed {
					fixedP99 = append(fixedP99, x-y)
				} else {
					ownP99 = append(ownP99, x-y)
				}
			}
		}
		if x, ok := a.Fig("compression_ratio"); ok {
			if y, ok := b.Fig("compression_ratio"); ok && y > 0 {
				ratio = append(ratio, x/y)
			}
		}
		ca, ok1 := a.Fig("cpu_cores")
		ma, ok2 := a.Fig("produce_mib_per_sec")
		cb, ok3 := b.Fig("cpu_cores")
		mb, ok4 := b.Fig("produce_mib_per_sec")
		if ok1 && ok2 && ok3 && ok4 && ma > 0 && mb > 0 && cb > 0 {
			cpu = append(cpu, 100*((ca/ma)/(cb/mb)-1))
		}
	}
	var parts []string
	if len(thr) > 0 {
		parts = append(parts, fmt.Sprintf("throughput %s (%s)", spread(thr, signedPct), pairCount(len(thr), "unthrottled/max-sustainable pair")))
	}
	switch {
	case len(fixedP99) > 0:
		parts = append(parts, fmt.Sprintf("p99 %s at the same fixed rate (%s)", spread(fixedP99, signedMs), pairCount(len(fixedP99), "pair")))
	case len(ownP99) > 0:
		parts = append(parts, fmt.Sprintf("p99 %s, each at its own rate (%s)", spread(ownP99, signedMs), pairCount(len(ownP99), "pair")))
	}
	if strings.Contains(what, "compression") && len(ratio) > 0 {
		parts = append(parts, fmt.Sprintf("compression ratio %s", spread(ratio, times)))
	}
	if strings.Contains(what, "compression") && len(cpu) > 0 {
		parts = append(parts, fmt.Sprintf("generator CPU per MiB %s", spread(cpu, signedPct)))
	}
	if len(parts) == 0 {
		return ""
	}
	ids := func(pr [2]*Point) string { return pr[0].Def.ID + " vs " + pr[1].Def.ID }
	var ex []string
	for i, pr := range pairs {
		if i == 3 {
			ex = append(ex, "…")
			break
		}
		ex = append(ex, ids(pr))
	}
	return fmt.Sprintf("%s: %s [%s]", what, strings.Join(parts, ", "), strings.Join(ex, ", "))
}

// spread writes one or two values as they are and more as their median
// with the range, so a median of two never hides the other.
func spread(xs []float64, f func(float64) string) string {
	switch len(xs) {
	case 1:
		return f(xs[0])
	case 2:
		return f(xs[0]) + " and " + f(xs[1])
	}
	return fmt.Sprintf("%s (median; %s to %s)", f(stats.Median(xs)), f(slices.Min(xs)), f(slices.Max(xs)))
}

func pairCount(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func signed(v float64) string {
	if v >= 0 {
		return "+" + formatFig(v)
	}
	return "−" + formatFig(-v)
}

func signedPct(v float64) string { return signed(v) + " %" }

func signedMs(v float64) string { return signed(v) + " ms" }

func times(v float64) string { return "×" + formatFig(v) }

// Measure reads what a capacity plan needs from a run: per-partition
// ceilings, the codec's ratio and the recommended producer settings with
// their measured costs. rf is the plan's replication factor: ceilings
// measured at it are preferred.
func Measure(run *Run, rf int) *Measured {
	m := &Measured{}
	pts := run.Points

	// Ceilings: rate-capped points say nothing about capacity.
	var ceil []*Point
	pick := func(keep func(*Point) bool) []*Point {
		var out []*Point
		for _, p := range pts {
			if p.Valid() && p.Set.RateKind != profiles.RateFixed && keep(p) {
				out = append(out, p)
			}
		}
		return out
	}
	searched := func(p *Point) bool { return p.Set.RateKind == profiles.RateMaxSustainable && p.Passed() }
	for _, f := range []struct {
		keep func(*Point) bool
		note string
	}{
		{func(p *Point) bool { return searched(p) && p.Set.Acks == "all" && p.Set.RF == rf }, fmt.Sprintf("max sustainable rate under the SLO, acks=all, RF %d", rf)},
		{func(p *Point) bool { return searched(p) && p.Set.Acks == "all" }, "max sustainable rate under the SLO, acks=all (RF differs from the plan's)"},
		{searched, "max sustainable rate under the SLO (not acks=all: optimistic)"},
		{func(p *Point) bool { return p.Set.RateKind == profiles.RateUnthrottled }, "unthrottled throughput, at whatever latency (no max-sustainable point met the SLO)"},
	} {
		if ceil = pick(f.keep); len(ceil) > 0 {
			m.CeilingNote = f.note
			break
		}
	}
	if c, ok := perPartitionCeiling(ceil); ok {
		if n := c.From.Set.Partitions; n > 1 {
			m.CeilingNote += fmt.Sprintf("; %d partitions shared one cluster there, so this is their share of its ceiling, not what one partition alone can take", n)
		}
		m.ProducePerPartition = c.RecordsPerSec
		m.ProduceMBpsPerPartition = c.MiBps * (1 << 20) / MB
		m.CeilingFrom = c.From
		n := float64(c.From.Set.Partitions)
		if v, ok := c.From.Fig("consume_records_per_sec"); ok && c.From.Set.Mode == "e2e" {
			m.ConsumePerPartition = v / n
		}
		if v, ok := c.From.Fig("consume_mib_per_sec"); ok && c.From.Set.Mode == "e2e" {
			m.ConsumeMBpsPerPartition = v * (1 << 20) / MB / n
		}
		m.RecordBytes = fixedRecordBytes(c.From.Set.RecordSize)
	}

	m.Recommendations = durabilityEvidence(recommend(pts), frontierOutcomes(pts, run.Manifest.Profile.Frontier), rf)
	if run.Tune != nil {
		m.Recommendations = tuneRecommendations(m.Recommendations, run.Tune)
	}
	for _, r := range m.Recommendations {
		if r.Setting != "compression.type" {
			continue
		}
		var ratios []float64
		for _, p := range pts {
			if p.Valid() && p.Set.Codec == r.Value {
				if v, ok := p.Fig("compression_ratio"); ok {
					ratios = append(ratios, v)
				}
			}
		}
		if len(ratios) > 0 {
			m.CompressionRatio = stats.Median(ratios)
			m.RatioNote = fmt.Sprintf("median of %d valid %s point(s)", len(ratios), r.Value)
		}
	}
	return m
}

// fixedRecordBytes reads a profile's fixed record size (512B, 1KiB,
// 1024); 0 for size distributions.
func fixedRecordBytes(s string) float64 {
	v, err := units.ParseBytes(s)
	if err != nil {
		return 0
	}
	return float64(v)
}

// recommend picks producer settings: acks=all and idempotence by policy
// (the plan's min.insync.replicas means nothing without them), linger.ms
// and batch.size from the run's best acks=all point, the codec with the
// best ratio that costs at most 10 % throughput; each with its measured
// cost where the run compared it.
func recommend(pts []*Point) []Recommendation {
	isAll := func(s Settings) bool { return s.Acks == "all" }
	var recs []Recommendation
	unmeasured := "the clickstream profile's choice; the run has no acks=all point that met the SLO to measure it"
	if len(pts) == 0 {
		unmeasured = "the clickstream profile's choice (no run measured; see --from)"
	}

	acks := Recommendation{Setting: "acks", Value: "all",
		Why: "min.insync.replicas only guards acks=all writes; with acks=1 a leader that fails before its followers copy a record loses it although it was acknowledged"}
	for _, alt := range []string{"1", "0"} {
		c := costOf("acks=all vs acks="+alt, pairsOf(pts, isAll, func(s Settings) bool { return s.Acks == alt },
			"acks", "enable.idempotence", "min.insync.replicas"))
		if c != "" {
			acks.Costs = append(acks.Costs, c)
		}
	}
	recs = append(recs, acks)

	idem := Recommendation{Setting: "enable.idempotence", Value: "true",
		Why: "retries can then neither duplicate nor reorder records (the broker drops repeats by producer id and sequence); it needs acks=all"}
	if c := costOf("idempotence on vs off", pairsOf(pts,
		func(s Settings) bool { return isAll(s) && s.Idempotence == "true" },
		func(s Settings) bool { return isAll(s) && s.Idempotence == "false" }, "enable.idempotence")); c != "" {
		idem.Costs = append(idem.Costs, c)
	}
	recs = append(recs, idem)

	// The best acks=all point of the run decides linger.ms and batch.size.
	var bestAll *Point
	for _, lv := range durabilityLevels(pts) {
		if b := best(pts, lv); b != nil && b.Set.Acks == "all" {
			if bestAll == nil {
				bestAll = b
				continue
			}
			x, _ := b.Fig("produce_mib_per_sec")
			y, _ := bestAll.Fig("produce_mib_per_sec")
			if x > y {
				bestAll = b
			}
		}
	}
	for _, s := range []struct {
		name, seed string
		get        func(Settings) int
		text       func(int) string
	}{
		{"linger.ms", "10", func(s Settings) int { return s.LingerMs }, strconv.Itoa},
		{"batch.size", "64KiB", func(s Settings) int { return s.BatchBytes }, sizeLabel},
	} {
		r := Recommendation{Setting: s.name}
		if bestAll == nil || s.get(bestAll.Set) < 0 || (s.name == "batch.size" && s.get(bestAll.Set) == 0) {
			r.Value = s.seed
			r.Why = unmeasured
			recs = append(recs, r)
			continue
		}
		v := s.get(bestAll.Set)
		r.Value = s.text(v)
		r.Why = fmt.Sprintf("used by the run's best acks=all point (%s: the most throughput that met the SLO, then the lowest p99)", bestAll.Name())
		var alts []int
		for _, p := range pts {
			if x := s.get(p.Set); x != v && x >= 0 && !slices.Contains(alts, x) {
				alts = append(alts, x)
			}
		}
		slices.Sort(alts)
		for _, alt := range alts {
			c := costOf(fmt.Sprintf("%s=%s vs %s", s.name, s.text(v), s.text(alt)), pairsOf(pts,
				func(x Settings) bool { return isAll(x) && s.get(x) == v },
				func(x Settings) bool { return isAll(x) && s.get(x) == alt }, s.name))
			if c != "" {
				r.Costs = append(r.Costs, c)
			}
		}
		if len(r.Costs) == 0 {
			r.Why += "; the run has no point that differs from another only in " + s.name + ", so its cost was not measured"
		}
		recs = append(recs, r)
	}

	codec := recommendCodec(pts)
	if codec.Why == "" {
		codec.Why = strings.Replace(unmeasured, "choice", "choice (about 3× smaller on the wire and disk)", 1)
	}
	recs = append(recs, codec)
	return recs
}

// recommendCodec picks the codec with the highest median ratio among
// those whose valid acks=all points met the SLO, unless it costs more than
// 10 % of the best codec's throughput where throughput was not capped.
func recommendCodec(pts []*Point) Recommendation {
	r := Recommendation{Setting: "compression.type"}
	type stat struct {
		ratios []float64
		thr    float64 // best uncapped MiB/s
	}
	by := map[string]*stat{}
	var codecs []string
	for _, p := range pts {
		if !p.Valid() || !p.Passed() || p.Set.Acks != "all" {
			continue
		}
		st := by[p.Set.Codec]
		if st == nil {
			st = &stat{}
			by[p.Set.Codec] = st
			codecs = append(codecs, p.Set.Codec)
		}
		ratio, ok := p.Fig("compression_ratio")
		if !ok && p.Set.Codec == "none" {
			ratio, ok = 1, true
		}
		if ok {
			st.ratios = append(st.ratios, ratio)
		}
		if p.Set.RateKind != profiles.RateFixed {
			if v, ok := p.Fig("produce_mib_per_sec"); ok {
				st.thr = max(st.thr, v)
			}
		}
	}
	if len(codecs) == 0 {
		r.Value = "zstd"
		return r
	}
	topThr := 0.0
	for _, c := range codecs {
		topThr = max(topThr, by[c].thr)
	}
	bestRatio := 0.0
	for _, c := range codecs {
		st := by[c]
		if len(st.ratios) == 0 || (topThr > 0 && st.thr > 0 && st.thr < 0.9*topThr) {
			continue
		}
		if m := stats.Median(st.ratios); m > bestRatio {
			r.Value, bestRatio = c, m
		}
	}
	if r.Value == "" {
		r.Value = codecs[0]
	}
	r.Why = fmt.Sprintf("the best median compression ratio (%s) among the codecs whose acks=all points met the SLO, at most 10 %% below the best codec's uncapped throughput", formatFig(bestRatio))
	if len(codecs) == 1 {
		r.Why = "the only codec the run used with acks=all points that met the SLO (ratio " + formatFig(bestRatio) + ")"
	}
	for _, alt := range []string{"none", "lz4", "snappy", "zstd", "gzip"} {
		if alt == r.Value {
			continue
		}
		c := costOf(fmt.Sprintf("compression %s vs %s", r.Value, alt), pairsOf(pts,
			func(s Settings) bool { return s.Acks == "all" && s.Codec == r.Value },
			func(s Settings) bool { return s.Acks == "all" && s.Codec == alt }, "compression.type"))
		if c != "" {
			r.Costs = append(r.Costs, c)
		}
	}
	return r
}
