// Package faults describes fault schedules: the timed actions a
// load-generator run can inflict on kbench's embedded cluster (kill -9,
// stop, pause, resume or restart a broker; kill the current leader of a
// partition; slow or cap a broker's replication; drop produce responses) or,
// against any cluster, a user command. It parses and validates them from
// flags, YAML profiles and results, and knows nothing of the cluster:
// package inject (bench/faults/inject) runs a schedule against a target and
// heals it afterwards. Profiles and reports read schedules without importing
// any broker code.
//
// # Flag and profile syntax
//
// One action per --fault flag or YAML list item, AT:ACTION[:ARGS]:
//
//	10s:kill:2                 SIGKILL broker 2 (a crash)
//	10s:stop:2                 SIGTERM broker 2 (a controlled shutdown)
//	10s:pause:2                SIGSTOP broker 2 (a hung process); resume:2 undoes it
//	10s:restart:2              kill broker 2 if it runs, start it again on its data
//	10s:kill-leader:0          SIGKILL the broker leading partition 0 of the run's topic, resolved at 10s
//	10s:kill-leader:clicks/3   ... of partition 3 of topic clicks
//	10s:kill-leaders-on:1      SIGKILL the 1 broker (or N brokers) leading the most partitions of the run's topic
//	10s:delay:3:200ms          broker 3 waits 200ms before each replication fetch (0 clears)
//	10s:bandwidth:3:1MiB       cap broker 3's replication fetches at 1 MiB/s (0 clears)
//	10s:drop-produce:0.1       every broker drops 10 % of produce responses after appending
//	10s:drop-produce:2:0.1     ... only broker 2
//	10s:exec:systemctl kill kafka@2   run the rest of the line with sh -c (any target)
//
// AT is a Go duration after the end of the warmup ("0s" is the moment the
// warmup ends). Each action starts at its time whatever the others are
// doing (a graceful stop can take seconds); actions due at the same time on
// the same broker run in the order given. In YAML an item may also be a mapping with the fields at,
// action, broker, topic, partition, count, delay, bandwidth, fraction and
// command, e.g. {at: 10s, action: kill-leader, partition: 0}.
//
// kill-leaders-on:N ranks brokers by how many partitions of the run's topic
// they lead at that moment (ties: lower id first) and kills the first N:
// every partition those brokers led loses its leader at once, the worst
// case for a controller-driven failover of N brokers.
package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/internal/units"
	"gopkg.in/yaml.v3"
)

// Kind names an action.
type Kind string

// The actions.
const (
	Kill        Kind = "kill"
	Stop        Kind = "stop"
	Pause       Kind = "pause"
	Resume      Kind = "resume"
	Restart     Kind = "restart"
	KillLeader  Kind = "kill-leader"
	KillLeaders Kind = "kill-leaders-on"
	Delay       Kind = "delay"
	Bandwidth   Kind = "bandwidth"
	DropProduce Kind = "drop-produce"
	Exec        Kind = "exec"
)

// Kinds lists every action, in the order help texts show them.
func Kinds() []Kind {
	return []Kind{Kill, Stop, Pause, Resume, Restart, KillLeader, KillLeaders, Delay, Bandwidth, DropProduce, Exec}
}

// ErrSyntax marks a fault that does not parse or validate.
var ErrSyntax = errors.New("invalid fault")

// Action is one timed fault. Which fields matter depends on Kind.
type Action struct {
	// At is the time after the end of the warmup.
	At   time.Duration
	Kind Kind
	// Broker is the broker id (1-based) of kill, stop, pause, resume,
	// restart, delay and bandwidth; for drop-produce 0 means every broker.
	Broker int32
	// Topic and Partition name kill-leader's partition; an empty Topic is
	// the run's topic.
	Topic     string
	Partition int32
	// Count is how many brokers kill-leaders-on kills.
	Count int
	// Delay is delay's replication fetch delay (0 clears it).
	Delay time.Duration
	// Bandwidth is bandwidth's cap in bytes/s (0 removes it).
	Bandwidth int64
	// Fraction is drop-produce's share of responses dropped (0 stops it).
	Fraction float64
	// Command is exec's shell command.
	Command string
}

// NeedsCluster reports whether the action needs kbench's embedded cluster:
// everything but exec does.
func (a Action) NeedsCluster() bool { return a.Kind != Exec }

