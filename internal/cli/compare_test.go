package cli

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench"
)

// writeRuns writes one result file per throughput (records/s; p99 grows
// as throughput falls) and returns them comma-separated, as compare takes
// repeated runs.
func writeRuns(t *testing.T, dir, side string, rates ...float64) string {
	t.Helper()
	var files []string
	for i, r := range rates {
		res := &bench.Result{
			Mode:    bench.ModeProduce,
			Produce: &bench.ProduceFigures{RecordsPerSec: r, MiBPerSec: r / 1024},
			Latency: bench.LatencyFigures{Response: &bench.Latency{P50: 1e5 / r, P99: 1e6 / r, P999: 2e6 / r}},
			CPU:     bench.CPUFigures{Cores: 0.5},
			Valid:   true,
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", side, i+1))
		if err := res.WriteJSON(path); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return strings.Join(files, ",")
}

// The regression gate's exit status: 1 only when a change is significant
// and beyond the limit; the output names the gate and why.
func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	base := writeRuns(t, dir, "base", 10000, 10100, 9900, 10050, 9950, 10020)
	slower := writeRuns(t, dir, "slower", 8000, 8100, 7900, 8050, 7950, 8020) // −20 %, clearly
	same := writeRuns(t, dir, "same", 10010, 9980, 10040, 9930, 10060, 9990)  // no change
	noisy := writeRuns(t, dir, "noisy", 5000, 15000, 9000, 7000, 13000, 6000) // −20 % median, but noise
	tests := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"throughput regression fails", []string{"--fail-if", "throughput<-5%", base, slower}, 1,
			[]string{"FAIL throughput<-5%", "significant and beyond the limit", "-20.0%"}},
		{"within a wider limit passes", []string{"--fail-if", "throughput<-30%", base, slower}, 0,
			[]string{"pass throughput<-30%", "significant but within the limit"}},
		{"p99 regression fails", []string{"--fail-if", "p99>+10%", "--fail-if", "throughput<-50%", base, slower}, 1,
			[]string{"FAIL p99>+10%", "pass throughput<-50%"}},
		{"no change passes", []string{"--fail-if", "throughput<-5%", "--fail-if", "p99>+10%", base, same}, 0,
			[]string{"pass throughput<-5%", "pass p99>+10%"}},
		{"beyond but not significant passes", []string{"--fail-if", "throughput<-5%", base, noisy}, 0,
			[]string{"beyond the limit but not significant"}},
		{"a figure not measured is not judged", []string{"--fail-if", "e2e-p99>+5%", base, slower}, 0,
			[]string{"n/a  e2e-p99>+5%", "not measured on both sides"}},
		{"--metric narrows the table", []string{"--metric", "throughput", base, slower}, 0,
			[]string{"throughput (records/s)"}},
		{"bad gate", []string{"--fail-if", "throughput-5", base, slower}, 1, nil},
		{"bad metric", []string{"--metric", "speed", base, slower}, 1, nil},
		{"missing file", []string{base, filepath.Join(dir, "nope.json")}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(append([]string{"compare"}, tt.args...), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			for _, w := range tt.wants {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.code == 1 && tt.wants == nil && errb.Len() == 0 {
				t.Errorf("an error exit printed nothing on stderr")
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"compare", "--metric", "throughput", base, slower}, &out, &errb); code != 0 || strings.Contains(out.String(), "p99") {
		t.Fatalf("--metric throughput: exit %d, output with other figures:\n%s", code, out.String())
	}
	// A pattern reads the files ab --out writes.
	out.Reset()
	if code := Main([]string{"compare", filepath.Join(dir, "base-*.json"), filepath.Join(dir, "slower-*.json")}, &out, &errb); code != 0 || !strings.Contains(out.String(), "A (n=6)") {
		t.Fatalf("patterns: exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

// Two sweep run directories: every point matched by its settings.
func TestCompareSweepRuns(t *testing.T) {
	run := filepath.Join("..", "..", "reports", "testdata", "run-small")
	var out, errb bytes.Buffer
	if code := Main([]string{"compare", "--fail-if", "throughput<-5%", run, run}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	if n := strings.Count(out.String(), "\npoint p"); n != 17 {
		t.Fatalf("%d points compared, want the 17 of the run:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "no difference can be significant") {
		t.Fatalf("one run a point: want the note that nothing can be significant:\n%s", out.String())
	}
}

func TestABOrder(t *testing.T) {
	for _, tt := range []struct {
		rounds int
		want   string
	}{{1, "AB"}, {2, "ABBA"}, {4, "ABBAABBA"}, {5, "ABBAABBAAB"}} {
		if got := string(abOrder(tt.rounds)); got != tt.want {
			t.Errorf("abOrder(%d) = %s, want %s", tt.rounds, got, tt.want)
		}
	}
}

func TestABFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ab", "--a", "linger.ms=5"}, "--a KEY=VALUE and --b KEY=VALUE"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms"}, "--b"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms=x"}, "linger.ms"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms=9", "--consumers", "2"}, "add --e2e"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms=9", "--rounds", "0"}, "--rounds 0"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms=9", "--fail-if", "p99"}, "--fail-if"},
		{[]string{"ab", "--a", "linger.ms=5", "--b", "linger.ms=9", "--json", "x.json"}, "unknown flag"},
	} {
		var out, errb bytes.Buffer
		if code := Main(tt.args, &out, &errb); code != 1 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and a message with %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// A real A/B run on the in-process broker: both settings reach the
// producer, the order is balanced and the table is printed.
func TestABRuns(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{"ab", "--a", "linger.ms=0", "--b", "linger.ms=20", "--rounds", "2", "--brokers", "1",
		"--rate", "2000", "--duration", "1s", "--warmup", "300ms", "--out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	for _, w := range []string{"in the order ABBA", "run  4/4 A-2", "throughput (records/s)", "response p99 (ms)", "no difference can be significant"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	for _, tt := range []struct{ file, linger string }{{"A-1.json", "0"}, {"A-2.json", "0"}, {"B-1.json", "20"}, {"B-2.json", "20"}} {
		res, err := bench.ReadResult(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if got := res.EffectiveProducer["linger.ms"]; got != tt.linger {
			t.Errorf("%s ran with linger.ms=%s, want %s", tt.file, got, tt.linger)
		}
		if !res.Settings.Topic.Recreate {
			t.Errorf("%s: topic not recreated before the run", tt.file)
		}
	}
}
