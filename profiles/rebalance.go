package profiles

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kbench/kbench/bench/rebalance"
)

// Rebalance profiles measure consumer group rebalances rather than load:
// a YAML document with "kind: rebalance" (see rebalance/rebalance.yaml).
// They are loaded by LoadRebalance; Load refuses them.

//go:embed rebalance/*.yaml
var rebalanceBuiltin embed.FS

// RebalanceProfile is a validated rebalance profile.
type RebalanceProfile struct {
	Name        string `json:"name"`
	Source      string `json:"source"` // "builtin" or the file's path
	Description string `json:"description"`
	Brokers     int    `json:"brokers"` // embedded cluster size; ignored with --bootstrap
	YAML        string `json:"-"`       // the document as read
	rebalance.SweepOptions
}

type rawRebalance struct {
	Kind        string `yaml:"kind"`
	Description string `yaml:"description"`
	Target      struct {
		Brokers int `yaml:"brokers"`
	} `yaml:"target"`
	GroupSizes          []int    `yaml:"group_sizes"`
	Protocols           []string `yaml:"protocols"`
	Events              []string `yaml:"events"`
	PartitionsPerMember int      `yaml:"partitions_per_member"`
	RatePerPartition    float64  `yaml:"rate_per_partition"`
	SessionTimeout      string   `yaml:"session_timeout"`
	HeartbeatInterval   string   `yaml:"heartbeat_interval"`
	Settle              string   `yaml:"settle"`
	Timeout             string   `yaml:"timeout"`
}

// RebalanceNames lists the built-in rebalance profiles.
func RebalanceNames() []string {
	entries, _ := rebalanceBuiltin.ReadDir("rebalance")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(out)
	return out
}

// IsRebalance says whether nameOrPath is a rebalance profile: a built-in
// one, or a file whose kind is rebalance.
func IsRebalance(nameOrPath string) bool {
	if slices.Contains(RebalanceNames(), nameOrPath) {
		return true
	}
	src, err := os.ReadFile(nameOrPath)
	if err != nil {
		return false
	}
	var head struct {
		Kind string `yaml:"kind"`
	}
	return yaml.Unmarshal(src, &head) == nil && head.Kind == "rebalance"
}

