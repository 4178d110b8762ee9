package faults

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Action
		// canon is String()'s form when it differs from spec.
		canon string
	}{
		{"10s:kill:2", Action{At: 10 * time.Second, Kind: Kill, Broker: 2}, ""},
		{"5s:stop:1", Action{At: 5 * time.Second, Kind: Stop, Broker: 1}, ""},
		{"0s:pause:3", Action{Kind: Pause, Broker: 3}, ""},
		{"1m30s:resume:3", Action{At: 90 * time.Second, Kind: Resume, Broker: 3}, ""},
		{"12s:restart:2", Action{At: 12 * time.Second, Kind: Restart, Broker: 2}, ""},
		{"10s:kill-leader:0", Action{At: 10 * time.Second, Kind: KillLeader}, ""},
		{"10s:kill-leader:topic/7", Action{At: 10 * time.Second, Kind: KillLeader, Topic: "topic", Partition: 7}, ""},
		{"2s:kill-leaders-on:2", Action{At: 2 * time.Second, Kind: KillLeaders, Count: 2}, ""},
		{"3s:delay:3:200ms", Action{At: 3 * time.Second, Kind: Delay, Broker: 3, Delay: 200 * time.Millisecond}, ""},
		{"3s:delay:3:0", Action{At: 3 * time.Second, Kind: Delay, Broker: 3}, "3s:delay:3:0s"},
		{"4s:bandwidth:1:1MiB", Action{At: 4 * time.Second, Kind: Bandwidth, Broker: 1, Bandwidth: 1 << 20}, ""},
		{"4s:bandwidth:1:1500/s", Action{At: 4 * time.Second, Kind: Bandwidth, Broker: 1, Bandwidth: 1500}, "4s:bandwidth:1:1500"},
		{"1s:drop-produce:0.1", Action{At: time.Second, Kind: DropProduce, Fraction: 0.1}, ""},
		{"1s:drop-produce:2:0.5", Action{At: time.Second, Kind: DropProduce, Broker: 2, Fraction: 0.5}, ""},
		{`5s:exec:"systemctl kill kafka@2"`, Action{At: 5 * time.Second, Kind: Exec, Command: "systemctl kill kafka@2"}, "5s:exec:systemctl kill kafka@2"},
		{"5s:exec:echo a:b:c", Action{At: 5 * time.Second, Kind: Exec, Command: "echo a:b:c"}, ""},
		{" 250ms : kill : 1 ", Action{At: 250 * time.Millisecond, Kind: Kill, Broker: 1}, "250ms:kill:1"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := Parse(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			canon := tc.canon
			if canon == "" {
				canon = tc.spec
			}
			if got.String() != canon {
				t.Errorf("String() = %q, want %q", got.String(), canon)
			}
			back, err := Parse(got.String())
			if err != nil || back != got {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", back, err, got)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var fromJSON Action
			if err := json.Unmarshal(b, &fromJSON); err != nil || fromJSON != got {
				t.Errorf("JSON %s round trip: %+v, %v", b, fromJSON, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"kill:2", "time"},
		{"10s", "AT:ACTION"},
		{"10s:explode:2", "unknown action"},
		{"10s:kill", "takes a broker id"},
		{"10s:kill:0", "broker ids start at 1"},
		{"10s:kill:two", "want a broker id"},
		{"-1s:kill:1", "negative"},
		{"10s:kill-leader:t/x", "partition"},
		{"10s:kill-leader:/1", "empty topic"},
		{"10s:kill-leaders-on:0", "at least 1"},
		{"10s:delay:1", "a broker and a duration"},
		{"10s:delay:1:fast", "Go duration"},
		{"10s:bandwidth:1:lots", "bandwidth"},
		{"10s:drop-produce:1.5", "0..1"},
		{"10s:drop-produce:1:2:0.1", "a fraction"},
		{"10s:exec:", "no command"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Parse(tc.spec)
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrSyntax mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseFlagsSortsAndValidates(t *testing.T) {
	s, err := ParseFlags([]string{"12s:restart:2", "5s:kill:2", "5s:exec:echo second", "0s:drop-produce:0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0s:drop-produce:0.1", "5s:kill:2", "5s:exec:echo second", "12s:restart:2"}
	if got := s.Strings(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order: got %q, want %q (by time, ties in flag order)", got, want)
	}
	if err := s.Validate(3); err != nil {
		t.Errorf("valid on 3 brokers: %v", err)
	}
	if err := s.Validate(1); err == nil || !strings.Contains(err.Error(), "broker 2 does not exist") {
		t.Errorf("validate on 1 broker: %v, want broker 2 does not exist", err)
	}
	if _, err := ParseFlags([]string{"1s:kill:1", "bad", "2s:nope:1"}); err == nil || !strings.Contains(err.Error(), `"bad"`) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("every bad flag should be reported: %v", err)
	}
	if !s.NeedsCluster() {
		t.Error("NeedsCluster false with kill")
	}
	if exec, _ := ParseFlags([]string{"1s:exec:true"}); exec.NeedsCluster() {
		t.Error("NeedsCluster true with only exec")
	}
}

func TestScheduleYAML(t *testing.T) {
	const doc = `
faults:
  - 10s:kill-leader:0
  - {at: 3s, action: delay, broker: 3, delay: 200ms}
  - {at: 3s, action: bandwidth, broker: 2, bandwidth: 1MiB}
  - {at: 1s, action: drop-produce, fraction: 0.25}
  - {at: 20s, action: exec, command: "systemctl kill kafka@2"}
  - {at: 4s, action: kill-leader, topic: clicks, partition: 2}
  - {at: 5s, action: kill-leaders-on, count: 1}
`
	var p struct {
		Faults Schedule `yaml:"faults"`
	}
	if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	want := []string{"1s:drop-produce:0.25", "3s:delay:3:200ms", "3s:bandwidth:2:1MiB", "4s:kill-leader:clicks/2", "5s:kill-leaders-on:1", "10s:kill-leader:0", "20s:exec:systemctl kill kafka@2"}
	if got := p.Faults.Strings(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var again struct {
		Faults Schedule `yaml:"faults"`
	}
	if err := yaml.Unmarshal(out, &again); err != nil || strings.Join(again.Faults.Strings(), "|") != strings.Join(want, "|") {
		t.Errorf("YAML round trip:\n%s\ngot %q, %v", out, again.Faults.Strings(), err)
	}
}

func TestScheduleYAMLErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"faults: {at: 1s}", "must be a list"},
		{"faults:\n  - {at: 1s, action: kill}", "kill needs broker"},
		{"faults:\n  - {at: 1s, action: kill, broker: 1, delay: 5s}", "kill takes no delay"},
		{"faults:\n  - {at: 1s, action: kill, brokr: 1}", "brokr"},
		{"faults:\n  - {action: kill, broker: 1}", "needs at and action"},
		{"faults:\n  - 1s:kill:1\n  - 2s:boom:1", "line 3"},
		{"faults:\n  - {at: soon, action: kill, broker: 1}", "at \"soon\""},
		{"faults:\n  - [1s, kill]", "want AT:ACTION"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var p struct {
				Faults Schedule `yaml:"faults"`
			}
			err := yaml.Unmarshal([]byte(tc.doc), &p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10s:kill:2", "1s:kill-leader:t/3", "3s:delay:3:200ms", "4s:bandwidth:1:1MiB", "1s:drop-produce:2:0.5", "5s:exec:echo a:b", "2s:kill-leaders-on:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		a, err := Parse(spec)
		if err != nil {
			return
		}
		back, err := Parse(a.String())
		if err != nil || back != a {
			t.Fatalf("Parse(%q) = %+v; its String %q parses as %+v, %v", spec, a, a.String(), back, err)
		}
	})
}
