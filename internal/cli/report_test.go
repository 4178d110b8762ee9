package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smallRunDir is the reports package's checked-in real run.
const smallRunDir = "../../reports/testdata/run-small"

// copyRunDir copies a run directory so commands can write report/ in it.
func copyRunDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
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

func TestReportCommand(t *testing.T) {
	dir := copyRunDir(t, smallRunDir)
	out := mustKbench(t, "report", dir)
	html := filepath.Join(dir, "report", "report.html")
	for _, want := range []string{
		"report of " + dir + ": 25 charts",
		"throughput-latency.png",
		"heatmap-p99.png",
		"partition-scaling.png",
		"html:     " + html,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"report.md", "report.html", "codecs.png", "codecs.svg", "timeline-p001.png"} {
		if st, err := os.Stat(filepath.Join(dir, "report", f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if out := mustKbench(t, "report", "-q", dir); out != html+"\n" {
		t.Errorf("--quiet printed %q, want the html path", out)
	}
	_, errOut, code := kbench(t, "report", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "manifest") {
		t.Errorf("a directory without a run: exit %d, %q", code, errOut)
	}
}
