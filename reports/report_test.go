package reports

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kbench/kbench/bench/sweep"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// smallRun is a real run directory (see testdata/README.md).
const smallRun = "testdata/run-small"

// frontierRun is a quick-profile sweep: a durability frontier.
const frontierRun = "testdata/run-frontier"

// copyRun copies a run directory into a temporary one, so reports are
// written beside a copy and testdata stays as checked in.
func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == ReportDir {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\ngot  %q\nwant %q\n(run go test ./reports -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

func TestReportGolden(t *testing.T) {
	dir := copyRun(t, smallRun)
	rep, err := WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportDir, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md.golden", md)

	// Every chart kind has data in this run, so each is drawn; the
	// titles are in the SVGs as text.
	wantTitles := map[string][]string{
		"throughput-latency": {"Throughput vs p99 response time by durability setting", "acks=0 RF=1 min.insync=1", "acks=all RF=1 min.insync=1"},
		"spectrum-p014":      {"Latency percentile spectrum: p014", "response time (from intended send)", "service time (from actual send)", "99.9%"},
		"codecs":             {"Codec comparison: compression ratio", "Codec comparison: throughput", "Codec comparison: CPU per MiB", "batch.size=64KiB", "zstd"},
		"heatmap-throughput": {"linger.ms × batch.size: achieved throughput (MiB/s)", "linger.ms (ms)", "batch.size (bytes)"},
		"heatmap-p99":        {"linger.ms × batch.size: p99 response time (ms)"},
		"partition-scaling":  {"Partition scaling: throughput vs partitions", "per-partition ceiling", "Throughput per partition"},
		"timeline-p017":      {"Over time: p017 rate=1M", "acknowledged records/s", "response p99"},
	}
	var names []string
	for _, c := range rep.Charts {
		names = append(names, c.Name)
	}
	for name, titles := range wantTitles {
		if !slices.Contains(names, name) {
			t.Errorf("chart %s not drawn; got %v", name, names)
			continue
		}
		svg, err := os.ReadFile(filepath.Join(dir, ReportDir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, title := range titles {
			if !strings.Contains(string(svg), xmlEscape(title)) {
				t.Errorf("%s.svg lacks %q", name, title)
			}
		}
	}
	for _, c := range rep.Charts {
		b, err := os.ReadFile(c.PNG)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", c.PNG, err)
		}
		if r := img.Bounds(); r.Dx() < 700 || r.Dy() < 450 {
			t.Errorf("%s: %v is too small to read", c.PNG, r)
		}
		if st, err := os.Stat(c.SVG); err != nil || st.Size() < 5000 {
			t.Errorf("%s: missing or tiny (%v)", c.SVG, err)
		}
	}
	if n := len(rep.Charts); n != 25 {
		t.Errorf("got %d charts, want 25 (1 frontier, 3 spectra, 1 codec, 2 heatmaps, 1 partition, 17 timelines)", n)
	}
	if len(rep.Skipped) != 0 || len(rep.Problems) != 0 {
		t.Errorf("skipped %v, problems %v; want none", rep.Skipped, rep.Problems)
	}

	// The HTML embeds every chart and fetches nothing.
	html, err := os.ReadFile(filepath.Join(dir, ReportDir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(html), `src="data:image/png;base64,`); got != len(rep.Charts) {
		t.Errorf("html embeds %d images, want %d", got, len(rep.Charts))
	}
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(html); m != nil {
		t.Errorf("html refers to the network: %s", m)
	}
	for _, want := range []string{`<tr class="best">`, `<tr class="invalid">`, "p017", "Best setting per durability level"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestReportPartial cuts the run short as an interrupted sweep leaves it:
// fewer lines, a torn last line, status interrupted.
func TestReportPartial(t *testing.T) {
	dir := copyRun(t, smallRun)
	res := filepath.Join(dir, sweep.ResultsFile)
	raw, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	kept := strings.Join(lines[:12], "") + lines[12][:200] // p013 torn mid-write
	if err := os.WriteFile(res, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	mpath := filepath.Join(dir, sweep.ManifestFile)
	var m map[string]any
	b, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["status"] = sweep.StatusInterrupted
	b, _ = json.Marshal(m)
	if err := os.WriteFile(mpath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	for _, want := range []string{
		"## Incomplete run",
		"5 of 17 points have no result yet (the sweep is interrupted): p013 partitions=1/rate=max-sustainable; p014",
		"kbench sweep --resume " + dir,
		"results.jsonl ends in a half-written line",
		"| … | p017 | rate=1M |",
		"partition scaling: no finished unthrottled or max-sustainable points differ only in partitions",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("partial report lacks %q", want)
		}
	}
	for _, c := range rep.Charts {
		if c.Kind == "partitions" || c.Name == "timeline-p013" {
			t.Errorf("chart %s drawn from points that did not finish", c.Name)
		}
	}
	// The charts of finished points are still there.
	if !slices.ContainsFunc(rep.Charts, func(c Chart) bool { return c.Name == "heatmap-p99" }) {
		t.Error("the heatmap of finished points is missing")
	}
	// A stale chart of an earlier, fuller report does not survive.
	if err := os.WriteFile(filepath.Join(dir, ReportDir, "partition-scaling.png"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ReportDir, "partition-scaling.png")); !os.IsNotExist(err) {
		t.Errorf("stale chart kept: %v", err)
	}
}

func TestReportNotARun(t *testing.T) {
	if _, err := WriteReport(t.TempDir()); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("got %v, want an error about the missing manifest", err)
	}
}

func TestParetoFront(t *testing.T) {
	dots := []runDot{
		{mibps: 10, p99: 2, valid: true},
		{mibps: 20, p99: 3, valid: true},
		{mibps: 15, p99: 5, valid: true},  // beaten by 20 MiB/s at 3 ms
		{mibps: 40, p99: 30, valid: true}, // the most throughput
		{mibps: 50, p99: 1, valid: false}, // invalid runs never count
		{mibps: 5, p99: 2, valid: true},   // as fast at lower throughput: beaten
	}
	got := validFront(dots)
	want := []runDot{{10, 2, true}, {20, 3, true}, {40, 30, true}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBestPerLevel(t *testing.T) {
	run, err := LoadRun(smallRun)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ level, want string }{
		// p014 is the only acks=all max-sustainable point with 2 partitions
		// at 118 MiB/s; it beats p013's 90 MiB/s.
		{"acks=all RF=1 min.insync=1", "p014"},
		// p005 and p006 ran at the same fixed rate: p005 has the lower p99.
		{"acks=1 RF=1 min.insync=1", "p005"},
		{"acks=0 RF=1 min.insync=1", "p007"},
	} {
		b := best(run.Points, tc.level)
		if b == nil || b.Def.ID != tc.want {
			t.Errorf("%s: got %v, want %s", tc.level, b, tc.want)
		}
	}
	if b := best(run.Points, "acks=all RF=3 min.insync=2"); b != nil {
		t.Errorf("a level without points got best %s", b.Def.ID)
	}
}

func TestSettingsOfRun(t *testing.T) {
	run, err := LoadRun(smallRun)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Settings{}
	for _, p := range run.Points {
		byID[p.Def.ID] = p.Set
	}
	// Defaults come from the producer settings the run recorded.
	if s := byID["p005"]; s.Acks != "1" || s.Idempotence != "false" || s.LingerMs != 5 || s.BatchBytes != 16384 || s.Codec != "lz4" {
		t.Errorf("p005: got %+v", s)
	}
	if s := byID["p013"]; s.Partitions != 1 || s.RateKind != "max-sustainable" {
		t.Errorf("p013: got %+v", s)
	}
	if a, b := byID["p001"].without("linger.ms"), byID["p002"].without("linger.ms"); a != b {
		t.Errorf("p001 and p002 differ only in linger.ms, but keys differ:\n%s\n%s", a, b)
	}
	if a, b := byID["p001"].without("batch.size"), byID["p002"].without("batch.size"); a == b {
		t.Error("p001 and p002 differ in linger.ms, but keys without batch.size match")
	}
}

// TestReportAudit reads a real run made with audit: true (see
// testdata/README.md): the durability table and the measured-loss chart
// appear; a run without audits has neither.
func TestReportAudit(t *testing.T) {
	dir := copyRun(t, "testdata/run-audit")
	rep, err := WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	for _, want := range []string{
		"## Durability audit",
		"| point | durability | swept settings | acknowledged | readable | lost | duplicated | unacked but present | longest unavailability s |",
		"| p001 | acks=all RF=1 min.insync=1 | linger.ms=1/rate=5000 | 20000 | 20000 | 0 | 0 | 0 |",
		"![Measured loss: acknowledged records lost or duplicated](durability-loss.png)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("audited report lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, ReportDir, "durability-loss.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Measured loss: acknowledged records lost or duplicated", "0 lost, 0 duplicated", "p002"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("durability-loss.svg lacks %q", want)
		}
	}

	plain := copyRun(t, smallRun)
	rep, err = WriteReport(plain)
	if err != nil {
		t.Fatal(err)
	}
	if md := rep.Markdown(); strings.Contains(md, "Durability audit") {
		t.Error("a run without audits got a durability section")
	}
	if _, err := os.Stat(filepath.Join(plain, ReportDir, "durability-loss.png")); !os.IsNotExist(err) {
		t.Errorf("a run without audits got a loss chart: %v", err)
	}
}
