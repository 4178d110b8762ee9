package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/units"
	"github.com/kbench/kbench/profiles"
	"github.com/kbench/kbench/reports"
)

type planOptions struct {
	from                 string
	measure              bool
	bootstrap            string
	measureDuration      time.Duration
	measurePartitions    []int
	measureOut           string
	version              string
	peak, avg            string
	peakMBps, avgMBps    float64
	recordSize           string
	retention            string
	rf, minISR, groups   int
	headroom, diskUtil   float64
	diskMBps, netMBps    float64
	diskGB               float64
	producePP, consumePP string
	ratio                float64
	out                  string
	json                 bool
	stdout, stderr       io.Writer
	changed              func(string) bool
}

func newPlanCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &planOptions{stdout: stdout, stderr: stderr}
	d := reports.DefaultCapacityInput()
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Capacity plan: partitions, brokers, disk and network for an ingress, from measured ceilings",
		Long: `Size a Kafka topic and cluster for a peak ingress, with every figure's formula and inputs:

  partitions ≥ max(T/p, T/c) × headroom     p, c: events/s one partition produces / one consumer processes
  brokers    ≥ max(T_w × RF / disk MB/s, T_w × (groups + RF − 1) / network MB/s,
                   stored / (disk size × utilisation), RF)
  stored     = average ingress × headroom × retention × RF ÷ compression ratio
  network    in = T_w × RF / brokers, out = T_w × (groups + RF − 1) / brokers

(T_w: peak × headroom in compressed MB/s; MB = 10^6 bytes.) The per-partition produce ceiling p,
a lower bound for c, the codec's compression ratio and the recommended producer settings with
their measured costs come from a sweep's run directory (--from RUN_DIR: run the partitions or
durability profile for ceilings, compression or linger-batch for codecs and batching); explicit
flags override them. --measure runs a short sizing sweep first instead: the partitions profile
at the plan's RF, min.insync.replicas and record size, 1/2/4 partitions at their max sustainable
rate (an embedded cluster of RF brokers, or --bootstrap), written to runs/<time>-plan-sizing.
Without either, give --produce-per-partition and/or --consume-per-partition. Unset inputs take
the defaults shown in the plan.

Writes plan.md, plan.html and plan.json into --out (default RUN_DIR/report with --from, else
./plan) and prints the headline numbers, or the JSON with --json.`,
		Example: `  # a clickstream: 100k events/s, a consumer handles ~5k/s, RF 3, 7 days
  kbench plan --peak 100k --consume-per-partition 5000 --produce-per-partition 20000 --rf 3 --retention 7d --headroom 1
  kbench plan --from runs/20260101-120000-partitions --peak 250k --avg 80k --consumer-groups 3
  kbench plan --from runs/20260101-120000-quick --peak-mbps 50 --json
  kbench plan --measure --peak 100k --consume-per-partition 5000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = cmd.Flags().Changed
			o.version = cmd.Root().Version
			return runPlan(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "run directory of a sweep to take per-partition ceilings, compression ratio and producer settings from")
	f.BoolVar(&o.measure, "measure", false, "run a short sizing sweep first and plan from it (about 2 minutes; see above)")
	f.StringVar(&o.bootstrap, "bootstrap", "", "with --measure: run the sizing sweep on this cluster (host:port,...) instead of an embedded one")
	f.DurationVar(&o.measureDuration, "measure-duration", 3*time.Second, "with --measure: measured time of each probe (after a 1s warmup)")
	f.IntSliceVar(&o.measurePartitions, "measure-partitions", []int{1, 2, 4}, "with --measure: partition counts to size")
	f.StringVar(&o.measureOut, "measure-out", "", "with --measure: the sizing sweep's run directory (default runs/<time>-plan-sizing)")
	f.StringVar(&o.peak, "peak", "", "peak ingress in events/s (100000, 100k, 1.5M)")
	f.Float64Var(&o.peakMBps, "peak-mbps", 0, "peak ingress in MB/s instead (converted with --record-size)")
	f.StringVar(&o.avg, "avg", "", "average ingress in events/s, sizes storage (default: the peak)")
	f.Float64Var(&o.avgMBps, "avg-mbps", 0, "average ingress in MB/s instead")
	f.StringVar(&o.recordSize, "record-size", strconv.Itoa(int(d.RecordBytes)), "average record size, bytes (512, 1KiB)")
	f.StringVar(&o.retention, "retention", "7d", "retention: Go duration or days (168h, 7d)")
	f.IntVar(&o.rf, "rf", d.RF, "replication factor")
	f.IntVar(&o.minISR, "min-insync", d.MinISR, "min.insync.replicas")
	f.IntVar(&o.groups, "consumer-groups", d.ConsumerGroups, "consumer groups reading the topic (read fan-out)")
	f.Float64Var(&o.headroom, "headroom", d.Headroom, "growth headroom over today's peak (1 = none)")
	f.Float64Var(&o.diskUtil, "disk-util", d.DiskUtil, "target disk utilisation (0-1]")
	f.Float64Var(&o.diskMBps, "broker-disk-mbps", d.BrokerDiskMBps, "per-broker disk write throughput, MB/s")
	f.Float64Var(&o.netMBps, "broker-network-mbps", d.BrokerNetMBps, "per-broker network throughput each way, MB/s")
	f.Float64Var(&o.diskGB, "broker-disk-gb", d.BrokerDiskGB, "per-broker disk size, GB")
	f.StringVar(&o.producePP, "produce-per-partition", "", "events/s one partition takes (default: measured with --from)")
	f.StringVar(&o.consumePP, "consume-per-partition", "", "events/s one consumer of your application processes (default: a measured lower bound with --from)")
	f.Float64Var(&o.ratio, "compression-ratio", 0, "uncompressed ÷ compressed bytes (default: measured with --from, else 1)")
	f.StringVar(&o.out, "out", "", "directory for plan.md, plan.html and plan.json")
	f.BoolVar(&o.json, "json", false, "print the plan as JSON instead of the summary")
	return cmd
}

// parseRate reads 100000, 100k or 1.5M.
func parsePlanCount(s string) (float64, error) {
	t, mult := strings.TrimSpace(s), 1.0
	switch {
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "K"):
		t, mult = t[:len(t)-1], 1e3
	case strings.HasSuffix(t, "M"):
		t, mult = t[:len(t)-1], 1e6
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(t, ",", ""), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a count (like 5000, 100k, 1.5M)", s)
	}
	return v * mult, nil
}

func parseRetention(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("retention %q: want days like 7d, or a Go duration like 168h", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("retention %q: want days like 7d, or a Go duration like 168h", s)
	}
	return d, nil
}

func (o *planOptions) settings() (reports.PlanSettings, error) {
	ps := reports.PlanSettings{Given: map[string]bool{}}
	in := &ps.Input
	var errs []error
	n, err := units.ParseBytes(o.recordSize)
	if err == nil && n == 0 {
		err = errors.New("want a size above 0")
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("--record-size: %w", err))
	}
	size := float64(n)
	in.RecordBytes = size
	switch {
	case (o.peak == "") == (o.peakMBps == 0):
		errs = append(errs, errors.New("give the peak ingress: --peak EVENTS/S or --peak-mbps MB/S"))
	case o.peak != "":
		in.PeakEventsPerSec, err = parsePlanCount(o.peak)
		errs = append(errs, err)
	case size > 0:
		in.PeakEventsPerSec = o.peakMBps * reports.MB / size
	}
	switch {
	case o.avg != "" && o.avgMBps != 0:
		errs = append(errs, errors.New("give --avg or --avg-mbps, not both"))
	case o.avg != "":
		in.AvgEventsPerSec, err = parsePlanCount(o.avg)
		errs = append(errs, err)
	case o.avgMBps != 0 && size > 0:
		in.AvgEventsPerSec = o.avgMBps * reports.MB / size
	}
	in.Retention, err = parseRetention(o.retention)
	errs = append(errs, err)
	in.RF, in.MinISR, in.ConsumerGroups = o.rf, o.minISR, o.groups
	in.Headroom, in.DiskUtil = o.headroom, o.diskUtil
	in.BrokerDiskMBps, in.BrokerNetMBps, in.BrokerDiskGB = o.diskMBps, o.netMBps, o.diskGB
	if o.producePP != "" {
		in.ProducePerPartition, err = parsePlanCount(o.producePP)
		errs = append(errs, err)
	}
	if o.consumePP != "" {
		in.ConsumePerPartition, err = parsePlanCount(o.consumePP)
		errs = append(errs, err)
	}
	in.CompressionRatio = o.ratio
	for _, name := range []string{"record-size", "retention", "rf", "min-insync", "consumer-groups", "headroom", "disk-util",
		"broker-disk-mbps", "broker-network-mbps", "broker-disk-gb", "produce-per-partition", "consume-per-partition", "compression-ratio"} {
		ps.Given[name] = o.changed != nil && o.changed(name)
	}
	if err := errors.Join(errs...); err != nil {
		return ps, err
	}
	if o.measure && o.from != "" {
		return ps, errors.New("give --from RUN_DIR or --measure, not both")
	}
	if (o.bootstrap != "" || o.measureOut != "") && !o.measure {
		return ps, errors.New("--bootstrap and --measure-out go with --measure")
	}
	if o.from != "" {
		run, err := reports.LoadRun(o.from)
		if err != nil {
			return ps, err
		}
		ps.From = run
	}
	return ps, nil
}

// sizingSweep runs the partitions profile, shortened, at the plan's
// durability and record size: the per-partition ceilings a plan needs.
func (o *planOptions) sizingSweep(ctx context.Context, in reports.CapacityInput) (string, error) {
	set := []string{
		"topic.replication.factor=" + strconv.Itoa(in.RF),
		"topic.configs.min.insync.replicas=" + strconv.Itoa(in.MinISR),
		"workload.record_size=" + strconv.Itoa(int(in.RecordBytes)),
		"workload.warmup=1s",
		"workload.duration=" + o.measureDuration.String(),
		"search.max_probes=6",
		"search.precision=10%",
	}
	if o.bootstrap != "" {
		set = append(set, "target.bootstrap="+o.bootstrap)
	} else {
		set = append(set, "target.brokers="+strconv.Itoa(in.RF))
	}
	var scale []string
	for _, n := range o.measurePartitions {
		if n < 1 {
			return "", fmt.Errorf("--measure-partitions %d: want counts ≥ 1", n)
		}
		// Producers and consumers grow with the partitions, as in the
		// partitions profile, so clients are not what limits.
		scale = append(scale, fmt.Sprintf("{partitions: %d, producers: %d, consumers: %d}", n, min(max(n/2, 1), 8), min(n, 8)))
	}
	set = append(set, "axes.scale=["+strings.Join(scale, ", ")+"]")
	p, err := profiles.Load("partitions", set)
	if err != nil {
		return "", fmt.Errorf("sizing sweep: %w", err)
	}
	dir := o.measureOut
	if dir == "" {
		dir = filepath.Join("runs", time.Now().Format("20060102-150405")+"-plan-sizing")
	}
	fmt.Fprintf(o.stderr, "sizing sweep: %d partition counts at their max sustainable rate, RF %d, min.insync %d, %d B records, into %s\n",
		len(p.Points), in.RF, in.MinISR, int(in.RecordBytes), dir)
	sum, err := sweep.Run(ctx, sweep.Options{Profile: p, Dir: dir, Version: o.version,
		Progress: sweep.NewPrinter(o.stderr, false, p.SLO.Latency)})
	if err != nil {
		return "", fmt.Errorf("sizing sweep: %w", err)
	}
	if sum.Interrupted {
		return "", fmt.Errorf("sizing sweep interrupted; finish it with kbench sweep --resume %s, then kbench plan --from %s", dir, dir)
	}
	return dir, nil
}

func runPlan(ctx context.Context, o *planOptions) error {
	ps, err := o.settings()
	if err != nil {
		return err
	}
	if o.measure {
		in := ps.Input
		if !ps.Given["rf"] {
			in.RF = reports.DefaultRF
		}
		if !ps.Given["min-insync"] {
			in.MinISR = min(reports.DefaultMinISR, in.RF)
		}
		dir, err := o.sizingSweep(ctx, in)
		if err != nil {
			return err
		}
		if ps.From, err = reports.LoadRun(dir); err != nil {
			return err
		}
		o.from = dir
	}
	doc, err := reports.MakePlan(ps)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = "plan"
		if o.from != "" {
			out = filepath.Join(o.from, reports.ReportDir)
		}
	}
	if err := reports.WritePlan(out, doc); err != nil {
		return err
	}
	if o.json {
		b, err := doc.JSON()
		if err != nil {
			return err
		}
		_, err = o.stdout.Write(b)
		return err
	}
	s := doc.Summary
	w := o.stdout
	fmt.Fprintf(w, "capacity plan for %s events/s peak (%s MB/s), RF %d, min.insync %d, %s retention, headroom ×%g:\n",
		strconv.FormatFloat(doc.Input.PeakEventsPerSec, 'f', -1, 64), strconv.FormatFloat(doc.Capacity.PeakMBps, 'f', -1, 64),
		doc.Input.RF, doc.Input.MinISR, retentionText(doc.Input.Retention), doc.Input.Headroom)
	fmt.Fprintf(w, "  partitions       %d (%d at today's peak)\n", s.Partitions, s.PartitionsAtPeak)
	fmt.Fprintf(w, "  brokers          %d (limited by %s)\n", s.Brokers, s.BrokersLimiting)
	fmt.Fprintf(w, "  stored data      %.2f TB (%.2f TB raw disk)\n", s.StoredTB, s.RawDiskTB)
	fmt.Fprintf(w, "  disk per broker  %.0f GB\n", s.DiskPerBrokerGB)
	fmt.Fprintf(w, "  network/broker   %.1f MB/s in, %.1f MB/s out\n", s.NetInMBps, s.NetOutMBps)
	for _, r := range doc.Recs {
		fmt.Fprintf(w, "  %-18s %s\n", r.Setting+"="+r.Value, firstCost(r.Costs))
	}
	fmt.Fprintf(w, "formulas, inputs and sources: %s\nhtml: %s\n", filepath.Join(out, reports.PlanMarkdown), filepath.Join(out, reports.PlanHTML))
	return nil
}

func firstCost(cs []string) string {
	if len(cs) == 0 {
		return "(cost not measured)"
	}
	return cs[0]
}

func retentionText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
