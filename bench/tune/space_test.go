package tune

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in   string
		want []string // overrides, or the error's text
		err  bool
	}{
		{"p99<=20ms", []string{"slo.latency=response", "slo.p50_ms=0", "slo.p99_ms=20", "slo.p99_9_ms=0"}, false},
		{"p99 <= 1.5s, p99.9<=2s", []string{"slo.latency=response", "slo.p50_ms=0", "slo.p99_ms=1500", "slo.p99_9_ms=2000"}, false},
		{"service p50<500us", []string{"slo.latency=service", "slo.p50_ms=0.5", "slo.p99_ms=0", "slo.p99_9_ms=0"}, false},
		{"", []string{"--slo is empty"}, true},
		{"p98<=20ms", []string{`--slo "p98<=20ms": unknown percentile "p98"; valid: p50, p99, p99.9`}, true},
		{"p99<=20", []string{`--slo "p99<=20": limit "20" is not a positive duration`}, true},
		{"p99=20ms", []string{`--slo "p99=20ms": want PERCENTILE<=LIMIT`}, true},
		{"latency p99<=20ms", []string{`"latency" is not a latency histogram; valid: response, service, e2e`}, true},
		{"p99<=20ms,p99<=30ms", []string{`--slo "p99<=30ms": p99 is bounded twice`}, true},
		{"service p99<=20ms,e2e p99.9<=30ms", []string{"one histogram for every bound"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSLO(tt.in)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want[0]) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.want[0])
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSpaceErrors(t *testing.T) {
	tests := []struct {
		space []string
		want  string
	}{
		{[]string{"linger.ms"}, `--space "linger.ms": want SETTING=V1,V2,...`},
		{[]string{"linger.ms=0,,5"}, `--space "linger.ms=0,,5": an empty value`},
		{[]string{"linger.ms=0", "linger.ms=5"}, "linger.ms is given twice"},
		{[]string{"batch.size=16KiB,huge"}, `--space batch.size: axes.batch.size[1]: property batch.size: "huge" is not a byte size`},
		{[]string{"lingr.ms=0,5"}, `--space lingr.ms: axes.lingr.ms: unknown setting "lingr.ms"`},
		{[]string{"compression=lz5"}, `--space compression: axes.compression[0]: "lz5": unknown codec`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.space, " "), func(t *testing.T) {
			sp, err := ParseSpace(tt.space)
			if err == nil {
				_, err = Prepare(DefaultProfile, nil, sp)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestPrepareAddsBaselines: the profile's own settings and Kafka's
// defaults join the space, ordered axes are sorted, and candidates map to
// grid points.
func TestPrepareAddsBaselines(t *testing.T) {
	sp, err := ParseSpace([]string{"linger.ms=20,0", "batch.size=1MiB,64KiB", "max.in.flight=5", "compression=zstd:3,lz4"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Prepare(DefaultProfile, []string{"producer.compression.type=zstd"}, sp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"linger.ms":                             {"0", "5", "20"},
		"batch.size":                            {"16384", "65536", "1048576"},
		"compression":                           {"zstd:3", "lz4", "zstd", "none"},
		"max.in.flight.requests.per.connection": {"5"},
	}
	for _, d := range pr.Space.Dims {
		if !slices.Equal(d.Values, want[d.Name]) {
			t.Errorf("%s: got %v, want %v", d.Name, d.Values, want[d.Name])
		}
	}
	if got := pr.Space.Label(pr.Start); got != "linger.ms=5/batch.size=16384/compression=zstd/max.in.flight.requests.per.connection=5" {
		t.Errorf("start %s, want the profile's zstd with Kafka's other defaults", got)
	}
	if got := pr.Space.Label(pr.Defaults); got != "linger.ms=5/batch.size=16384/compression=none/max.in.flight.requests.per.connection=5" {
		t.Errorf("defaults %s", got)
	}
	if pr.Space.Size() != len(pr.Grid.Points) {
		t.Fatalf("space of %d candidates, grid of %d points", pr.Space.Size(), len(pr.Grid.Points))
	}
	for i := range pr.Space.Size() {
		c := pr.Space.Candidate(i)
		pt := pr.Point(c)
		if pt == nil {
			t.Fatalf("candidate %v has no point", c)
		}
		for d, dim := range pr.Space.Dims {
			if pt.Value(dim.Name) != dim.Values[c[d]] {
				t.Fatalf("candidate %s maps to point %s", pr.Space.Label(c), pt.Label)
			}
		}
	}
}

// TestPrepareTuneSpace: a profile's tune.space is the space in place of
// its axes, and --space replaces one of its items or adds one.
func TestPrepareTuneSpace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	src := `workload: {duration: 1s, mode: produce}
rate: 1000
slo: {p99_ms: 20}
axes:
  acks: ["1", all]
tune:
  space:
    - linger.ms=0,20
    - compression=lz4,zstd:3
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, err := ParseSpace([]string{"compression=zstd:1", "max.in.flight=1,5"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := Prepare(file, nil, sp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range pr.Space.Dims {
		got = append(got, d.Name+"="+strings.Join(d.Values, ","))
	}
	// Kafka's defaults (linger.ms 5, no compression) join the space.
	want := []string{"linger.ms=0,5,20", "compression=zstd:1,none", "max.in.flight.requests.per.connection=1,5"}
	if !slices.Equal(got, want) {
		t.Fatalf("space %v, want %v (tune.space, --space replacing compression and adding max.in.flight, no acks axis)", got, want)
	}
	if pr.Grid.Base.Producer["acks"] != "" || len(pr.Grid.Points) != 12 {
		t.Fatalf("grid of %d points, acks %q: the profile's axes leaked into the tune", len(pr.Grid.Points), pr.Grid.Base.Producer["acks"])
	}
}