// String writes the action in flag syntax; Parse reads it back.
func (a Action) String() string {
	at := a.At.String()
	switch a.Kind {
	case Kill, Stop, Pause, Resume, Restart:
		return fmt.Sprintf("%s:%s:%d", at, a.Kind, a.Broker)
	case KillLeader:
		if a.Topic != "" {
			return fmt.Sprintf("%s:%s:%s/%d", at, a.Kind, a.Topic, a.Partition)
		}
		return fmt.Sprintf("%s:%s:%d", at, a.Kind, a.Partition)
	case KillLeaders:
		return fmt.Sprintf("%s:%s:%d", at, a.Kind, a.Count)
	case Delay:
		return fmt.Sprintf("%s:%s:%d:%s", at, a.Kind, a.Broker, a.Delay)
	case Bandwidth:
		return fmt.Sprintf("%s:%s:%d:%s", at, a.Kind, a.Broker, units.FormatBytesExact(a.Bandwidth))
	case DropProduce:
		f := strconv.FormatFloat(a.Fraction, 'g', -1, 64)
		if a.Broker == 0 {
			return fmt.Sprintf("%s:%s:%s", at, a.Kind, f)
		}
		return fmt.Sprintf("%s:%s:%d:%s", at, a.Kind, a.Broker, f)
	case Exec:
		return fmt.Sprintf("%s:%s:%s", at, a.Kind, a.Command)
	}
	return fmt.Sprintf("%s:%s", at, a.Kind)
}

// Validate checks the fields Kind uses.
func (a Action) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrSyntax, a, fmt.Sprintf(format, args...))
	}
	if a.At < 0 {
		return bad("time %s is negative: times count from the end of the warmup", a.At)
	}
	switch a.Kind {
	case Kill, Stop, Pause, Resume, Restart, Delay, Bandwidth:
		if a.Broker < 1 {
			return bad("broker %d: broker ids start at 1", a.Broker)
		}
	case DropProduce:
		if a.Broker < 0 {
			return bad("broker %d: broker ids start at 1 (leave it out for every broker)", a.Broker)
		}
	}
	switch a.Kind {
	case Kill, Stop, Pause, Resume, Restart:
	case KillLeader:
		if a.Partition < 0 {
			return bad("partition %d is negative", a.Partition)
		}
		if strings.ContainsAny(a.Topic, ":/ ") {
			return bad("topic %q: topic names cannot hold ':', '/' or spaces", a.Topic)
		}
	case KillLeaders:
		if a.Count < 1 {
			return bad("count %d: want at least 1 broker", a.Count)
		}
	case Delay:
		if a.Delay < 0 {
			return bad("delay %s is negative", a.Delay)
		}
	case Bandwidth:
		if a.Bandwidth < 0 {
			return bad("bandwidth %d is negative", a.Bandwidth)
		}
	case DropProduce:
		if !(a.Fraction >= 0 && a.Fraction <= 1) {
			return bad("fraction %v: want 0..1", a.Fraction)
		}
	case Exec:
		if strings.TrimSpace(a.Command) == "" {
			return bad("no command")
		}
	default:
		return fmt.Errorf("%w: unknown action %q: want one of %s", ErrSyntax, a.Kind, kindList())
	}
	return nil
}

