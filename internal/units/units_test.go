package units

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"16KiB", 16 << 10, false}, {"1MiB", 1 << 20, false}, {"512", 512, false}, {"64k", 64 << 10, false},
		{"1.5MB", 1_500_000, false}, {" 2 GiB ", 2 << 30, false}, {"100B", 100, false}, {"1 KiB", 1024, false},
		{"2KB", 2000, false}, {"1TiB", 1 << 40, false}, {"0", 0, false}, {"0.5KiB", 512, false}, {"16384", 16384, false},
		{"", 0, true}, {"KiB", 0, true}, {"-1KiB", 0, true}, {"12XB", 0, true}, {"1.5B", 0, true},
		{"1e3", 0, true}, {"0x10", 0, true}, {"NaN", 0, true}, {"Inf", 0, true}, {"9999999TiB", 0, true},
	} {
		got, err := ParseBytes(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{16 << 10: "16KiB", 1 << 20: "1MiB", 1536: "1.5KiB", 100: "100B", 3 << 30: "3GiB", 0: "0B"} {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatBytesExactRoundTrips(t *testing.T) {
	for in, want := range map[int64]string{16 << 10: "16KiB", 1536: "1536", 1500: "1500", 5 << 30: "5GiB", 0: "0"} {
		got := FormatBytesExact(in)
		if got != want {
			t.Errorf("FormatBytesExact(%d) = %q, want %q", in, got, want)
		}
		if back, err := ParseBytes(got); err != nil || back != in {
			t.Errorf("ParseBytes(FormatBytesExact(%d)) = %d, %v", in, back, err)
		}
	}
}
