//go:build linux

package reports

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium (make test-deps installs it).
const chromiumPath = "/usr/bin/chromium"

// testOutDir is where tests leave files for people to look at (gitignored).
const testOutDir = "../testout"

// chromium opens page headless, optionally writing a screenshot, and
// returns its stderr log, where console messages appear as CONSOLE lines.
func chromium(t *testing.T, page, screenshot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", fmt.Sprintf("--window-size=%d,3000", chromiumWidth)}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot)
	} else {
		args = append(args, "--dump-dom")
	}
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, "file://"+page)...)
	// Chromium forks helpers: kill the whole group if it hangs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stderr.String()
}

// overflowLine is the probe's table report: how many tables, which overflow.
var overflowLine = regexp.MustCompile(`kbench-overflow (\d+) tables, too wide: \[([^\]]*)\]`)

// chromiumWidth is the window width pages are checked at: a laptop screen.
const chromiumWidth = 1280

// consoleLine matches Chromium's log line for a page's console message.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// TestReportInChromium opens the report in headless Chromium: every chart
// image must decode, no table may be wider than the page (it would need
// scrolling), the page must log nothing to the console, and a screenshot
// goes to testout/ for a person to look at. Without Chromium it fails:
// make test-deps installs it.
func TestReportInChromium(t *testing.T) {
	for _, tc := range []struct{ name, run string }{{"sweep", smallRun}, {"frontier", frontierRun}} {
		t.Run(tc.name, func(t *testing.T) { checkReportInChromium(t, tc.run, "report-"+tc.name+".png") })
	}
}

func checkReportInChromium(t *testing.T, run, shotName string) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s not installed: run make test-deps (it installs the Debian package)", chromiumPath)
	}
	dir := copyRun(t, run)
	rep, err := WriteReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	page, err := filepath.Abs(filepath.Join(dir, ReportDir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(testOutDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(testOutDir, shotName))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(shot)

	// The report as written: no console output at all (it has no
	// scripts, so any message is an error Chromium reports).
	log := chromium(t, page, shot)
	if msgs := consoleLine.FindAllString(log, -1); len(msgs) > 0 {
		t.Errorf("console messages from the report:\n%s", strings.Join(msgs, "\n"))
	}
	if strings.Contains(log, "Uncaught") {
		t.Errorf("uncaught error:\n%s", log)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, log)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != chromiumWidth || b.Dy() != 3000 {
		t.Errorf("screenshot is %v, want %d×3000", b, chromiumWidth)
	}
	if n := colours(img); n < 50 {
		t.Errorf("screenshot has %d colours: the page did not render", n)
	}
	t.Logf("screenshot: %s", shot)

	// A copy with a probe script counts the images that decoded.
	probe := filepath.Join(filepath.Dir(page), "probe.html")
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	script := `<script>window.addEventListener("load", function () {
  var ok = 0, imgs = document.images;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  console.log("kbench-images " + ok + "/" + imgs.length);
  var page = document.documentElement.clientWidth, wide = [], tables = document.getElementsByTagName("table");
  for (var j = 0; j < tables.length; j++) {
    var tb = tables[j], box = tb.parentElement;
    if (tb.getBoundingClientRect().right > page + 0.5 || box.scrollWidth > box.clientWidth) {
      wide.push(j + ":" + Math.round(tb.getBoundingClientRect().width) + "px");
    }
  }
  console.log("kbench-overflow " + tables.length + " tables, too wide: [" + wide.join(" ") + "]");
});</script></body>`
	if err := os.WriteFile(probe, bytes.Replace(html, []byte("</body>"), []byte(script), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	log = chromium(t, probe, "")
	want := fmt.Sprintf(`"kbench-images %d/%d"`, len(rep.Charts), len(rep.Charts))
	if !strings.Contains(log, want) {
		t.Errorf("chromium did not decode every chart: want %s in\n%s", want, strings.Join(consoleLine.FindAllString(log, -1), "\n"))
	}
	if m := overflowLine.FindStringSubmatch(log); m == nil || m[1] == "0" || m[2] != "" {
		t.Errorf("tables wider than the %dpx page (index:width): %q in\n%s", chromiumWidth, m, strings.Join(consoleLine.FindAllString(log, -1), "\n"))
	}
}

// colours counts distinct colours in a sample of the image.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}
