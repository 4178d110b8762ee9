package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/internal/units"
)

const backlogHelp = `--backlog SIZE runs a backlog-and-drain test: producers run at --rate from the start while
the consumers wait; once SIZE of acknowledged records is retained unconsumed, the consumers
start reading from the run's first record and the run ends when the backlog has drained to
(1 - --drain-ratio) of what was built (at least 1000 records, at most a tenth of it: a live
stream is never at zero). The summary and --json report the backlog built (records, bytes,
seconds), the drain time, the drain rate (records/s and MiB/s consumed while draining, the
producers' rate, and the net rate at which the backlog shrank), and the producers' service and
response p50/p99 before the drain (while it was built) and during it. --duration bounds build
and drain: a backlog never built or never drained in it makes the run INVALID. --warmup
defaults to 0 with --backlog; set one to exclude the start from the whole-run figures.`

// backlogFlags adds --backlog and --drain-ratio to e2e.
func backlogFlags(f *pflag.FlagSet, o *loadOptions) {
	f.StringVar(&o.backlog, "backlog", "", "backlog-and-drain test: build this much unconsumed data (e.g. 1GiB) with consumers waiting, then report how fast they drain it; see above")
	f.Float64Var(&o.cfg.DrainRatio, "drain-ratio", 1, "with --backlog: share of the built backlog the consumers must drain (0 < ratio <= 1; OMB: backlogDrainRatio)")
}

// applyBacklog reads --backlog into cfg.
func (o *loadOptions) applyBacklog(cfg *bench.RunConfig) error {
	if o.backlog == "" {
		cfg.DrainRatio = 0 // the flag's default says nothing without a backlog
		if o.flags.Changed("drain-ratio") {
			cfg.DrainRatio = o.cfg.DrainRatio
		}
		return nil
	}
	n, err := units.ParseBytes(o.backlog)
	if err != nil {
		return fmt.Errorf("--backlog: %w", err)
	}
	cfg.Backlog = n
	if !o.flags.Changed("warmup") {
		cfg.Warmup = 0
	}
	return nil
}