func kindList() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// Parse reads one action in flag syntax (see the package doc).
func Parse(spec string) (Action, error) {
	bad := func(format string, args ...any) (Action, error) {
		return Action{}, fmt.Errorf("%w %q: %s", ErrSyntax, spec, fmt.Sprintf(format, args...))
	}
	atS, rest, ok := strings.Cut(strings.TrimSpace(spec), ":")
	if !ok {
		return bad("want AT:ACTION[:ARGS], e.g. 10s:kill-leader:0")
	}
	at, err := time.ParseDuration(strings.TrimSpace(atS))
	if err != nil {
		return bad("time %q: want a Go duration after the end of the warmup (10s, 1m30s)", atS)
	}
	kindS, args, _ := strings.Cut(rest, ":")
	a := Action{At: at, Kind: Kind(strings.TrimSpace(kindS))}
	if a.Kind == Exec {
		// The command keeps its colons; surrounding quotes (from a shell or
		// YAML) are dropped.
		a.Command = unquote(strings.TrimSpace(args))
		if err := a.Validate(); err != nil {
			return Action{}, err
		}
		return a, nil
	}
	var parts []string
	if args != "" {
		parts = strings.Split(args, ":")
	}
	want := func(n ...int) error {
		if !slices.Contains(n, len(parts)) {
			return fmt.Errorf("%w %q: %s takes %s", ErrSyntax, spec, a.Kind, usage(a.Kind))
		}
		return nil
	}
	broker := func(s string) (int32, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%w %q: broker %q: want a broker id (1, 2, ...)", ErrSyntax, spec, s)
		}
		return int32(n), nil
	}
	switch a.Kind {
	case Kill, Stop, Pause, Resume, Restart:
		if err := want(1); err != nil {
			return Action{}, err
		}
		if a.Broker, err = broker(parts[0]); err != nil {
			return Action{}, err
		}
	case KillLeader:
		if err := want(1); err != nil {
			return Action{}, err
		}
		p := parts[0]
		if t, ps, ok := strings.Cut(p, "/"); ok {
			a.Topic, p = strings.TrimSpace(t), ps
			if a.Topic == "" {
				return bad("empty topic before '/'")
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		if err != nil {
			return bad("partition %q: want a number", p)
		}
		a.Partition = int32(n)
	case KillLeaders:
		if err := want(1); err != nil {
			return Action{}, err
		}
		if a.Count, err = strconv.Atoi(strings.TrimSpace(parts[0])); err != nil {
			return bad("count %q: want a number of brokers", parts[0])
		}
	case Delay:
		if err := want(2); err != nil {
			return Action{}, err
		}
		if a.Broker, err = broker(parts[0]); err != nil {
			return Action{}, err
		}
		if strings.TrimSpace(parts[1]) == "0" {
			break
		}
		if a.Delay, err = time.ParseDuration(strings.TrimSpace(parts[1])); err != nil {
			return bad("delay %q: want a Go duration (200ms)", parts[1])
		}
	case Bandwidth:
		if err := want(2); err != nil {
			return Action{}, err
		}
		if a.Broker, err = broker(parts[0]); err != nil {
			return Action{}, err
		}
		if a.Bandwidth, err = units.ParseBytes(strings.TrimSuffix(strings.TrimSpace(parts[1]), "/s")); err != nil {
			return bad("bandwidth: %v", err)
		}
	case DropProduce:
		if err := want(1, 2); err != nil {
			return Action{}, err
		}
		if len(parts) == 2 {
			if a.Broker, err = broker(parts[0]); err != nil {
				return Action{}, err
			}
		}
		f := strings.TrimSpace(parts[len(parts)-1])
		if a.Fraction, err = strconv.ParseFloat(f, 64); err != nil {
			return bad("fraction %q: want a number in 0..1", f)
		}
	default:
		return Action{}, fmt.Errorf("%w %q: unknown action %q: want one of %s", ErrSyntax, spec, a.Kind, kindList())
	}
	if err := a.Validate(); err != nil {
		return Action{}, err
	}
	return a, nil
}

func usage(k Kind) string {
	switch k {
	case Kill, Stop, Pause, Resume, Restart:
		return "a broker id: " + string(k) + ":2"
	case KillLeader:
		return "a partition of the run's topic or TOPIC/PARTITION: kill-leader:0, kill-leader:clicks/3"
	case KillLeaders:
		return "a number of brokers: kill-leaders-on:1"
	case Delay:
		return "a broker and a duration: delay:3:200ms"
	case Bandwidth:
		return "a broker and bytes/s: bandwidth:3:1MiB"
	case DropProduce:
		return "a fraction, optionally after a broker: drop-produce:0.1, drop-produce:2:0.1"
	}
	return "a command: exec:systemctl kill kafka@2"
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		if s[0] == '"' {
			if u, err := strconv.Unquote(s); err == nil {
				return u
			}
		}
		return s[1 : len(s)-1]
	}
	return s
}

// MarshalJSON writes the flag syntax: compact and readable in results.
func (a Action) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Action) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// yamlAction is the mapping form of an action in YAML.
type yamlAction struct {
	At        string   `yaml:"at"`
	Action    string   `yaml:"action"`
	Broker    *int32   `yaml:"broker"`
	Topic     string   `yaml:"topic"`
	Partition *int32   `yaml:"partition"`
	Count     *int     `yaml:"count"`
	Delay     string   `yaml:"delay"`
	Bandwidth string   `yaml:"bandwidth"`
	Fraction  *float64 `yaml:"fraction"`
	Command   string   `yaml:"command"`
}

