package codecs

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"16KiB", 16 << 10, false}, {"1MiB", 1 << 20, false}, {"512", 512, false}, {"64k", 64 << 10, false},
		{"1.5MB", 1_500_000, false}, {" 2 GiB ", 2 << 30, false}, {"100B", 100, false},
		{"", 0, true}, {"KiB", 0, true}, {"-1KiB", 0, true}, {"12XB", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{16 << 10: "16KiB", 1 << 20: "1MiB", 1536: "1.5KiB", 100: "100B", 3 << 30: "3GiB"} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
