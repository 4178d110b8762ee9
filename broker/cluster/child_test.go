package cluster

import "testing"

// Both sides of the protocol's stdout: what a server prints, the
// supervisor reads back.
func TestListeningLine(t *testing.T) {
	for _, tc := range []struct {
		line, addr string
		ok         bool
	}{
		{ListeningLine("kbench broker 2", "127.0.0.1:9092", "data dir /tmp/x"), "127.0.0.1:9092", true},
		{ListeningLine("selfbench ceiling", "[::1]:5", ""), "[::1]:5", true},
		{"kbench broker 1 listening on", "", false},
		{"listening for nothing", "", false},
		{"metrics on http://127.0.0.1:1/metrics", "", false},
	} {
		addr, ok := listeningAddr(tc.line)
		if addr != tc.addr || ok != tc.ok {
			t.Errorf("%q: got %q %v, want %q %v", tc.line, addr, ok, tc.addr, tc.ok)
		}
	}
	if u, ok := metricsURL("metrics on http://127.0.0.1:1/metrics"); !ok || u != "http://127.0.0.1:1/metrics" {
		t.Errorf("metrics line: got %q %v", u, ok)
	}
	if _, ok := metricsURL("kbench broker 1 listening on 127.0.0.1:1"); ok {
		t.Error("a listening line read as a metrics line")
	}
}