// LoadRebalance reads a built-in rebalance profile by name or a file by
// path; set overrides top-level fields (NAME=YAML VALUE).
func LoadRebalance(nameOrPath string, set []string) (*RebalanceProfile, error) {
	file, source := nameOrPath, nameOrPath
	src, err := rebalanceBuiltin.ReadFile("rebalance/" + nameOrPath + ".yaml")
	if err == nil {
		file, source = nameOrPath+".yaml", "builtin"
	} else if src, err = os.ReadFile(nameOrPath); err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	p, err := parseRebalance(file, src, set)
	if err != nil {
		return nil, err
	}
	p.Name = strings.TrimSuffix(strings.TrimSuffix(nameOrPath[strings.LastIndexAny(nameOrPath, `/\`)+1:], ".yaml"), ".yml")
	p.Source, p.YAML = source, string(src)
	return p, nil
}

func parseRebalance(file string, src []byte, set []string) (*RebalanceProfile, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, s := range set {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--set %q: want FIELD=VALUE", s)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
		if k == "target.brokers" {
			doc["target"] = map[string]any{"brokers": val}
			continue
		}
		doc[k] = val
	}
	merged, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var raw rawRebalance
	dec := yaml.NewDecoder(bytes.NewReader(merged))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w (fields: kind, description, target.brokers, group_sizes, protocols, events, partitions_per_member, rate_per_partition, session_timeout, heartbeat_interval, settle, timeout)", file, err)
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", file, field, fmt.Sprintf(format, args...)))
	}
	if raw.Kind != "rebalance" {
		bad("kind", "%q: want rebalance", raw.Kind)
	}
	p := &RebalanceProfile{Description: raw.Description, Brokers: raw.Target.Brokers}
	if p.Brokers < 1 {
		bad("target.brokers", "%d: want at least 1", p.Brokers)
	}
	if len(raw.GroupSizes) == 0 {
		bad("group_sizes", "want at least one group size")
	}
	for _, n := range raw.GroupSizes {
		if n < 2 || n > 500 {
			bad("group_sizes", "%d: want 2..500 members (a crash needs a survivor)", n)
		}
	}
	p.Sizes = raw.GroupSizes
	for _, s := range raw.Protocols {
		if !slices.Contains(rebalance.Protocols, rebalance.Protocol(s)) {
			bad("protocols", "%q: want one of %s", s, joinStrings(rebalance.Protocols))
		}
		p.Protocols = append(p.Protocols, rebalance.Protocol(s))
	}
	if len(p.Protocols) == 0 {
		bad("protocols", "want at least one of %s", joinStrings(rebalance.Protocols))
	}
	for _, s := range raw.Events {
		if !slices.Contains(rebalance.Events, rebalance.Event(s)) {
			bad("events", "%q: want one of %s", s, joinStrings(rebalance.Events))
		}
		p.Events = append(p.Events, rebalance.Event(s))
	}
	if len(p.Events) == 0 {
		bad("events", "want at least one of %s", joinStrings(rebalance.Events))
	}
	if i := slices.Index(p.Events, rebalance.Leave); i >= 0 && !slices.Contains(p.Events[:i], rebalance.Join) && len(p.Events) > 1 {
		// leave closes the member join added; alone it closes any member.
		bad("events", "leave before join: list join first (leave closes the member join added)")
	}
	p.PartitionsPerMember = raw.PartitionsPerMember
	if p.PartitionsPerMember < 1 || p.PartitionsPerMember > 100 {
		bad("partitions_per_member", "%d: want 1..100", raw.PartitionsPerMember)
	}
	p.RatePerPartition = raw.RatePerPartition
	if p.RatePerPartition < 1 || p.RatePerPartition > 1000 {
		bad("rate_per_partition", "%g: want 1..1000 records/s", raw.RatePerPartition)
	}
	dur := func(field, v string, lo time.Duration, dst *time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo {
			bad(field, "%q: want a duration of at least %v, like 5s", v, lo)
			return
		}
		*dst = d
	}
	dur("session_timeout", raw.SessionTimeout, 6*time.Second, &p.Session)
	dur("heartbeat_interval", raw.HeartbeatInterval, 100*time.Millisecond, &p.Heartbeat)
	dur("settle", raw.Settle, 500*time.Millisecond, &p.Settle)
	dur("timeout", raw.Timeout, time.Second, &p.Timeout)
	if p.Heartbeat >= p.Session {
		bad("heartbeat_interval", "%v: must be below session_timeout (%v)", p.Heartbeat, p.Session)
	}
	if p.Settle <= p.Heartbeat {
		bad("settle", "%v: must exceed heartbeat_interval (%v): assignments change on heartbeats", p.Settle, p.Heartbeat)
	}
	if p.Timeout <= p.Session+p.Settle && slices.Contains(p.Events, rebalance.Crash) {
		bad("timeout", "%v: must exceed session_timeout + settle (%v) for the crash event", p.Timeout, p.Session+p.Settle)
	}
	return p, errors.Join(errs...)
}

func joinStrings[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// BrokerArgs are the flags the embedded brokers need so that consumer
// groups (KIP-848) get the same session timeout and heartbeat interval as
// the classic members.
func (p *RebalanceProfile) BrokerArgs() []string {
	return []string{"--consumer-group-session-timeout=" + p.Session.String(), "--consumer-group-heartbeat-interval=" + p.Heartbeat.String()}
}

// MarshalJSON writes the profile for manifests, durations as Go strings.
func (p *RebalanceProfile) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"name": p.Name, "source": p.Source, "description": p.Description, "brokers": p.Brokers,
		"group_sizes": p.Sizes, "protocols": p.Protocols, "events": p.Events,
		"partitions_per_member": p.PartitionsPerMember, "rate_per_partition": p.RatePerPartition,
		"session_timeout": p.Session.String(), "heartbeat_interval": p.Heartbeat.String(),
		"settle": p.Settle.String(), "timeout": p.Timeout.String(),
	})
}
