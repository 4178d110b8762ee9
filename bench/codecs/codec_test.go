package codecs

import (
	"bytes"
	"strings"
	"testing"
)

func labels(cs []Codec) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Label())
	}
	return strings.Join(s, ",")
}

func TestParseCodecs(t *testing.T) {
	for _, tc := range []struct {
		name           string
		codecs, levels []string
		want           string // labels, or the error's substrings joined by |
		wantErr        bool
	}{
		{name: "defaults", codecs: CodecNames(),
			want: "none,gzip:1,gzip:default,gzip:9,snappy,lz4:fast,lz4:9,zstd:fastest,zstd:default,zstd:better,zstd:best"},
		{name: "levels replace defaults", codecs: []string{"zstd", "gzip"}, levels: []string{"zstd:3", "zstd:fastest", "gzip:6"},
			want: "zstd:better,zstd:fastest,gzip:6"},
		{name: "aliases and dedup", codecs: []string{"lz4", "LZ4"}, levels: []string{"lz4:0", "lz4:fast", "lz4:2"},
			want: "lz4:fast,lz4:2"},
		{name: "all", codecs: []string{"zstd"}, levels: []string{"zstd:all"}, want: "zstd:fastest,zstd:default,zstd:better,zstd:best"},
		{name: "unknown codec", codecs: []string{"zstd", "brotli"}, wantErr: true,
			want: `--codecs|"brotli"|none, gzip, snappy, lz4, zstd`},
		{name: "unknown level", codecs: []string{"zstd"}, levels: []string{"zstd:22"}, wantErr: true,
			want: `--levels|"22"|fastest, default, better, best`},
		{name: "gzip level out of range", codecs: []string{"gzip"}, levels: []string{"gzip:10"}, wantErr: true,
			want: `--levels|gzip|1, 2, 3, 4, default, 5, 6, 7, 8, 9`},
		{name: "level for unselected codec", codecs: []string{"lz4"}, levels: []string{"zstd:1"}, wantErr: true,
			want: "--levels|not in --codecs"},
		{name: "level without codec", codecs: []string{"lz4"}, levels: []string{"9"}, wantErr: true, want: "--levels|codec:level"},
		{name: "empty", codecs: nil, wantErr: true, want: "--codecs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCodecs(tc.codecs, tc.levels)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %s, want an error", labels(got))
				}
				for _, sub := range strings.Split(tc.want, "|") {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q does not mention %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if labels(got) != tc.want {
				t.Errorf("got %s, want %s", labels(got), tc.want)
			}
		})
	}
}

// Every level must reach franz-go as a value its library accepts: franz-go
// silently uses the default for a value it rejects, which would make two
// "levels" the same measurement.
func TestLevelsReachTheLibrary(t *testing.T) {
	data := []byte(strings.Repeat("kbench codec level probe, somewhat repetitive text. ", 2000))
	for _, name := range []string{"gzip", "lz4", "zstd"} {
		cs, err := ParseCodecs([]string{name}, []string{name + ":all"})
		if err != nil {
			t.Fatal(err)
		}
		sizes := map[int]string{}
		for _, c := range cs {
			comp, err := newCompressor(c)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := comp.Compress(new(bytes.Buffer), data)
			sizes[len(out)] += c.Label() + " "
		}
		// Adjacent levels may tie on easy data, but the extremes must not.
		if len(sizes) < 2 {
			t.Errorf("%s: every level gave the same size: %v", name, sizes)
		}
	}
}
