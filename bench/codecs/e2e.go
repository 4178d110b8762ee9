package codecs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
)

// E2EConfig configures the end-to-end half of the shootout: the load
// generator produces at one fixed rate once per codec against a real
// cluster, so the cost the network and the disks see is measured, not
// inferred.
type E2EConfig struct {
	// Codecs are run in order, each at its default level.
	Codecs []string
	// Target is the cluster; DataDir, when known (embedded targets), is
	// where the broker data lives, to measure disk bytes per record.
	Target  bench.Target
	DataDir string
	// Workload is the records: Report.Workload, so the run sends the
	// records the in-memory measurement compressed.
	Workload  bench.Workload
	BatchSize int
	Rate      float64
	Warmup    time.Duration
	Duration  time.Duration
	Client    map[string]string
	// Progress, if set, is told which codec starts.
	Progress func(codec string)
}

// E2EResult is one codec's end-to-end figures.
type E2EResult struct {
	Codec             string   `json:"codec"`
	RecordsPerSec     float64  `json:"records_per_sec"`
	AchievedPct       float64  `json:"achieved_pct"`
	WireMiBPerSec     float64  `json:"wire_mib_per_sec"`
	WireBytesPerRec   float64  `json:"wire_bytes_per_record"`
	DiskBytesPerRec   float64  `json:"disk_bytes_per_record"` // all replicas; 0 when unknown
	Ratio             float64  `json:"compression_ratio"`
	ProducerCPUCores  float64  `json:"producer_cpu_cores"`
	ServiceP99Ms      float64  `json:"service_p99_ms"`
	ResponseP99Ms     float64  `json:"response_p99_ms"`
	Valid             bool     `json:"valid"`
	Invalid           []string `json:"invalid_reasons,omitempty"`
	RecordsMeasured   int64    `json:"records_measured"`
	RecordsTotal      int64    `json:"records_total"`
	DiskBytesMeasured int64    `json:"disk_bytes"`
}

// RunEndToEnd runs the load generator once per codec.
func RunEndToEnd(ctx context.Context, cfg E2EConfig) ([]E2EResult, error) {
	var out []E2EResult
	for _, codec := range cfg.Codecs {
		if cfg.Progress != nil {
			cfg.Progress(codec)
		}
		topic := "kbench-codec-" + codec
		rc := bench.RunConfig{
			Mode:     bench.ModeProduce,
			Target:   cfg.Target,
			Client:   cfg.Client,
			Producer: map[string]string{"compression.type": codec, "batch.size": strconv.Itoa(cfg.BatchSize), "linger.ms": "20"},
			Topic:    bench.TopicConfig{Name: topic, Recreate: true},
			Workload: cfg.Workload,
			Rate:     cfg.Rate,
			Warmup:   cfg.Warmup,
			Duration: cfg.Duration,
		}
		res, err := bench.Run(ctx, rc, bench.SinkFunc(func(*bench.Interval) error { return nil }))
		if err != nil {
			return out, fmt.Errorf("end-to-end run with %s: %w", codec, err)
		}
		r := E2EResult{Codec: codec, Valid: res.Valid, Invalid: res.Invalid}
		if p := res.Produce; p != nil {
			r.RecordsPerSec, r.AchievedPct, r.WireMiBPerSec, r.Ratio = p.RecordsPerSec, p.AchievedPct, p.WireMiBPerSec, p.CompressionRatio
			if p.RecordsPerSec > 0 {
				r.WireBytesPerRec = p.WireMiBPerSec * (1 << 20) / p.RecordsPerSec
			}
			r.RecordsMeasured = p.Acked
		}
		if l := res.Latency.Service; l != nil {
			r.ServiceP99Ms = l.P99
		}
		if l := res.Latency.Response; l != nil {
			r.ResponseP99Ms = l.P99
		}
		r.ProducerCPUCores = res.CPU.Cores
		if cfg.DataDir != "" {
			// Every record produced (warmup included) is on disk, once per
			// replica; the recreated topic's end offsets count them exactly.
			total, err := recordCount(ctx, cfg.Target.Bootstrap(), topic)
			if err != nil {
				return out, err
			}
			if n, err := topicDiskBytes(cfg.DataDir, topic); err == nil && total > 0 {
				r.DiskBytesMeasured, r.RecordsTotal = n, total
				r.DiskBytesPerRec = float64(n) / float64(total)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// recordCount sums the end offsets of topic's partitions.
func recordCount(ctx context.Context, bootstrap []string, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("count records of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// topicDiskBytes sums the segment files of topic's partition directories
// anywhere under dir (every broker's data dir of an embedded cluster).
func topicDiskBytes(dir, topic string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(path, ".log") && strings.HasPrefix(filepath.Base(filepath.Dir(path)), topic+"-") {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// WriteE2ETable prints the end-to-end figures.
func WriteE2ETable(w io.Writer, rs []E2EResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CODEC\tRECORDS/S\tRATIO\tWIRE MiB/s\tWIRE B/REC\tDISK B/REC (ALL REPLICAS)\tPRODUCER CPU\tSERVICE p99 ms\tRESPONSE p99 ms\tVALID\t")
	for _, r := range rs {
		disk := "n/a"
		if r.DiskBytesPerRec > 0 {
			disk = fmt.Sprintf("%.1f", r.DiskBytesPerRec)
		}
		valid := "yes"
		if !r.Valid {
			valid = "NO: " + strings.Join(r.Invalid, "; ")
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.1f\t%s\t%.2f\t%.2f\t%.2f\t%s\t\n", r.Codec, r.RecordsPerSec, r.Ratio,
			r.WireMiBPerSec, r.WireBytesPerRec, disk, r.ProducerCPUCores, r.ServiceP99Ms, r.ResponseP99Ms, valid)
	}
	return tw.Flush()
}
