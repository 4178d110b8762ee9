package reports

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestSelfbenchChart(t *testing.T) {
	dir := t.TempDir()
	bars := []SelfbenchBar{
		{Workload: "100B p1 acks=1 none", Target: "kbench-rf1", Ratio: 0.8, Low: 0.7, High: 0.9},
		{Workload: "100B p1 acks=1 none", Target: "kfake", Ratio: 0.4, Low: 0.4, High: 0.4},
		{Workload: "1KiB p1 acks=all none", Target: "kbench-rf1", Ratio: 0.9},
		{Workload: "1KiB p1 acks=all none", Target: "kbench-rf3", Ratio: 0.5, Low: 0.45, High: 0.6},
		{Workload: "1KiB p1 acks=all none", Target: "kfake", Ratio: 1.2, Low: 1.1, High: 1.3},
	}
	files, err := SelfbenchChart(dir, bars)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("got files %v, want a png and an svg", files)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "selfbench-ratio.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("png does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
		t.Errorf("png is %dx%d, want a full-size chart", b.Dx(), b.Dy())
	}
	svg, err := os.ReadFile(filepath.Join(dir, "selfbench-ratio.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kbench-rf3", "1KiB p1 acks=all none", "ceiling"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if _, err := SelfbenchChart(dir, nil); err == nil {
		t.Error("no bars: got no error, want one")
	}
}