// UnmarshalYAML reads a scalar in flag syntax or a mapping; unknown keys,
// and keys the action does not use, are errors that name the line.
func (a *Action) UnmarshalYAML(n *yaml.Node) error {
	v, err := FromYAML(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = v
	return nil
}

// FromYAML reads one action from a YAML node: a scalar in flag syntax or a
// mapping (see the package doc). Errors do not name the line.
func FromYAML(n *yaml.Node) (Action, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return Parse(n.Value)
	case yaml.MappingNode:
	default:
		return Action{}, fmt.Errorf("%w: want AT:ACTION[:ARGS] or a mapping with at and action", ErrSyntax)
	}
	var y yamlAction
	dec := yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}
	if err := decodeStrict(&dec, &y); err != nil {
		return Action{}, err
	}
	if y.At == "" || y.Action == "" {
		return Action{}, fmt.Errorf("%w: a fault needs at and action", ErrSyntax)
	}
	at, err := time.ParseDuration(y.At)
	if err != nil {
		return Action{}, fmt.Errorf("%w: at %q: want a Go duration after the end of the warmup", ErrSyntax, y.At)
	}
	v := Action{At: at, Kind: Kind(y.Action), Topic: y.Topic, Command: y.Command}
	used := map[string]bool{}
	if y.Broker != nil {
		v.Broker, used["broker"] = *y.Broker, true
	}
	if y.Topic != "" {
		used["topic"] = true
	}
	if y.Partition != nil {
		v.Partition, used["partition"] = *y.Partition, true
	}
	if y.Count != nil {
		v.Count, used["count"] = *y.Count, true
	}
	if y.Delay != "" {
		used["delay"] = true
		if y.Delay != "0" {
			if v.Delay, err = time.ParseDuration(y.Delay); err != nil {
				return Action{}, fmt.Errorf("%w: delay %q: want a Go duration", ErrSyntax, y.Delay)
			}
		}
	}
	if y.Bandwidth != "" {
		used["bandwidth"] = true
		if v.Bandwidth, err = units.ParseBytes(strings.TrimSuffix(y.Bandwidth, "/s")); err != nil {
			return Action{}, fmt.Errorf("%w: bandwidth: %w", ErrSyntax, err)
		}
	}
	if y.Fraction != nil {
		v.Fraction, used["fraction"] = *y.Fraction, true
	}
	if y.Command != "" {
		used["command"] = true
	}
	allowed := map[Kind][]string{
		Kill: {"broker"}, Stop: {"broker"}, Pause: {"broker"}, Resume: {"broker"}, Restart: {"broker"},
		KillLeader: {"topic", "partition"}, KillLeaders: {"count"},
		Delay: {"broker", "delay"}, Bandwidth: {"broker", "bandwidth"},
		DropProduce: {"broker", "fraction"}, Exec: {"command"},
	}
	fields, ok := allowed[v.Kind]
	if !ok {
		return Action{}, fmt.Errorf("%w: unknown action %q: want one of %s", ErrSyntax, v.Kind, kindList())
	}
	for k := range used {
		if !slices.Contains(fields, k) {
			return Action{}, fmt.Errorf("%w: %s takes no %s (it takes %s)", ErrSyntax, v.Kind, k, strings.Join(fields, ", "))
		}
	}
	required := map[Kind][]string{
		Kill: {"broker"}, Stop: {"broker"}, Pause: {"broker"}, Resume: {"broker"}, Restart: {"broker"},
		KillLeader: {"partition"}, KillLeaders: {"count"}, Delay: {"broker", "delay"},
		Bandwidth: {"broker", "bandwidth"}, DropProduce: {"fraction"}, Exec: {"command"},
	}
	for _, k := range required[v.Kind] {
		if !used[k] {
			return Action{}, fmt.Errorf("%w: %s needs %s", ErrSyntax, v.Kind, k)
		}
	}
	if err := v.Validate(); err != nil {
		return Action{}, err
	}
	return v, nil
}

// MarshalYAML writes the flag syntax.
func (a Action) MarshalYAML() (any, error) { return a.String(), nil }

func decodeStrict(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return nil
}

// Schedule is a run's faults, in the order they fire.
type Schedule []Action

// ParseFlags reads --fault values and sorts them by time (stable, so
// actions at the same time keep their order).
func ParseFlags(specs []string) (Schedule, error) {
	var s Schedule
	var errs []error
	for _, spec := range specs {
		a, err := Parse(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s = append(s, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.Sort()
	return s, nil
}

// Sort orders the actions by time, keeping the given order of actions due
// at the same time.
func (s Schedule) Sort() {
	slices.SortStableFunc(s, func(a, b Action) int { return int(a.At - b.At) })
}

// Validate checks every action; brokers > 0 also checks broker ids and
// kill-leaders-on counts against the cluster size.
func (s Schedule) Validate(brokers int) error {
	var errs []error
	for _, a := range s {
		if err := a.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if brokers <= 0 {
			continue
		}
		if a.Broker > int32(brokers) {
			errs = append(errs, fmt.Errorf("%w %s: broker %d does not exist in a %d-broker cluster", ErrSyntax, a, a.Broker, brokers))
		}
		if a.Kind == KillLeaders && a.Count > brokers {
			errs = append(errs, fmt.Errorf("%w %s: cannot kill %d of %d brokers", ErrSyntax, a, a.Count, brokers))
		}
	}
	return errors.Join(errs...)
}

// NeedsCluster reports whether any action needs the embedded cluster.
func (s Schedule) NeedsCluster() bool {
	return slices.ContainsFunc(s, Action.NeedsCluster)
}

// Strings writes every action in flag syntax.
func (s Schedule) Strings() []string {
	out := make([]string, len(s))
	for i, a := range s {
		out[i] = a.String()
	}
	return out
}

// UnmarshalYAML reads a list of actions and sorts it by time.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: %w: faults must be a list", n.Line, ErrSyntax)
	}
	var out Schedule
	var errs []error
	for _, item := range n.Content {
		var a Action
		if err := a.UnmarshalYAML(item); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out.Sort()
	*s = out
	return nil
}
