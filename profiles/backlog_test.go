package profiles

import (
	"strings"
	"testing"
)

func TestWorkloadBacklog(t *testing.T) {
	const head = "target: {bootstrap: 'k:9092'}\n"
	p, err := Parse("b.yaml", []byte(head+"workload: {duration: 10s, backlog: 64MiB, drain_ratio: 0.9}\nrate: 5000\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pt := p.Points[0]; pt.Backlog != 64<<20 || pt.DrainRatio != 0.9 {
		t.Errorf("backlog %d ratio %g, want 64MiB and 0.9", pt.Backlog, pt.DrainRatio)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"bad size", "workload: {duration: 10s, backlog: lots}\nrate: 5000\n", `workload.backlog: "lots" is not a byte size`},
		{"zero", "workload: {duration: 10s, backlog: 0}\nrate: 5000\n", "workload.backlog: \"0\": want a size above 0"},
		{"ratio without backlog", "workload: {duration: 10s, drain_ratio: 0.5}\nrate: 5000\n", "workload.drain_ratio: set without workload.backlog"},
		{"ratio above 1", "workload: {duration: 10s, backlog: 1MiB, drain_ratio: 2}\nrate: 5000\n", "workload.drain_ratio"},
		{"ratio zero", "workload: {duration: 10s, backlog: 1MiB, drain_ratio: 0}\nrate: 5000\n", "workload.drain_ratio: want a share above 0"},
		{"produce only", "workload: {mode: produce, duration: 10s, backlog: 1MiB}\nrate: 5000\n", "backlog: needs an e2e run"},
		{"searched rate", "workload: {duration: 10s, backlog: 1MiB}\nrate: max-sustainable\n", "backlog: needs a rate"},
		{"swept to unthrottled", "workload: {duration: 10s, backlog: 1MiB}\nrate: 5000\naxes: {rate: [5000, unthrottled]}\n", "point rate=unthrottled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(head+tc.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
