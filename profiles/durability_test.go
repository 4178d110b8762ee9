package profiles

import (
	"strings"
	"testing"
)

const faultsProfile = `
target: {brokers: 3}
workload: {mode: produce, duration: 5s}
rate: 1000
axes:
  acks: ["1", all]
faults:
  - 3s:restart:2
  - {at: 1s, action: kill-leader, partition: 0}
audit: true
`

func TestFaultsAndAudit(t *testing.T) {
	p, err := Parse("f.yaml", []byte(faultsProfile), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Faults.Strings(), " "); got != "1s:kill-leader:0 3s:restart:2" || !p.Audit {
		t.Errorf("faults %q (want sorted by time), audit %v", got, p.Audit)
	}
	p, err = Parse("f.yaml", []byte(faultsProfile), Options{Set: []string{`faults=["0s:drop-produce:0.5"]`, "audit=false"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Faults.Strings(), " "); got != "0s:drop-produce:0.5" || p.Audit {
		t.Errorf("with --set: faults %q, audit %v", got, p.Audit)
	}
}

func TestFaultsErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"one broker", "workload: {duration: 5s}\nrate: 1000\nfaults: [1s:kill:1]\n",
			"f.yaml:3: faults: 1s:kill:1 needs an embedded cluster of 2 or more brokers, point p001 (base) has 1"},
		{"bootstrap", "target: {bootstrap: 'k:9092'}\nworkload: {duration: 5s}\nrate: 1000\nfaults: [1s:kill:1]\n",
			"only exec faults run"},
		{"no such broker", "target: {brokers: 3}\nworkload: {duration: 5s}\nrate: 1000\nfaults: [1s:kill:4]\n",
			"broker 4 does not exist in a 3-broker cluster"},
		{"bad action", "target: {brokers: 3}\nworkload: {duration: 5s}\nrate: 1000\nfaults:\n  - 1s:kill:1\n  - 2s:boom:1\n",
			`f.yaml:6: faults[1]: invalid fault "2s:boom:1": unknown action "boom"`},
		{"mapping field", "target: {brokers: 3}\nworkload: {duration: 5s}\nrate: 1000\nfaults:\n  - {at: 1s, action: kill, broker: 1, delay: 1s}\n",
			"f.yaml:5: faults[0]: invalid fault: kill takes no delay"},
		{"not a list", "target: {brokers: 3}\nworkload: {duration: 5s}\nrate: 1000\nfaults: 1s:kill:1\n",
			"f.yaml:4: faults: got a single value, want a list"},
		{"audit", "workload: {duration: 5s}\nrate: 1000\naudit: sure\n", `f.yaml:3: audit: "sure": want true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
	// exec needs no cluster.
	if _, err := Parse("f.yaml", []byte("target: {bootstrap: 'k:9092'}\nworkload: {duration: 5s}\nrate: 1000\nfaults: ['1s:exec:systemctl kill kafka@2']\n"), Options{}); err != nil {
		t.Errorf("exec against bootstrap: %v", err)
	}
}
