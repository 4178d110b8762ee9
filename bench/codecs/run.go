// Package codecs is the codec shootout behind `kbench codecs`: it builds
// Kafka v2 record batches the way franz-go's producer does, from the records
// the load generator sends for the same workload (bench.Workload.Records),
// compresses each batch's records with franz-go's own default compressor
// (so the exact libraries and settings a kbench or franz-go producer uses),
// reads every batch back through franz-go's decompressor and kmsg, and
// measures ratio, per-core speed and allocations per codec, level and batch
// size.
package codecs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/units"
)

// Config is one shootout. The zero value is not valid; see Defaults.
type Config struct {
	// Workload is the records, with the load generator's payloads, sizes
	// and keys. Seed 0 picks one; an empty PayloadPool is the default pool
	// for the largest batch size. Report.Workload records both as used.
	Workload   bench.Workload
	BatchSizes []int   // producer batch size limits, uncompressed bytes
	Codecs     []Codec // from ParseCodecs
	Reps       int     // repetitions per figure, at least 5
	MinTime    time.Duration
	// SampleBytes of records are generated once and cut into batches for
	// every batch size; at least two of the largest batches are generated.
	SampleBytes int
	// Progress, if set, is called before each cell is measured.
	Progress func(done, total int, c Codec, batchBytes int)
}

// Defaults returns the settings `kbench codecs` starts from.
func Defaults() Config {
	cs, _ := ParseCodecs(CodecNames(), nil)
	return Config{
		Workload:    bench.Workload{Payload: "json", RecordSize: "1024", Keys: "uniform:10000", Seed: 1},
		BatchSizes:  []int{16 << 10, 64 << 10, 256 << 10, 1 << 20},
		Codecs:      cs,
		Reps:        5,
		MinTime:     40 * time.Millisecond,
		SampleBytes: 2 << 20,
	}
}

// MinReps is the fewest repetitions a median and spread are reported over.
const MinReps = 5

func (c *Config) validate() error {
	if len(c.BatchSizes) == 0 {
		return errors.New("--batch-sizes: no batch size given")
	}
	for _, b := range c.BatchSizes {
		if b <= batchHeaderBytes {
			return fmt.Errorf("--batch-sizes: %d bytes cannot hold a record (a batch header alone is %d)", b, batchHeaderBytes)
		}
		if b > 256<<20 {
			return fmt.Errorf("--batch-sizes: %s is larger than 256MiB", units.FormatBytes(int64(b)))
		}
	}
	if len(c.Codecs) == 0 {
		return errors.New("--codecs: no codec given")
	}
	if c.Reps < MinReps {
		return fmt.Errorf("--reps: %d is fewer than %d repetitions", c.Reps, MinReps)
	}
	if c.MinTime <= 0 || c.MinTime > time.Minute {
		return fmt.Errorf("--min-time: %v is outside (0, 1m]", c.MinTime)
	}
	if c.SampleBytes <= 0 {
		return fmt.Errorf("--sample: %d is not positive", c.SampleBytes)
	}
	return nil
}

// Result is one cell: one codec at one level on one batch size.
type Result struct {
	Codec      string `json:"codec"`
	Level      string `json:"level"`
	Label      string `json:"label"`
	BatchBytes int    `json:"batch_bytes"` // the producer's batch size limit
	Batches    int    `json:"batches"`
	Records    int    `json:"records"`
	// Uncompressed is the batches' wire size without compression.
	Uncompressed int64 `json:"uncompressed_bytes"`
	// Compressed is their wire size with every batch compressed.
	Compressed int64 `json:"compressed_bytes"`
	// Wire is what franz-go sends: it sends a batch uncompressed when
	// compressing did not make it smaller; RawBatches counts those.
	Wire       int64 `json:"wire_bytes"`
	RawBatches int   `json:"raw_batches"`
	// Ratio is Uncompressed/Wire, what network and disks see; CodecRatio is
	// Uncompressed/Compressed, the codec alone.
	Ratio      float64 `json:"ratio"`
	CodecRatio float64 `json:"codec_ratio"`
	// Nil for none, which does no work.
	Compress   *Speed `json:"compress,omitempty"`
	Decompress *Speed `json:"decompress,omitempty"`
}

// CPUSecPerGB is compress plus decompress CPU seconds per GB: one producer
// and one reader of the data.
func (r *Result) CPUSecPerGB() float64 {
	if r.Compress == nil || r.Decompress == nil {
		return 0
	}
	return r.Compress.CPUSecPerGB + r.Decompress.CPUSecPerGB
}

// Report is a finished (or interrupted) shootout.
type Report struct {
	// Workload is the records' payload, sizes, keys, seed and payload pool
	// as measured: the same workload given to produce sends these records.
	Workload        bench.Workload   `json:"workload"`
	Records         int              `json:"sample_records"`
	SampleBytes     int64            `json:"sample_value_bytes"`
	Reps            int              `json:"reps"`
	MinTime         string           `json:"min_time_per_rep"`
	Clock           string           `json:"clock"`
	GoVersion       string           `json:"go_version"`
	Arch            string           `json:"arch"`
	CPUs            int              `json:"cpus"`
	FranzGo         string           `json:"franz_go_version,omitempty"`
	Started         time.Time        `json:"started"`
	Elapsed         string           `json:"elapsed"`
	Results         []Result         `json:"results"`
	Recommendations []Recommendation `json:"recommendations"`
	// EndToEnd holds the --end-to-end runs against a cluster, if any.
	EndToEnd []E2EResult `json:"end_to_end,omitempty"`
}

