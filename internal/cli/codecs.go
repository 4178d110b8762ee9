package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/codecs"
	"github.com/kbench/kbench/internal/units"
	"github.com/kbench/kbench/reports"
	"github.com/kbench/kbench/target"
)

type codecsOptions struct {
	workload   bench.Workload
	batchSizes []string
	codecs     []string
	levels     []string
	sort       string
	jsonPath   string
	outDir     string
	reps       int
	minTime    time.Duration
	sample     string
	e2e        bool
	e2eRate    float64
	e2eDur     time.Duration
	e2eWarmup  time.Duration
	e2eBatch   string
	bootstrap  string
	brokers    int
	stdout     io.Writer
	stderr     io.Writer
}

func newCodecsCmd(stdout, stderr io.Writer) *cobra.Command {
	d := codecs.Defaults()
	o := &codecsOptions{workload: d.Workload, stdout: stdout, stderr: stderr}
	cmd := &cobra.Command{
		Use:   "codecs",
		Short: "Compare Kafka compression codecs and levels on your data, per batch size",
		Long: `Build Kafka v2 record batches as franz-go's producer does, from the records kbench produce
sends with the same --payload, --record-size, --keys, --compressibility, --seed and
--payload-pool (keys are part of every batch and of its compressed size), compress each
batch's records with franz-go's own compressor (gzip, snappy, lz4, zstd at the chosen levels),
read every batch back through franz-go's decompressor, and report per codec, level and batch
size: compression ratio on the wire, compress and decompress MB/s per core, CPU seconds per
GB and allocations per batch, each over repeated measurements with the spread. Ends with a
plain-words recommendation for bandwidth, for CPU, and balanced. --end-to-end then produces
the same records (json events but for their time stamps) to a cluster once per codec.

Levels: gzip 1-9 or default; lz4 fast or 1-9; zstd fastest, default, better, best (or 1-4);
snappy has none. --levels zstd:best,gzip:all replaces those codecs' default levels.`,
		Example: `  kbench codecs --payload json
  kbench codecs --payload random --compressibility 0.5 --batch-sizes 16KiB,1MiB --codecs zstd,lz4 --levels zstd:all
  kbench codecs --payload file:events.ndjson --keys none --sort cpu --json codecs.json --out charts/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCodecs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.batchSizes, "batch-sizes", []string{"16KiB", "64KiB", "256KiB", "1MiB"}, "producer batch size limits to compare (uncompressed, as batch.size / ProducerBatchMaxBytes)")
	f.StringSliceVar(&o.codecs, "codecs", codecs.CodecNames(), "codecs to compare")
	f.StringSliceVar(&o.levels, "levels", nil, "codec:level items replacing a codec's default levels, e.g. zstd:best,gzip:9,lz4:all")
	f.StringVar(&o.sort, "sort", "ratio", "table order within each batch size: ratio, compress, decompress, or cpu")
	f.StringVar(&o.jsonPath, "json", "", "also write every figure and sample as JSON to this file")
	f.StringVar(&o.outDir, "out", "", "write charts (ratio by batch size; speed vs ratio Pareto front per batch size) as PNG and SVG into this directory")
	f.IntVar(&o.reps, "reps", d.Reps, fmt.Sprintf("repetitions per figure; the median and spread are over these (at least %d)", codecs.MinReps))
	f.DurationVar(&o.minTime, "min-time", d.MinTime, "CPU time each repetition runs for, at least one batch")
	f.StringVar(&o.sample, "sample", units.FormatBytes(int64(d.SampleBytes)), "records generated and cut into batches for every batch size (at least two of the largest batches are made)")
	workloadFlags(f, &o.workload, "64 x the largest of --batch-sizes")
	f.BoolVar(&o.e2e, "end-to-end", false, "also run the load generator once per codec (default level) at --rate against a cluster: wire bytes, broker disk bytes per record, producer CPU, p99")
	f.Float64Var(&o.e2eRate, "rate", 5000, "with --end-to-end: records/s each codec is produced at")
	f.DurationVar(&o.e2eDur, "duration", 10*time.Second, "with --end-to-end: measured time per codec")
	f.DurationVar(&o.e2eWarmup, "warmup", 3*time.Second, "with --end-to-end: unmeasured warmup per codec")
	f.StringVar(&o.e2eBatch, "e2e-batch-size", "64KiB", "with --end-to-end: the producer's batch.size")
	f.StringVar(&o.bootstrap, "bootstrap", "", "with --end-to-end: an existing cluster (bootstrap.servers); default: the embedded cluster")
	f.IntVar(&o.brokers, "brokers", 3, "with --end-to-end and no --bootstrap: embedded cluster size")
	return cmd
}

func (o *codecsOptions) config() (codecs.Config, error) {
	cfg := codecs.Defaults()
	cfg.Workload, cfg.Reps, cfg.MinTime = o.workload, o.reps, o.minTime
	cfg.BatchSizes = nil
	for _, s := range o.batchSizes {
		n, err := units.ParseBytes(s)
		if err != nil {
			return cfg, fmt.Errorf("--batch-sizes: %w", err)
		}
		cfg.BatchSizes = append(cfg.BatchSizes, int(n))
	}
	n, err := units.ParseBytes(o.sample)
	if err != nil {
		return cfg, fmt.Errorf("--sample: %w", err)
	}
	cfg.SampleBytes = int(n)
	if cfg.Codecs, err = codecs.ParseCodecs(o.codecs, o.levels); err != nil {
		return cfg, err
	}
	return cfg, codecs.CheckSort(o.sort)
}

func runCodecs(ctx context.Context, o *codecsOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if o.outDir != "" {
		if err := os.MkdirAll(o.outDir, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	cfg.Progress = func(done, total int, c codecs.Codec, batch int) {
		if done%len(cfg.Codecs) == 0 {
			fmt.Fprintf(o.stderr, "measuring %d codec settings at %s batches (%d/%d done)\n",
				len(cfg.Codecs), units.FormatBytes(int64(batch)), done, total)
		}
	}
	rep, runErr := codecs.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	if runErr != nil {
		fmt.Fprintf(o.stderr, "interrupted: showing the %d finished cells\n", len(rep.Results))
	}
	if err := codecs.WriteWorkload(o.stdout, rep); err != nil {
		return err
	}
	fmt.Fprintln(o.stdout)
	if err := codecs.WriteTable(o.stdout, rep, o.sort); err != nil {
		return err
	}
	fmt.Fprintln(o.stdout)
	if err := codecs.WriteRecommendations(o.stdout, rep); err != nil {
		return err
	}
	if o.e2e && runErr == nil {
		if err := o.runEndToEnd(ctx, cfg, rep); err != nil {
			return err
		}
	}
	if o.jsonPath != "" {
		if err := codecs.WriteJSON(o.jsonPath, rep); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		fmt.Fprintf(o.stderr, "wrote %s\n", o.jsonPath)
	}
	if o.outDir != "" && len(rep.Results) > 0 {
		var pts []reports.CodecPoint
		for _, r := range rep.Results {
			pt := reports.CodecPoint{Label: r.Label, Codec: r.Codec, BatchBytes: r.BatchBytes, Ratio: r.Ratio}
			if r.Compress != nil {
				pt.CompressMBps = r.Compress.MedianMBps
			}
			pts = append(pts, pt)
		}
		files, err := reports.CodecCharts(o.outDir, pts)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		for _, f := range files {
			fmt.Fprintf(o.stderr, "wrote %s\n", f)
		}
	}
	return runErr
}

// runEndToEnd produces once per codec against a real cluster and prints the
// cost the network and disks see.
func (o *codecsOptions) runEndToEnd(ctx context.Context, cfg codecs.Config, rep *codecs.Report) error {
	batch, err := units.ParseBytes(o.e2eBatch)
	if err != nil {
		return fmt.Errorf("--e2e-batch-size: %w", err)
	}
	var names []string
	for _, c := range cfg.Codecs {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	opts := target.Options{Bootstrap: o.bootstrap}
	if o.bootstrap == "" {
		if o.brokers < 1 {
			return fmt.Errorf("--brokers %d: want at least 1", o.brokers)
		}
		opts.Brokers = o.brokers
		fmt.Fprintf(o.stderr, "starting the embedded %d-broker cluster\n", o.brokers)
	}
	tg, err := target.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer tg.Close()
	res, err := codecs.RunEndToEnd(ctx, codecs.E2EConfig{
		Codecs: names, Target: tg, DataDir: tg.Dir(), Workload: rep.Workload, BatchSize: int(batch),
		Rate: o.e2eRate, Warmup: o.e2eWarmup, Duration: o.e2eDur,
		Progress: func(c string) {
			fmt.Fprintf(o.stderr, "end-to-end: producing with %s at %.0f records/s\n", c, o.e2eRate)
		},
	})
	rep.EndToEnd = res
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "\nend to end on %s, %s batches, %.0f records/s for %s each:\n", tg.Describe(), o.e2eBatch, o.e2eRate, o.e2eDur)
	return codecs.WriteE2ETable(o.stdout, res)
}
