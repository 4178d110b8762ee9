package selfbench

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kbench/kbench/internal/units"
)

// Kind names a target the harness compares.
type Kind string

// The targets. Every one runs as its own process, so its CPU and memory can
// be read from /proc and the load generator's CPU stays its own.
const (
	// Ceiling is the null broker (bench/nullbroker): the cost of the
	// client and loopback alone.
	Ceiling Kind = "ceiling"
	// StoreOnly is the null broker that also appends every produced batch
	// to a file per partition: the ceiling of a broker that stores, with
	// nothing else a broker does.
	StoreOnly Kind = "store-only"
	// KbenchRF1 is one `kbench broker` process, topics at replication
	// factor 1.
	KbenchRF1 Kind = "kbench-rf1"
	// KbenchRF3 is a 3-broker kbench cluster (one process per broker,
	// controller in the harness), topics at replication factor 3; it runs
	// acks=all workloads only.
	KbenchRF3 Kind = "kbench-rf3"
	// Kfake is franz-go's in-memory pkg/kfake with one broker: a peer
	// reference without real storage or replication.
	Kfake Kind = "kfake"
)

// AllKinds lists every target in table order.
func AllKinds() []Kind { return []Kind{Ceiling, StoreOnly, KbenchRF1, KbenchRF3, Kfake} }

// ParseKind checks a target name.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.TrimSpace(s))
	if slices.Contains(AllKinds(), k) {
		return k, nil
	}
	return "", fmt.Errorf("target %q: want one of %v", s, AllKinds())
}

// Workload is one produce workload of the matrix.
type Workload struct {
	RecordSize int `json:"record_size"` // value bytes; records are unkeyed
	Producers  int `json:"producers"`
	// Acks is "1" or "all"; acks=all producers are idempotent (the kbench
	// default), acks=1 ones are not (idempotence needs acks=all).
	Acks        string `json:"acks"`
	Compression string `json:"compression"` // none or zstd
}

// Name is the workload's label in tables and charts, like
// "1KiB p4 acks=all zstd".
func (w Workload) Name() string {
	return fmt.Sprintf("%s p%d acks=%s %s", sizeLabel(int64(w.RecordSize)), w.Producers, w.Acks, w.Compression)
}

func sizeLabel(n int64) string { return units.FormatBytes(n) }

func (w Workload) validate() error {
	switch {
	case w.RecordSize < 1 || w.RecordSize > 1<<20:
		return fmt.Errorf("workload %s: record size %d: want 1 B to 1 MiB", w.Name(), w.RecordSize)
	case w.Producers < 1:
		return fmt.Errorf("workload %s: want at least one producer", w.Name())
	case w.Acks != "1" && w.Acks != "all":
		return fmt.Errorf("workload %s: acks %q: want 1 or all", w.Name(), w.Acks)
	case w.Compression != "none" && w.Compression != "zstd":
		return fmt.Errorf("workload %s: compression %q: want none or zstd", w.Name(), w.Compression)
	}
	return nil
}

// runsOn says whether target k runs workload w: the RF=3 cluster is
// measured with acks=all only.
func (w Workload) runsOn(k Kind) bool { return k != KbenchRF3 || w.Acks == "all" }

// Matrix is the workload matrix: 100 B and 1 KiB records, 1 and 4
// producers, acks=1 and all, no compression and zstd.
func Matrix() []Workload {
	var out []Workload
	for _, size := range []int{100, 1024} {
		for _, prods := range []int{1, 4} {
			for _, acks := range []string{"1", "all"} {
				for _, comp := range []string{"none", "zstd"} {
					out = append(out, Workload{RecordSize: size, Producers: prods, Acks: acks, Compression: comp})
				}
			}
		}
	}
	return out
}