// Run measures every codec on every batch size. If ctx ends early it
// returns the cells finished so far together with ctx's error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w, recs, err := cfg.sample()
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Workload: w, Records: len(recs),
		Reps: cfg.Reps, MinTime: cfg.MinTime.String(), Clock: clockName,
		GoVersion: runtime.Version(), Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		FranzGo: franzVersion(), Started: time.Now(),
	}
	for _, r := range recs {
		rep.SampleBytes += int64(len(r.value))
	}
	defer func() { rep.Elapsed = time.Since(rep.Started).Round(time.Millisecond).String() }()

	total := len(cfg.BatchSizes) * len(cfg.Codecs)
	for _, size := range cfg.BatchSizes {
		batches := buildBatches(recs, size)
		for _, c := range cfg.Codecs {
			if err := ctx.Err(); err != nil {
				rep.Recommendations = Recommend(rep.Results)
				return rep, err
			}
			if cfg.Progress != nil {
				cfg.Progress(len(rep.Results), total, c, size)
			}
			res, err := runCell(ctx, cfg, c, size, batches)
			if err != nil {
				rep.Recommendations = Recommend(rep.Results)
				return rep, fmt.Errorf("%s at %s batches: %w", c.Label(), units.FormatBytes(int64(size)), err)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	rep.Recommendations = Recommend(rep.Results)
	return rep, nil
}

// sample resolves the workload (seed, payload pool) and generates the
// records every batch size is cut from: those producer 0 of a run with the
// returned workload sends first.
func (cfg Config) sample() (bench.Workload, []record, error) {
	w := cfg.Workload
	w.PickSeed()
	largest := slices.Max(cfg.BatchSizes)
	if w.PayloadPool == "" && cmp.Or(w.Payload, "random") == "random" {
		// Spelled out, so a run with this workload builds the same pool
		// whatever its batch.size.
		w.PayloadPool = units.FormatBytesExact(int64(bench.DefaultPayloadPool(largest)))
	}
	rs, err := w.Records(0, largest)
	if err != nil {
		return w, nil, err
	}
	// Two closed batches of the largest size need a little over two
	// batches of records.
	return w, genRecords(rs, max(cfg.SampleBytes, 2*largest+largest/4)), nil
}

// runCell compresses every batch once and reads it back through kmsg and
// franz-go's decompressor, then times compression and decompression.
func runCell(ctx context.Context, cfg Config, c Codec, size int, batches []batch) (Result, error) {
	res := Result{Codec: c.Name, Level: c.Level.Name, Label: c.Label(), BatchBytes: size, Batches: len(batches)}
	comp, err := newCompressor(c)
	if err != nil {
		return res, err
	}
	dec := kgo.DefaultDecompressor()
	codec := c.kgoType()
	compressed := make([][]byte, len(batches))
	var wire []byte
	for i := range batches {
		b := &batches[i]
		res.Records += len(b.recs)
		res.Uncompressed += int64(b.wireSize())
		if comp == nil {
			wire = b.wire(wire[:0], kgo.CodecNone, b.section)
			res.Compressed += int64(len(wire))
			res.Wire += int64(len(wire))
			if err := b.verifyWire(wire, dec); err != nil {
				return res, err
			}
			continue
		}
		out, used := comp.Compress(new(bytes.Buffer), b.section)
		if out == nil || used != codec {
			return res, fmt.Errorf("franz-go compressor returned codec %d, want %d", used, codec)
		}
		compressed[i] = out
		// Verify the compressed form even when franz-go would send the
		// batch raw: the codec must round-trip either way.
		wire = b.wire(wire[:0], codec, out)
		if err := b.verifyWire(wire, dec); err != nil {
			return res, err
		}
		res.Compressed += int64(len(wire))
		if len(out) < len(b.section) {
			res.Wire += int64(len(wire))
		} else {
			res.Wire += int64(b.wireSize())
			res.RawBatches++
		}
	}
	res.Ratio = float64(res.Uncompressed) / float64(res.Wire)
	res.CodecRatio = float64(res.Uncompressed) / float64(res.Compressed)
	if comp == nil {
		return res, nil
	}

	sectionLen := func(i int) int { return len(batches[i].section) }
	buf := new(bytes.Buffer) // franz-go pools one buffer per in-flight batch; one is enough here
	cs, err := measure(ctx, len(batches), sectionLen, func(i int) error {
		buf.Reset()
		if out, _ := comp.Compress(buf, batches[i].section); out == nil {
			return errors.New("compression failed")
		}
		return nil
	}, cfg.Reps, cfg.MinTime)
	if err != nil {
		return res, fmt.Errorf("compress: %w", err)
	}
	ds, err := measure(ctx, len(batches), sectionLen, func(i int) error {
		out, err := dec.Decompress(compressed[i], codec)
		if err != nil {
			return err
		}
		if len(out) != len(batches[i].section) {
			return fmt.Errorf("%w: decompressed %d bytes, want %d", errVerify, len(out), len(batches[i].section))
		}
		return nil
	}, cfg.Reps, cfg.MinTime)
	if err != nil {
		return res, fmt.Errorf("decompress: %w", err)
	}
	res.Compress, res.Decompress = &cs, &ds
	return res, nil
}

// franzVersion is the franz-go module version built in, if known.
func franzVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/twmb/franz-go" {
			return d.Version
		}
	}
	return ""
}
