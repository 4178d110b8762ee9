// Package profiles holds kbench's sweep profiles: the built-in YAML files
// (shipped inside the binary), the strict loader that turns a YAML document
// into a validated Profile, and the expansion of a profile's axes into the
// points a sweep runs.
//
// Every error names the file, the line, the field and the valid values, so a
// typo never turns into a silently different benchmark.
package profiles

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/faults"
)

// RateKind says how a point sets the producers' rate.
type RateKind string

// The rate kinds.
const (
	// RateFixed paces the producers at Rate.PerSec records/s.
	RateFixed RateKind = "fixed"
	// RateUnthrottled sends as fast as the producers can.
	RateUnthrottled RateKind = "unthrottled"
	// RateMaxSustainable searches for the highest rate meeting the SLO.
	RateMaxSustainable RateKind = "max-sustainable"
)

// Rate is a point's rate setting.
type Rate struct {
	Kind   RateKind `json:"kind"`
	PerSec float64  `json:"per_sec,omitempty"` // records/s over all producers, fixed only
}

// String writes the rate as a profile would.
func (r Rate) String() string {
	if r.Kind == RateFixed {
		return strconv.FormatFloat(r.PerSec, 'f', -1, 64)
	}
	return string(r.Kind)
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalJSON writes "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Setting is one swept setting of a point.
type Setting struct {
	Name string `json:"name"`
	// Value is normalised (sizes in bytes, codecs lower case), so reports
	// can compare and parse it; Written is how the profile wrote it.
	Value   string `json:"value"`
	Written string `json:"written"`
}

// Point is one fully resolved configuration of a sweep.
type Point struct {
	Index int    `json:"index"` // 1-based position in the sweep
	ID    string `json:"id"`    // p001, p002, ...: stable while the profile is unchanged
	// Label names the point by its swept settings, e.g.
	// "linger.ms=5/batch.size=64KiB"; "base" when nothing is swept.
	Label string    `json:"label"`
	Axes  []Setting `json:"axes,omitempty"`

	// Brokers is the cluster size the point needs (embedded target) or
	// states (external target).
	Brokers   int               `json:"brokers"`
	Topic     bench.TopicConfig `json:"topic"`
	Producer  map[string]string `json:"producer,omitempty"`
	Consumer  map[string]string `json:"consumer,omitempty"`
	Workload  bench.Workload    `json:"workload"`
	Mode      bench.Mode        `json:"mode"`
	Producers int               `json:"producers"`
	Consumers int               `json:"consumers"`
	Warmup    Duration          `json:"warmup"`
	Duration  Duration          `json:"duration"`
	Interval  Duration          `json:"interval"`
	Rate      Rate              `json:"rate"`
	// Backlog (bytes) and DrainRatio make every run a backlog-and-drain
	// run (bench.RunConfig.Backlog); 0 = none.
	Backlog    int64   `json:"backlog,omitempty"`
	DrainRatio float64 `json:"drain_ratio,omitempty"`

	// where remembers which line set each setting, for errors found only
	// once settings combine.
	where map[string]string
}

// RunConfig is the load generator's configuration for this point at rate
// (records/s, 0 = unthrottled). The caller adds Target and client properties.
func (p *Point) RunConfig(rate float64) bench.RunConfig {
	return bench.RunConfig{
		Mode:      p.Mode,
		Producer:  maps.Clone(p.Producer),
		Consumer:  maps.Clone(p.Consumer),
		Topic:     bench.TopicConfig{Name: p.Topic.Name, Partitions: p.Topic.Partitions, ReplicationFactor: p.Topic.ReplicationFactor, Configs: maps.Clone(p.Topic.Configs)},
		Workload:  p.Workload,
		Producers: p.Producers,
		Consumers: p.Consumers,
		Rate:      rate,
		Warmup:    time.Duration(p.Warmup),
		Duration:  time.Duration(p.Duration),
		Interval:  time.Duration(p.Interval),
		Backlog:   p.Backlog, DrainRatio: p.DrainRatio,
	}
}

// Value returns the point's value of a swept setting, "" if not swept.
func (p *Point) Value(name string) string {
	for _, s := range p.Axes {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

func (p *Point) clone() Point {
	q := *p
	q.Axes = append([]Setting(nil), p.Axes...)
	q.Topic.Configs = maps.Clone(p.Topic.Configs)
	q.Producer = maps.Clone(p.Producer)
	q.Consumer = maps.Clone(p.Consumer)
	q.where = maps.Clone(p.where)
	return q
}

// Target says which cluster a profile runs against.
type Target struct {
	// Brokers is the embedded cluster's size; with Bootstrap it is the
	// external cluster's size if the profile states it (0 = unknown).
	Brokers   int    `json:"brokers"`
	Bootstrap string `json:"bootstrap,omitempty"`
	// ClientProperties is a client.properties file (absolute path) whose
	// properties every client takes; Client adds to and overrides them.
	ClientProperties string            `json:"client_properties,omitempty"`
	Client           map[string]string `json:"client,omitempty"`
}

// Embedded reports whether kbench starts the cluster itself.
func (t Target) Embedded() bool { return t.Bootstrap == "" }

// Search tunes the max-sustainable rate search (records/s).
type Search struct {
	// Start is the first probe's rate; 0 means calibrate: run one
	// unthrottled probe and start just below what it achieved.
	Start float64 `json:"start"`
	// Min and Max bound the search; 0 derives them from Start (÷64,
	// ×1000) or, calibrating, from the calibration (Max: 1.1× flat out).
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Factor is the step of the bracketing phase (rate × or ÷ Factor).
	Factor float64 `json:"factor"`
	// Precision ends the search once the bracket's width is at most this
	// share of its lower end.
	Precision float64 `json:"precision"`
	// MaxProbes bounds the number of runs (the calibration included).
	MaxProbes int `json:"max_probes"`
}

// The search defaults.
const (
	DefaultSearchFactor    = 2
	DefaultSearchPrecision = 0.05
	DefaultSearchMaxProbes = 10
)

// SLO is what a run must meet to count as sustainable. Every run is judged
// by it; the max-sustainable search looks for the highest rate meeting it.
type SLO struct {
	// Latency is the histogram the bounds apply to: response (from the
	// intended send time, coordinated-omission corrected), service (from
	// the actual send) or e2e (intended send to consumed).
	Latency string `json:"latency"`
	// Bounds in milliseconds; 0 = no bound.
	P50Ms  float64 `json:"p50_ms,omitempty"`
	P99Ms  float64 `json:"p99_ms,omitempty"`
	P999Ms float64 `json:"p99_9_ms,omitempty"`
	// ErrorFree requires no failed and no unacknowledged record.
	ErrorFree bool `json:"error_free"`
	// MaxLagSec bounds the consumer lag when producing stops, in seconds of
	// production at the target rate (e2e only).
	MaxLagSec float64 `json:"max_lag_s"`
}

// Describe writes the SLO in a line.
func (s SLO) Describe() string {
	var parts []string
	for _, b := range []struct {
		name string
		v    float64
	}{{"p50", s.P50Ms}, {"p99", s.P99Ms}, {"p99.9", s.P999Ms}} {
		if b.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %s ≤ %g ms", s.Latency, b.name, b.v))
		}
	}
	if s.ErrorFree {
		parts = append(parts, "error-free")
	}
	parts = append(parts, fmt.Sprintf("achieved ≥ %g %% of target", bench.MinAchieved*100))
	if s.MaxLagSec > 0 {
		parts = append(parts, fmt.Sprintf("consumer lag ≤ %g s of production", s.MaxLagSec))
	}
	return strings.Join(parts, ", ")
}

// Axis is one swept dimension: a list of values of one setting, or a list
// of groups of settings that change together.
type Axis struct {
	Name   string      `json:"name"`
	Values [][]Setting `json:"values"`
}

// Rule excludes every point whose settings match all of its entries (an
// entry matches when the point's value is any of the listed ones).
type Rule map[string][]string

// Profile is a loaded, validated sweep definition.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Source is "builtin" or the path the profile was read from.
	Source string `json:"source"`
	// Overrides are the --set items applied on top of the file, in order.
	Overrides []string `json:"overrides,omitempty"`

	Target  Target `json:"target"`
	Search  Search `json:"search"`
	SLO     SLO    `json:"slo"`
	Repeat  int    `json:"repeat"`
	Axes    []Axis `json:"axes,omitempty"`
	Exclude []Rule `json:"exclude,omitempty"`
	// Base is the configuration before any axis applies.
	Base Point `json:"base"`
	// Points is the expansion: the cartesian product of the axes, in
	// order (the first axis varies slowest), minus excluded points.
	Points []Point `json:"points"`
	// Excluded counts the points the exclude rules removed.
	Excluded int `json:"excluded"`
	// Faults run during every run of every point, times after the warmup
	// (package faults; bench/faults/inject heals them when the load ends); Audit reads each run's
	// records back afterwards (package audit).
	Faults faults.Schedule `json:"faults,omitempty"`
	Audit  bool            `json:"audit,omitempty"`
	// Frontier, when set, measures each point's capacity without faults
	// and its outcome under audited fault scenarios, in separate runs.
	Frontier *Frontier `json:"frontier,omitempty"`
	// Tune is how kbench tune searches the profile; other commands
	// ignore it.
	Tune *Tune `json:"tune,omitempty"`

	// YAML is the file's text, kept for the run manifest and resume.
	YAML string `json:"-"`
}

// UsesSearch reports whether any point runs the max-sustainable search.
func (p *Profile) UsesSearch() bool {
	for i := range p.Points {
		if p.Points[i].Rate.Kind == RateMaxSustainable {
			return true
		}
	}
	return false
}
