package profiles

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbench/kbench/bench"
)

var update = flag.Bool("update", false, "rewrite the golden error files")

// Every bad profile's error is compared with its golden file: the message
// is the interface here (file, line, field, valid values).
func TestBadProfilesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad profiles: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			_, err := Load(f, nil)
			if err == nil {
				t.Fatal("loaded without error")
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("got error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestBuiltinsLoad(t *testing.T) {
	names := Names()
	for _, want := range []string{"quick", "clickstream", "compression", "durability", "partitions", "linger-batch"} {
		if !slices.Contains(names, want) {
			t.Fatalf("built-ins %v lack %s", names, want)
		}
	}
	for _, n := range names {
		p, err := Load(n, nil)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if p.Name != n || p.Source != "builtin" || p.Description == "" || len(p.Points) == 0 {
			t.Fatalf("%s: name %q source %q description %q, %d points", n, p.Name, p.Source, p.Description, len(p.Points))
		}
	}
}

// clickstream is the seed's design, exactly.
func TestClickstreamIsTheSeedDesign(t *testing.T) {
	p, err := Load("clickstream", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Base
	checks := []struct {
		what      string
		got, want any
	}{
		{"record size", b.Workload.RecordSize, "1KiB"},
		{"payload", b.Workload.Payload, "json"},
		{"keyed", strings.HasPrefix(b.Workload.Keys, "uniform:"), true},
		{"partitions", b.Topic.Partitions, int32(20)},
		{"replication factor", b.Topic.ReplicationFactor, int16(3)},
		{"min.insync.replicas", b.Topic.Configs["min.insync.replicas"], "2"},
		{"acks", b.Producer["acks"], "all"},
		{"idempotence", b.Producer["enable.idempotence"], "true"},
		{"compression", b.Producer["compression.type"], "zstd"},
		{"rate", b.Rate, Rate{Kind: RateFixed, PerSec: 100000}},
		{"brokers", p.Target.Brokers, 3},
		{"slo p99", p.SLO.P99Ms, 20.0},
		{"axes", []string{p.Axes[0].Name, p.Axes[1].Name}, []string{"linger.ms", "batch.size"}},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

// quick, behind make run, shows a short durability frontier: at least
// three levels, acks=1 and acks=all, RF 1 and RF 3, each with a capacity
// search and an audited fault scenario.
func TestQuickShowsAFrontier(t *testing.T) {
	p, err := Load("quick", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Frontier == nil || len(p.Frontier.Scenarios) == 0 || p.Frontier.Rate <= 0 {
		t.Fatalf("quick has no frontier: %+v", p.Frontier)
	}
	acks, rf := map[string]bool{}, map[int16]bool{}
	for _, pt := range p.Points {
		if pt.Rate.Kind != RateMaxSustainable {
			t.Errorf("%s: rate %s, want max-sustainable", pt.Label, pt.Rate)
		}
		acks[pt.Producer["acks"]] = true
		rf[pt.Topic.ReplicationFactor] = true
	}
	if len(p.Points) < 3 || !acks["1"] || !acks["all"] || !rf[1] || !rf[3] {
		t.Fatalf("quick: %d points, acks %v, RF %v; want at least 3 levels with acks=1 and all, RF 1 and 3", len(p.Points), acks, rf)
	}
}

func TestFrontierErrors(t *testing.T) {
	const base = "target: {brokers: 3}\nworkload: {duration: 2s}\nrate: max-sustainable\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"no rate", base + "frontier: {scenarios: [{name: a, faults: [1s:kill:2]}]}\n", "frontier.rate: missing"},
		{"no scenarios", base + "frontier: {rate: 1000}\n", "frontier.scenarios: want a list"},
		{"unknown field", base + "frontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2], when: now}]}\n", "frontier.scenarios[0].when: unknown field"},
		{"duplicate name", base + "frontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2]}, {name: a, faults: [1s:kill:3]}]}\n", `"a" is given twice`},
		{"bad fault", base + "frontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:4]}]}\n", "broker 4 does not exist"},
		{"fixed rate", "target: {brokers: 3}\nworkload: {duration: 2s}\nrate: 1000\nfrontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2]}]}\n", "set rate: max-sustainable"},
		{"with faults", base + "faults: [1s:kill:2]\nfrontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2]}]}\n", "drop the top-level faults"},
		{"bootstrap", "target: {bootstrap: 'k:9092'}\nworkload: {duration: 2s}\nrate: max-sustainable\nfrontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2]}]}\n", "only exec faults run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.doc), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
	// Against a real cluster the scenario's faults are commands, set on the
	// command line.
	p, err := Parse("f.yaml", []byte("target: {bootstrap: 'k:9092'}\nworkload: {duration: 2s}\nrate: max-sustainable\nfrontier: {rate: 1000, scenarios: [{name: a, faults: [1s:kill:2]}]}\n"),
		Options{Set: []string{`frontier.scenarios=[{name: kill, faults: ["1s:exec:kbench cluster kill 2"]}]`}})
	if err != nil || len(p.Frontier.Scenarios) != 1 || p.Frontier.Scenarios[0].Faults[0].Command != "kbench cluster kill 2" {
		t.Fatalf("exec scenario via --set: %v %+v", err, p)
	}
}

const gridYAML = `
name: grid
workload:
  duration: 2s
  payload: file:events.txt
rate: 1000
topic:
  partitions: 4
axes:
  linger.ms: [0, 5]
  batch.size: [16KiB, 64KiB, 1MiB]
  scale:
    - {partitions: 2, producers: 1}
    - {partitions: 8, producers: 4, consumers: 2}
exclude:
  - {linger.ms: 0, batch.size: [64KiB, 1MiB]}
  - {partitions: 8, batch.size: 16384}
`

func TestExpansion(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.txt"), []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Parse(filepath.Join(dir, "grid.yaml"), []byte(gridYAML), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 2 × 3 × 2 = 12; rule 1 drops 2 × 2 = 4, rule 2 drops linger 5 ×
	// 16KiB × partitions 8 = 1 more (linger 0 × 16KiB × 8 is left).
	var labels []string
	for _, pt := range p.Points {
		labels = append(labels, pt.ID+" "+pt.Label)
	}
	want := []string{
		"p001 linger.ms=0/batch.size=16KiB/partitions=2/producers=1",
		"p002 linger.ms=5/batch.size=16KiB/partitions=2/producers=1",
		"p003 linger.ms=5/batch.size=64KiB/partitions=2/producers=1",
		"p004 linger.ms=5/batch.size=64KiB/partitions=8/producers=4/consumers=2",
		"p005 linger.ms=5/batch.size=1MiB/partitions=2/producers=1",
		"p006 linger.ms=5/batch.size=1MiB/partitions=8/producers=4/consumers=2",
	}
	// linger.ms=0/16KiB/partitions=8 is excluded by rule 2 (16384 = 16KiB).
	if !slices.Equal(labels, want) || p.Excluded != 6 {
		t.Fatalf("got %d points (%d excluded):\n%s\nwant:\n%s", len(labels), p.Excluded, strings.Join(labels, "\n"), strings.Join(want, "\n"))
	}
	pt := p.Points[3]
	if pt.Producer["batch.size"] != "65536" || pt.Value("batch.size") != "65536" || pt.Topic.Partitions != 8 || pt.Producers != 4 || pt.Consumers != 2 {
		t.Fatalf("p004 resolved to %+v", pt)
	}
	if p.Points[0].Consumers != 1 || p.Points[0].Topic.Partitions != 2 {
		t.Fatalf("p001: a group that leaves consumers out must keep the base value: %+v", p.Points[0])
	}
	if want := "file:" + filepath.Join(dir, "events.txt"); pt.Workload.Payload != want {
		t.Fatalf("payload %q, want the file resolved next to the profile: %q", pt.Workload.Payload, want)
	}
	cfg := pt.RunConfig(1000)
	if cfg.Rate != 1000 || cfg.Duration != 2*time.Second || cfg.Producer["linger.ms"] != "5" || cfg.Topic.Name != "kbench-grid" || cfg.Mode != bench.ModeE2E {
		t.Fatalf("run config %+v", cfg)
	}
	// The run config is a copy: changing it leaves the point alone.
	cfg.Producer["linger.ms"] = "99"
	if pt.Producer["linger.ms"] != "5" {
		t.Fatal("RunConfig shares the point's producer map")
	}
}

func TestOverrides(t *testing.T) {
	src := []byte("workload:\n  duration: 10s\nrate: 1000\naxes:\n  linger.ms: [0, 5]\n")
	p, err := Parse("o.yaml", src, Options{Set: []string{"workload.duration=2s", "producer.compression.type=zstd", "axes.batch.size=[16KiB, 32KiB]", "topic.configs.retention.ms=60000"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Points) != 4 || time.Duration(p.Base.Duration) != 2*time.Second || p.Base.Producer["compression.type"] != "zstd" || p.Base.Topic.Configs["retention.ms"] != "60000" {
		t.Fatalf("overrides not applied: %d points, duration %v, producer %v, configs %v", len(p.Points), p.Base.Duration, p.Base.Producer, p.Base.Topic.Configs)
	}
	if !slices.Equal(p.Overrides, []string{"workload.duration=2s", "producer.compression.type=zstd", "axes.batch.size=[16KiB, 32KiB]", "topic.configs.retention.ms=60000"}) {
		t.Fatalf("overrides recorded as %v", p.Overrides)
	}
	tests := []struct {
		set  string
		want string
	}{
		{"workload.durashun=2s", "--set workload.durashun=2s: workload.durashun is not a field; valid at workload: mode, record_size"},
		{"rate=fast", `--set rate=fast: rate: "fast": want records/s > 0`},
		{"axes.linger.ms=[0, x]", `--set axes.linger.ms=[0, x]: axes.linger.ms[1]: property linger.ms="x"`},
		{"nonsense", "--set nonsense: want PATH=VALUE"},
		{"rate.x=1", "--set rate.x=1: rate.x: rate holds a single value"},
		{"topic=3", "--set topic=3: topic: got a single value, want a mapping with fields name, partitions"},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			_, err := Parse("o.yaml", src, Options{Set: []string{tt.set}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// A profile naming an external cluster may use any Kafka topic config and
// does not know the cluster size unless told.
func TestExternalTarget(t *testing.T) {
	src := []byte("target:\n  bootstrap: kafka-1:9092,kafka-2:9092\ntopic:\n  replication.factor: 3\n  configs:\n    compression.type: zstd\nworkload:\n  duration: 10s\nrate: 1000\n")
	p, err := Parse("ext.yaml", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Embedded() || p.Base.Brokers != 0 || p.Base.Topic.Configs["compression.type"] != "zstd" {
		t.Fatalf("got target %+v, brokers %d, configs %v", p.Target, p.Base.Brokers, p.Base.Topic.Configs)
	}
	// Stating the size brings the replication check back.
	_, err = Parse("ext.yaml", src, Options{Set: []string{"target.brokers=2"}})
	if err == nil || !strings.Contains(err.Error(), "replication.factor 3 is more than the target's 2 brokers") {
		t.Fatalf("got %v, want the replication factor checked against target.brokers", err)
	}
}

func TestLoadUnknownName(t *testing.T) {
	_, err := Load("quik", nil)
	if err == nil || !strings.Contains(err.Error(), "built-in profiles: clickstream, compression") {
		t.Fatalf("got %v, want the list of built-in profiles", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range Names() {
		src, _ := Builtin(n)
		f.Add(src)
	}
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, b := range bad {
		src, _ := os.ReadFile(b)
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.yaml", src, Options{Dir: t.TempDir(), skipGenerator: true})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(p.Points) == 0 || len(p.Points) > MaxPoints {
			t.Fatalf("%d points", len(p.Points))
		}
		for i, pt := range p.Points {
			if pt.Index != i+1 || pt.ID == "" || pt.Label == "" || pt.Rate.Kind == "" || pt.Duration <= 0 {
				t.Fatalf("point %d incomplete: %+v", i, pt)
			}
		}
	})
}

// The reference's example must stay a valid profile.
func TestSchemaExampleLoads(t *testing.T) {
	p, err := Parse("schema.yaml", []byte(SchemaExample), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Points) != 20 || p.Excluded != 4 || p.Repeat != 3 || !p.UsesSearch() {
		t.Fatalf("example: %d points, %d excluded, repeat %d", len(p.Points), p.Excluded, p.Repeat)
	}
}

// TestTuneSection: the tune section is read into Profile.Tune (the space
// in --space's grammar, aliases resolved), --set reaches its fields, and a
// sweep's points do not change with it.
func TestTuneSection(t *testing.T) {
	src := `workload: {duration: 1s}
rate: 1000
axes:
  acks: ["1", all]
tune:
  budget: 5m
  max_runs: 40
  noise: 5%
  max_repeats: 3
  confirm: 2
  space:
    - linger.ms=0, 5,20
    - max.in.flight=1,5
`
	p, err := Parse("t.yaml", []byte(src), Options{Set: []string{"tune.max_runs=7"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Tune{Budget: Duration(5 * time.Minute), MaxRuns: 7, Noise: 0.05, MaxRepeats: 3, Confirm: 2, Space: []SpaceAxis{
		{Name: "linger.ms", Values: []string{"0", "5", "20"}},
		{Name: "max.in.flight.requests.per.connection", Values: []string{"1", "5"}},
	}}
	got := p.Tune
	if got == nil || got.Budget != want.Budget || got.MaxRuns != want.MaxRuns || got.Noise != want.Noise || got.MaxRepeats != want.MaxRepeats ||
		got.Confirm != want.Confirm || len(got.Space) != 2 || got.Space[0].String() != want.Space[0].String() || got.Space[1].String() != want.Space[1].String() {
		t.Fatalf("got tune %+v, want %+v", got, want)
	}
	if len(p.Points) != 2 || len(p.Axes) != 1 || p.Axes[0].Name != "acks" {
		t.Fatalf("the sweep changed with the tune section: %d points, axes %+v", len(p.Points), p.Axes)
	}
	if _, err := Parse("t.yaml", []byte(src), Options{Set: []string{"tune.max_run=7"}}); err == nil || !strings.Contains(err.Error(), "tune.max_run is not a field; valid at tune: budget, max_runs, noise, max_repeats, confirm, space") {
		t.Fatalf("--set tune.max_run: got %v, want an error naming the field and the valid ones", err)
	}
}
