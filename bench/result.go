package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kbench/kbench/internal/atomicfile"
)

// Result is everything a run measured, self-describing and JSON
// round-trippable: the sweep engine stores it per point.
type Result struct {
	Mode     Mode      `json:"mode"`
	Settings RunConfig `json:"settings"`
	// EffectiveProducer lists the producer settings used, defaults included.
	EffectiveProducer map[string]string `json:"effective_producer_props,omitempty"`
	Manifest          Manifest          `json:"manifest"`
	Partitions        int32             `json:"partitions"`
	// Elapsed is how long load ran (warmup included); Measured is the
	// window the figures cover.
	Elapsed     Seconds `json:"elapsed_s"`
	Measured    Seconds `json:"measured_s"`
	Interrupted bool    `json:"interrupted"`
	// StartedLate is how long after the common start time an agent's load
	// began (agent runs only; set when above LateStart).
	StartedLate Seconds `json:"started_late_s,omitempty"`

	Produce *ProduceFigures `json:"produce,omitempty"`
	Consume *ConsumeFigures `json:"consume,omitempty"`
	Latency LatencyFigures  `json:"latency"`
	CPU     CPUFigures      `json:"cpu"`
	Errors  []ErrorCount    `json:"errors,omitempty"`
	// Backlog holds a backlog run's build and drain figures.
	Backlog *BacklogFigures `json:"backlog,omitempty"`

	Valid   bool     `json:"valid"`
	Invalid []string `json:"invalid_reasons,omitempty"`

	Intervals []IntervalFigures `json:"intervals,omitempty"`

	// Agents holds each agent's figures when the run was spread over
	// several load machines (kbench agent); the figures above are theirs
	// merged.
	Agents []AgentFigures `json:"agents,omitempty"`
}

// Seconds is a duration written as seconds in JSON.
type Seconds float64

// Dur converts to a time.Duration.
func (s Seconds) Dur() time.Duration { return time.Duration(float64(s) * 1e9) }

func secs(d time.Duration) Seconds { return Seconds(d.Seconds()) }

// ProduceFigures are the producer side's figures over the measured window.
type ProduceFigures struct {
	TargetRate float64 `json:"target_rate"` // 0 = unthrottled
	Sent       int64   `json:"sent"`
	Acked      int64   `json:"acked"`
	Failed     int64   `json:"failed"`
	// Undelivered were still unacknowledged when the run gave up waiting.
	Undelivered int64 `json:"undelivered"`
	// RecordsPerSec is the delivery rate: acknowledgements that arrived
	// after warmup, per second from then to the last of them (or to the
	// end of sending, if later).
	RecordsPerSec float64 `json:"records_per_sec"`
	// AchievedPct is RecordsPerSec as a share of TargetRate (0 when unthrottled).
	AchievedPct float64 `json:"achieved_pct"`
	// MiBPerSec counts key+value bytes; WireMiBPerSec the produce requests written.
	MiBPerSec     float64 `json:"mib_per_sec"`
	WireMiBPerSec float64 `json:"wire_mib_per_sec"`
	// CompressionRatio is uncompressed record bytes over compressed batch
	// bytes, from franz-go's batch-written hook (1 without compression).
	CompressionRatio float64 `json:"compression_ratio"`
}

