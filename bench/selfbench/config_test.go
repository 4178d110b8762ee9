package selfbench

import (
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := Defaults()
	ok.Binary = "/bin/true"
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no binary", func(c *Config) { c.Binary = "" }},
		{"unknown target", func(c *Config) { c.Targets = []Kind{"redpanda"} }},
		{"rf3 catch-up", func(c *Config) { c.ConsumeTargets = []Kind{KbenchRF3} }},
		{"no rounds", func(c *Config) { c.Rounds = 0 }},
		{"short duration", func(c *Config) { c.Duration = time.Millisecond }},
		{"bad acks", func(c *Config) {
			c.Workloads = []Workload{{RecordSize: 100, Producers: 1, Acks: "2", Compression: "none"}}
		}},
		{"bad codec", func(c *Config) {
			c.Workloads = []Workload{{RecordSize: 100, Producers: 1, Acks: "1", Compression: "lz4"}}
		}},
		{"backlog below a record", func(c *Config) { c.Backlog = 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.validate(); err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}

func TestMatrix(t *testing.T) {
	m := Matrix()
	if len(m) != 16 {
		t.Fatalf("%d workloads, want 16 (2 sizes x 2 producer counts x 2 acks x 2 codecs)", len(m))
	}
	seen := map[string]bool{}
	rf3 := 0
	for _, w := range m {
		if seen[w.Name()] {
			t.Errorf("duplicate workload name %q", w.Name())
		}
		seen[w.Name()] = true
		if w.runsOn(KbenchRF3) {
			rf3++
		}
	}
	if rf3 != 8 {
		t.Errorf("RF=3 runs %d workloads, want the 8 acks=all ones", rf3)
	}
	if got := (Workload{RecordSize: 1024, Producers: 4, Acks: "all", Compression: "zstd"}).Name(); got != "1KiB p4 acks=all zstd" {
		t.Errorf("name %q", got)
	}
}
