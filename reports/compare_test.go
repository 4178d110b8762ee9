package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGate(t *testing.T) {
	tests := []struct {
		in     string
		figure string
		above  bool
		limit  float64
		err    string
	}{
		{in: "throughput<-5%", figure: "produce_records_per_sec", limit: -0.05},
		{in: "p99>+10%", figure: "response_p99_ms", above: true, limit: 0.10},
		{in: "service-p99.9 > 20 %", figure: "service_p99_9_ms", above: true, limit: 0.20},
		{in: "e2e_p50_ms>5%", figure: "e2e_p50_ms", above: true, limit: 0.05},
		{in: "cpu>+15%", figure: "cpu_s_per_gb", above: true, limit: 0.15},
		{in: "throughput-5%", err: "want FIGURE<-N%"},
		{in: "latency>10%", err: `unknown figure "latency"`},
		{in: "p99>10", err: "not a percentage"},
		{in: "p99>ten%", err: "not a percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			g, err := ParseGate(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || g.Figure.Name != tt.figure || g.Above != tt.above || g.Limit != tt.limit {
				t.Fatalf("got %+v, %v; want figure %s above %v limit %v", g, err, tt.figure, tt.above, tt.limit)
			}
		})
	}
}

func runs(name string, vs ...float64) []map[string]float64 {
	out := make([]map[string]float64, len(vs))
	for i, v := range vs {
		out[i] = map[string]float64{name: v}
	}
	return out
}

func TestGateCheck(t *testing.T) {
	const tp = "produce_records_per_sec"
	base := runs(tp, 100, 101, 99, 100, 102, 98)
	tests := []struct {
		name   string
		newer  []map[string]float64
		gate   string
		failed bool
		why    string
	}{
		{"significant and beyond", runs(tp, 80, 81, 79, 80, 82, 78), "throughput<-5%", true, "significant and beyond"},
		{"significant, within", runs(tp, 97, 97.5, 96, 97, 98, 96.5), "throughput<-5%", false, "within the limit"},
		{"beyond but noise", runs(tp, 60, 140, 90, 70, 130, 85), "throughput<-5%", false, "not significant"},
		{"wrong direction", runs(tp, 120, 121, 119, 120, 122, 118), "throughput<-5%", false, "within the limit"},
		{"not measured", runs("e2e_p99_ms", 1, 2, 3, 4, 5, 6), "e2e-p99>+5%", false, "not measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGate(tt.gate)
			if err != nil {
				t.Fatal(err)
			}
			v := g.Check(Compare("p1", base, tt.newer, nil, 0.05))
			if v.Failed != tt.failed || !strings.Contains(v.Why, tt.why) {
				t.Fatalf("got failed %v (%s), want %v (%s)", v.Failed, v.Why, tt.failed, tt.why)
			}
		})
	}
}

func TestWriteComparison(t *testing.T) {
	a := runs("response_p99_ms", 10, 11, 10.5, 9.5)
	b := runs("response_p99_ms", 20, 21, 19, 22)
	var buf bytes.Buffer
	if err := WriteComparison(&buf, Compare("", a, b, nil, 0.05)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"response p99 (ms)", "10.25 ±7%", "+100.0%", "[+72.7%, +131.6%]", "0.029"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := WriteComparison(&buf, Compare("", a[:3], b[:3], nil, 0.05)); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "~ (") || !strings.Contains(out, "no difference can be significant") {
		t.Errorf("3+3 runs: want a ~ and the note that nothing can be significant:\n%s", out)
	}
}

// Points of two sweeps are matched by their settings; a point only one
// side has is listed, not compared.
func TestMatchSweepRuns(t *testing.T) {
	a, err := LoadSide(smallRun)
	if err != nil {
		t.Fatal(err)
	}
	dir := copyRun(t, smallRun)
	res := filepath.Join(dir, "results.jsonl")
	raw, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	// The second point lost its representative run (as when every probe
	// of a search fails): it is matched by the profile's settings anyway.
	var l map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &l); err != nil {
		t.Fatal(err)
	}
	delete(l, "result")
	b2, _ := json.Marshal(l)
	lines[1] = string(b2) + "\n"
	if err := os.WriteFile(res, []byte(strings.Join(lines[1:], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := LoadSide(dir)
	if err != nil {
		t.Fatal(err)
	}
	pairs, onlyA, onlyB := Match(a, b)
	if len(pairs) != len(a.Points)-1 || len(onlyA) != 1 || len(onlyB) != 0 {
		t.Fatalf("got %d pairs, %d only in A, %d only in B; want %d, 1, 0", len(pairs), len(onlyA), len(onlyB), len(a.Points)-1)
	}
	for _, p := range pairs {
		if p[0].Name != p[1].Name || len(p[0].Runs) == 0 {
			t.Fatalf("pair %q with %q (%d runs): want the same point with its runs", p[0].Name, p[1].Name, len(p[0].Runs))
		}
	}
	if _, err := LoadSide(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a sweep run directory") {
		t.Fatalf("empty directory: got %v, want not a sweep run directory", err)
	}
}

// report --compare: a delta table per matched point and the overlaid
// spectra where both sides kept histograms.
func TestWriteCompareReport(t *testing.T) {
	dir := t.TempDir()
	rep, err := WriteCompareReport(smallRun, smallRun, dir, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Points != 17 || strings.Count(string(md), "\n## p") != 17 {
		t.Fatalf("%d points, %d sections; want 17 of each:\n%s", rep.Points, strings.Count(string(md), "\n## p"), md)
	}
	if len(rep.Charts) == 0 {
		t.Fatal("no overlaid spectrum drawn")
	}
	for _, c := range rep.Charts {
		if st, err := os.Stat(c.PNG); err != nil || st.Size() == 0 {
			t.Fatalf("chart %s: %v", c.PNG, err)
		}
		if !strings.Contains(string(md), "]("+filepath.Base(c.PNG)+")") {
			t.Fatalf("compare.md does not show %s", c.PNG)
		}
	}
	if !strings.Contains(string(md), "| response p99 (ms) | 9.04 | 9.04 | ~ (+0.0%) |") {
		t.Fatalf("compare.md lacks the p001 response p99 row:\n%.2000s", md)
	}
}

// report --compare links the comparison from the report's header; a later
// report without it drops both the link and the stale comparison.
func TestReportLinksComparison(t *testing.T) {
	dir := copyRun(t, smallRun)
	rep, err := WriteReportComparing(dir, smallRun)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Compared == nil || rep.Compared.Points != 17 {
		t.Fatalf("comparison %+v, want 17 matched points", rep.Compared)
	}
	md, err := os.ReadFile(filepath.Join(rep.Dir, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(rep.Dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(md), "## Best setting")
	if !strings.Contains(header, "- **Compared with**: `"+smallRun+"` in [compare.md](compare.md) (17 matched points") {
		t.Fatalf("report.md header does not link compare.md:\n%s", header)
	}
	if !strings.Contains(string(html), `<dt>Compared with</dt><dd><code>`+smallRun+`</code> in <a href="compare.md">compare.md</a>`) {
		t.Fatal("report.html does not link compare.md")
	}
	if _, err := os.Stat(filepath.Join(rep.Dir, CompareMarkdown)); err != nil {
		t.Fatal(err)
	}

	rep, err = WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	md, err = os.ReadFile(filepath.Join(rep.Dir, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "compare.md") {
		t.Fatal("report without --compare still links compare.md")
	}
	if _, err := os.Stat(filepath.Join(rep.Dir, CompareMarkdown)); !os.IsNotExist(err) {
		t.Fatalf("stale compare.md left behind: %v", err)
	}
}