// ConsumeFigures are the consumer side's figures over the measured window.
type ConsumeFigures struct {
	Consumed      int64   `json:"consumed"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MiBPerSec     float64 `json:"mib_per_sec"`
	WireMiBPerSec float64 `json:"wire_mib_per_sec"`
	// LagAtEnd is the consumer lag (records, summed over partitions) when
	// producing stopped (e2e) or when consuming stopped (consume).
	LagAtEnd int64 `json:"lag_at_end"`
	// Unconsumed counts acknowledged records the consumers never read (e2e).
	Unconsumed int64 `json:"unconsumed"`
	// Redelivered counts records read again after a group rebalance (a
	// share group: delivered again after a lock expired or a consumer
	// left); only their first delivery is measured.
	Redelivered int64 `json:"redelivered"`
	// ShareDeliveries counts every record a share group handed out from the
	// run's start offsets on, redeliveries included; MaxDeliveryCount is the
	// highest delivery count the broker reported. Share groups only.
	ShareDeliveries  int64 `json:"share_deliveries,omitempty"`
	MaxDeliveryCount int32 `json:"max_delivery_count,omitempty"`
	// IdleConsumers got no partition (more consumers than partitions).
	IdleConsumers int `json:"idle_consumers,omitempty"`
}

// LatencyFigures holds one summary per histogram; nil ones were not measured.
type LatencyFigures struct {
	// Service is actual send (the Produce call) to acknowledgement.
	Service *Latency `json:"service,omitempty"`
	// Response is intended send (from the open-loop schedule) to
	// acknowledgement: the coordinated-omission-corrected figure.
	Response *Latency `json:"response,omitempty"`
	// E2E is intended send to consumed.
	E2E *Latency `json:"e2e,omitempty"`
}

// CPUFigures is the load generator's own CPU over the measured window.
type CPUFigures struct {
	Cores     float64 `json:"cores"`     // average cores busy
	Available int     `json:"available"` // GOMAXPROCS
	Saturated bool    `json:"saturated"`
	// IncludesBroker is set when the embedded broker shared the process.
	IncludesBroker bool `json:"includes_broker"`
	// Own is the part of Cores kbench's own per-record code took
	// (generating, stamping, metering), estimated from timings of one
	// record in 1024 and one consumer poll in 8; the rest went to the
	// client library, the Go runtime and, with IncludesBroker, the broker.
	Own float64 `json:"own_cores"`
}

// ErrorCount is how often one error happened; Code 0 marks a client-side
// error (the broker never answered with a code).
type ErrorCount struct {
	Code  int16  `json:"code,omitempty"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// IntervalFigures is one interval in brief, for time-series plots.
type IntervalFigures struct {
	End           Seconds `json:"t_s"`
	Warmup        bool    `json:"warmup,omitempty"`
	AckedPerSec   float64 `json:"acked_per_sec"`
	ConsumedPer   float64 `json:"consumed_per_sec"`
	ServiceP99    float64 `json:"service_p99_ms"`
	ResponseP99   float64 `json:"response_p99_ms"`
	E2EP99        float64 `json:"e2e_p99_ms"`
	Failed        int64   `json:"failed"`
	CPUCores      float64 `json:"cpu_cores"`
	ResponseCount int64   `json:"response_count"`
}

// CPUSaturation is the share of available cores above which the generator
// counts as saturated: its own scheduling then distorts the latencies.
const CPUSaturation = 0.9

// MinAchieved is the share of the target rate a valid run must reach.
const MinAchieved = 0.99

// judge fills Valid and Invalid from the figures.
func (r *Result) judge() {
	r.Invalid = nil
	if r.Interrupted {
		r.Invalid = append(r.Invalid, fmt.Sprintf("the run was interrupted after %.1f s", float64(r.Elapsed)))
	}
	if r.Measured <= 0 {
		r.Invalid = append(r.Invalid, "nothing was measured (the run ended during warmup)")
	}
	if p := r.Produce; p != nil && p.TargetRate > 0 && p.RecordsPerSec < MinAchieved*p.TargetRate {
		r.Invalid = append(r.Invalid, fmt.Sprintf("achieved %.0f records/s is %.1f %% of the %.0f records/s target (below %.0f %%)",
			p.RecordsPerSec, p.AchievedPct, p.TargetRate, MinAchieved*100))
	}
	if r.CPU.Saturated {
		who := "the load generator's"
		if r.CPU.IncludesBroker {
			who = "the load generator's (with the embedded broker in the same process)"
		}
		r.Invalid = append(r.Invalid, fmt.Sprintf("%s CPU was saturated: %.2f of %d cores busy, about %.2f of them in kbench's own record generation and metering, the rest in the client library and Go runtime",
			who, r.CPU.Cores, r.CPU.Available, r.CPU.Own))
	}
	if n := errorTotal(r.Errors); n > 0 {
		var parts []string
		for _, e := range r.Errors {
			if e.Code != 0 {
				parts = append(parts, fmt.Sprintf("%d × %s (%d)", e.Count, e.Name, e.Code))
			} else {
				parts = append(parts, fmt.Sprintf("%d × %s", e.Count, e.Name))
			}
		}
		r.Invalid = append(r.Invalid, fmt.Sprintf("%d errors occurred: %s", n, strings.Join(parts, ", ")))
	}
	if p := r.Produce; p != nil && p.Undelivered > 0 {
		r.Invalid = append(r.Invalid, fmt.Sprintf("%d records were never acknowledged", p.Undelivered))
	}
	if r.StartedLate > 0 {
		r.Invalid = append(r.Invalid, fmt.Sprintf("load began %.2f s after the common start time of the agents", float64(r.StartedLate)))
	}
	r.Invalid = append(r.Invalid, r.Backlog.invalid()...)
	if c := r.Consume; c != nil && c.Unconsumed > 0 {
		r.Invalid = append(r.Invalid, fmt.Sprintf("%d acknowledged records were not consumed by the end of the drain", c.Unconsumed))
	}
	r.Valid = len(r.Invalid) == 0
}

func errorTotal(es []ErrorCount) int64 {
	var n int64
	for _, e := range es {
		n += e.Count
	}
	return n
}

func errorCounts(m map[errKey]int64) []ErrorCount {
	var out []ErrorCount
	for k, v := range m {
		out = append(out, ErrorCount{Code: k.code, Name: k.name, Count: v})
	}
	slices.SortFunc(out, func(a, b ErrorCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// WriteJSON writes r to path, indented.
func (r *Result) WriteJSON(path string) error {
	if err := atomicfile.WriteJSON(path, r, false); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	return nil
}

// ReadResult reads a result written by WriteJSON.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode result %s: %w", path, err)
	}
	return &r, nil
}