// Config is one harness invocation.
type Config struct {
	// Binary is the kbench executable run for the broker processes
	// ("Binary broker ...") and the ceiling and kfake targets ("Binary
	// selfbench serve KIND ..."). Required.
	Binary string `json:"-"`
	// Env is added to the environment of every process started.
	Env []string `json:"-"`
	// Dir holds broker data and process logs; empty: a temporary
	// directory, removed afterwards.
	Dir string `json:"-"`

	Targets   []Kind     `json:"targets"`
	Workloads []Workload `json:"workloads"`
	// Rounds is how often every (workload, target) pair is measured;
	// medians and spread are over rounds. Within a round the targets run
	// one after the other for each workload (A B C D, A B C D, ...), in
	// reverse order every other round, so drift and order effects cancel.
	Rounds int `json:"rounds"`
	// Warmup and Duration are each produce run's unmeasured and measured
	// phases; producers run unthrottled.
	Warmup   time.Duration `json:"-"`
	Duration time.Duration `json:"-"`
	// BufferMemory is the producers' buffer.memory. Unthrottled producers
	// keep it full, so it sets how long records queue in the client (part
	// of the service time) and how long the final flush takes; kbench's
	// 32 MiB default would mostly measure that queue.
	BufferMemory int64 `json:"buffer_memory"`
	// Partitions of every topic (the 6).
	Partitions int32 `json:"partitions"`
	// Compressibility of the random payload (share of each value that is
	// repeated text), so zstd has something to do; the same payload is used
	// with and without compression.
	Compressibility float64 `json:"compressibility"`

	// Backlog is the consume catch-up's backlog in bytes of record values
	// (0 skips the catch-up); BacklogRecordSize its record size. One
	// producer writes it (measured too: the produce rate of the same
	// bytes), then one consumer reads it from the start in every round.
	Backlog           int64  `json:"backlog_bytes"`
	BacklogRecordSize int    `json:"backlog_record_size"`
	ConsumeTargets    []Kind `json:"consume_targets"`

	// LatencyDuration is the length of the fixed-rate run at half of the
	// RF=3 cluster's measured maximum for LatencyWorkload (0 skips it);
	// the ceiling and kfake run the same rate for reference.
	LatencyDuration time.Duration `json:"-"`
	LatencyWorkload Workload      `json:"latency_workload"`

	// Allocations counts the kbench broker's heap allocations per produce
	// request on a separate broker with --metrics-listen (skipped when the
	// binary's broker lacks the flag or kbench-rf1 is not a target).
	Allocations bool `json:"allocations"`

	// Progress receives one line per run; nil discards.
	Progress io.Writer `json:"-"`
	// Version is recorded in the report.
	Version string `json:"-"`
}

// Defaults is the full run behind `make bench-broker`: 7 to 8 minutes on a
// busy 2-core machine, leaving room under the 10 minutes it may take.
func Defaults() Config {
	return Config{
		Targets:           AllKinds(),
		Workloads:         Matrix(),
		Rounds:            3,
		Warmup:            400 * time.Millisecond,
		Duration:          1200 * time.Millisecond,
		BufferMemory:      4 << 20,
		Partitions:        6,
		Compressibility:   0.5,
		Backlog:           2 << 30,
		BacklogRecordSize: 1024,
		ConsumeTargets:    []Kind{Ceiling, KbenchRF1, Kfake},
		LatencyDuration:   5 * time.Second,
		LatencyWorkload:   Workload{RecordSize: 1024, Producers: 1, Acks: "all", Compression: "none"},
		Allocations:       true,
	}
}

// Quick is a smoke run of under two minutes: fewer workloads, two rounds,
// short runs and a 64 MiB backlog.
func Quick() Config {
	c := Defaults()
	c.Workloads = []Workload{
		{RecordSize: 100, Producers: 1, Acks: "1", Compression: "none"},
		{RecordSize: 1024, Producers: 1, Acks: "1", Compression: "none"},
		{RecordSize: 1024, Producers: 1, Acks: "all", Compression: "none"},
		{RecordSize: 1024, Producers: 4, Acks: "all", Compression: "zstd"},
	}
	c.Rounds = 2
	c.Warmup = 200 * time.Millisecond
	c.Duration = 700 * time.Millisecond
	c.Backlog = 64 << 20
	c.LatencyDuration = 2 * time.Second
	return c
}

func (c *Config) validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("no kbench binary given"))
	}
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("no targets"))
	}
	for _, k := range append(slices.Clone(c.Targets), c.ConsumeTargets...) {
		if _, err := ParseKind(string(k)); err != nil {
			errs = append(errs, err)
		}
	}
	if slices.Contains(c.ConsumeTargets, KbenchRF3) {
		errs = append(errs, errors.New("the consume catch-up does not run on the RF=3 cluster"))
	}
	if c.Rounds < 1 {
		errs = append(errs, fmt.Errorf("%d rounds: want at least 1", c.Rounds))
	}
	if c.Duration < 100*time.Millisecond || c.Warmup < 0 {
		errs = append(errs, fmt.Errorf("duration %v, warmup %v: want a duration of at least 100ms and no negative warmup", c.Duration, c.Warmup))
	}
	if c.BufferMemory < 1<<16 {
		errs = append(errs, fmt.Errorf("buffer memory %d: want at least 64 KiB", c.BufferMemory))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("%d partitions: want at least 1", c.Partitions))
	}
	if c.Compressibility < 0 || c.Compressibility > 1 {
		errs = append(errs, fmt.Errorf("compressibility %v: want 0 to 1", c.Compressibility))
	}
	for _, w := range c.Workloads {
		if err := w.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Backlog < 0 || (c.Backlog > 0 && (c.BacklogRecordSize < 1 || c.Backlog < int64(c.BacklogRecordSize))) {
		errs = append(errs, fmt.Errorf("backlog %d bytes of %d-byte records: want at least one record", c.Backlog, c.BacklogRecordSize))
	}
	if c.LatencyDuration > 0 {
		if err := c.LatencyWorkload.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// has reports whether target k is in the run.
func (c *Config) has(k Kind) bool { return slices.Contains(c.Targets, k) }
