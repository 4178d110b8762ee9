package reports

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func codecSample() []CodecPoint {
	var pts []CodecPoint
	for _, size := range []int{16 << 10, 1 << 20} {
		grow := 1.0
		if size == 1<<20 {
			grow = 1.3
		}
		pts = append(pts,
			CodecPoint{Label: "none", Codec: "none", BatchBytes: size, Ratio: 1},
			CodecPoint{Label: "gzip:9", Codec: "gzip", BatchBytes: size, Ratio: 4.1 * grow, CompressMBps: 40},
			CodecPoint{Label: "snappy", Codec: "snappy", BatchBytes: size, Ratio: 2.4 * grow, CompressMBps: 750},
			CodecPoint{Label: "lz4:fast", Codec: "lz4", BatchBytes: size, Ratio: 2.3 * grow, CompressMBps: 500},
			CodecPoint{Label: "zstd:fastest", Codec: "zstd", BatchBytes: size, Ratio: 3.8 * grow, CompressMBps: 260},
			CodecPoint{Label: "zstd:best", Codec: "zstd", BatchBytes: size, Ratio: 4.2 * grow, CompressMBps: 38},
		)
	}
	return pts
}

func TestCodecCharts(t *testing.T) {
	dir := t.TempDir()
	files, err := CodecCharts(dir, codecSample())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{
		"codecs-ratio.png", "codecs-ratio.svg",
		"codecs-pareto-16KiB.png", "codecs-pareto-16KiB.svg",
		"codecs-pareto-1MiB.png", "codecs-pareto-1MiB.svg",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("got files %v, want %v", names, want)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 1000 {
			t.Errorf("%s: only %d bytes", f, len(data))
		}
		switch filepath.Ext(f) {
		case ".png":
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
				t.Errorf("%s: %v image", f, b)
			}
		case ".svg":
			// The labels are in the SVG as text: every codec must be drawn.
			for _, label := range []string{"<svg", "zstd:best", "snappy", "lz4:fast"} {
				if !strings.Contains(string(data), label) {
					t.Errorf("%s lacks %q", f, label)
				}
			}
		}
	}
	if _, err := CodecCharts(dir, nil); err == nil {
		t.Error("no points must be an error")
	}
	if _, err := CodecCharts(filepath.Join(dir, "missing"), codecSample()); err == nil {
		t.Error("a missing directory must be an error")
	}
}

func TestCodecParetoFront(t *testing.T) {
	var at16 []CodecPoint
	for _, p := range codecSample() {
		if p.BatchBytes == 16<<10 && p.CompressMBps > 0 {
			at16 = append(at16, p)
		}
	}
	var got []string
	for _, p := range codecParetoFront(at16) {
		got = append(got, p.Label)
	}
	// lz4:fast is slower and worse than snappy; gzip:9 is beaten by
	// zstd:best on ratio but is faster, so it stays.
	want := []string{"snappy", "zstd:fastest", "gzip:9", "zstd:best"}
	if !slices.Equal(got, want) {
		t.Errorf("front %v, want %v", got, want)
	}
}
