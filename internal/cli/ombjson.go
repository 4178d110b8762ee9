package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/omb"
	"github.com/kbench/kbench/bench/sweep"
	"github.com/kbench/kbench/internal/units"
)

// ombRecorder keeps a run's interval histograms in memory for --omb-json.
type ombRecorder struct {
	path string
	log  bytes.Buffer
}

// sink returns the hlog sink that feeds the recorder (nil without --omb-json).
func (r *ombRecorder) sink() bench.Sink {
	if r == nil || r.path == "" {
		return nil
	}
	return bench.NewHlogSink(&r.log)
}

// write turns the run into OMB's result shape.
func (r *ombRecorder) write(res *bench.Result, meta omb.Meta) error {
	if r == nil || r.path == "" {
		return nil
	}
	hists, err := bench.ReadHlog(&r.log)
	if err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	out, err := omb.FromRun(meta, res, hists)
	if err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	if err := out.WriteFile(r.path); err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	return nil
}

// ombMeta describes a load command's run for OMB's result.
func ombMeta(workload string, cfg bench.RunConfig, res *bench.Result) omb.Meta {
	size, _ := units.ParseBytes(cfg.Workload.RecordSize) // 0 for size distributions
	consumers := 0
	if res.Mode == bench.ModeE2E {
		consumers = cfg.Consumers
	}
	return omb.Meta{Workload: workload, Driver: "Kafka", MessageSize: size, Partitions: int(res.Partitions),
		ProducersPerTopic: cfg.Producers, ConsumersPerTopic: consumers}
}

// writeSweepOMB writes the OMB result of a one-point sweep: the point's
// representative run, read back from the run directory.
func writeSweepOMB(path, workload, driver string, sum *sweep.Summary) error {
	if len(sum.Lines) != 1 {
		return fmt.Errorf("--omb-json: the sweep has %d points; OMB's result shape holds one workload run", len(sum.Lines))
	}
	l := sum.Lines[0]
	if l.Result == nil || l.Hlog == "" {
		return errors.New("--omb-json: the point has no finished run to write")
	}
	f, err := os.Open(filepath.Join(sum.Dir, l.Hlog))
	if err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	defer f.Close()
	hists, err := bench.ReadHlog(f)
	if err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	meta := ombMeta(workload, l.Result.Settings, l.Result)
	meta.Driver = driver
	out, err := omb.FromRun(meta, l.Result, hists)
	if err != nil {
		return fmt.Errorf("--omb-json: %w", err)
	}
	return out.WriteFile(path)
}
