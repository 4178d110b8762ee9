package codecs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Level is one setting of a codec: the name users type and the value
// franz-go's CompressionCodec.WithLevel takes.
type Level struct {
	Name  string `json:"name"`
	Value int    `json:"value"`
}

// Codec is one codec at one level, the unit the shootout measures.
type Codec struct {
	Name  string `json:"codec"`
	Level Level  `json:"level"`
}

// Label is how a codec and level appear in tables and charts.
func (c Codec) Label() string {
	if c.Name == "none" || c.Name == "snappy" {
		return c.Name
	}
	return c.Name + ":" + c.Level.Name
}

// codecSpec lists what a codec accepts. Level values are exactly what
// franz-go hands to the underlying library; franz-go silently falls back to
// its default for a value the library rejects, so only listed values pass.
type codecSpec struct {
	name     string
	kgo      func() kgo.CompressionCodec
	levels   []Level
	defaults []string // measured when --levels does not name the codec
}

func lz4Level(n int) Level {
	return Level{Name: strconv.Itoa(n), Value: int(lz4.Level1) << (n - 1)}
}

// specs is a function rather than a package variable so nothing can mutate
// the table.
func specs() []codecSpec {
	return []codecSpec{
		{name: "none", kgo: kgo.NoCompression, levels: []Level{{Name: "none"}}, defaults: []string{"none"}},
		{
			name: "gzip", kgo: kgo.GzipCompression,
			levels: []Level{
				{"1", 1}, {"2", 2}, {"3", 3}, {"4", 4}, {"default", gzip.DefaultCompression},
				{"5", 5}, {"6", 6}, {"7", 7}, {"8", 8}, {"9", 9},
			},
			defaults: []string{"1", "default", "9"},
		},
		{name: "snappy", kgo: kgo.SnappyCompression, levels: []Level{{Name: "default"}}, defaults: []string{"default"}},
		{
			name: "lz4", kgo: kgo.Lz4Compression,
			levels: []Level{
				{"fast", int(lz4.Fast)}, lz4Level(1), lz4Level(2), lz4Level(3), lz4Level(4),
				lz4Level(5), lz4Level(6), lz4Level(7), lz4Level(8), lz4Level(9),
			},
			defaults: []string{"fast", "9"},
		},
		{
			name: "zstd", kgo: kgo.ZstdCompression,
			levels: []Level{
				{"fastest", int(zstd.SpeedFastest)}, {"default", int(zstd.SpeedDefault)},
				{"better", int(zstd.SpeedBetterCompression)}, {"best", int(zstd.SpeedBestCompression)},
			},
			defaults: []string{"fastest", "default", "better", "best"},
		},
	}
}

// levelAlias maps the numeric spellings of named levels.
func levelAlias(codec, level string) string {
	switch codec + ":" + level {
	case "lz4:0", "lz4:default":
		return "fast"
	case "zstd:1":
		return "fastest"
	case "zstd:2":
		return "default"
	case "zstd:3":
		return "better"
	case "zstd:4":
		return "best"
	}
	return level
}

func specFor(name string) (codecSpec, bool) {
	for _, s := range specs() {
		if s.name == name {
			return s, true
		}
	}
	return codecSpec{}, false
}

// CodecNames lists the codecs in Kafka's attribute order.
func CodecNames() []string {
	names := make([]string, len(specs()))
	for i, s := range specs() {
		names[i] = s.name
	}
	return names
}

// LevelNames lists the levels codec accepts.
func LevelNames(codec string) []string {
	s, _ := specFor(codec)
	names := make([]string, len(s.levels))
	for i, l := range s.levels {
		names[i] = l.Name
	}
	return names
}

func (s codecSpec) level(name string) (Level, bool) {
	name = levelAlias(s.name, name)
	for _, l := range s.levels {
		if l.Name == name {
			return l, true
		}
	}
	return Level{}, false
}

// ParseCodecs turns --codecs and --levels into the list to measure.
// codecs is a list of codec names; levels is a list of codec:level items
// (codec:all for every level) replacing that codec's default levels.
func ParseCodecs(codecs, levels []string) ([]Codec, error) {
	var names []string
	for _, c := range codecs {
		c = strings.ToLower(strings.TrimSpace(c))
		if _, ok := specFor(c); !ok {
			return nil, fmt.Errorf("--codecs: unknown codec %q (valid: %s)", c, strings.Join(CodecNames(), ", "))
		}
		if !slices.Contains(names, c) {
			names = append(names, c)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("--codecs: no codec given (valid: %s)", strings.Join(CodecNames(), ", "))
	}
	chosen := map[string][]Level{}
	for _, item := range levels {
		item = strings.ToLower(strings.TrimSpace(item))
		c, l, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("--levels: %q is not codec:level (for example zstd:best, gzip:9, lz4:fast)", item)
		}
		s, known := specFor(c)
		if !known {
			return nil, fmt.Errorf("--levels: unknown codec %q in %q (valid: %s)", c, item, strings.Join(CodecNames(), ", "))
		}
		if !slices.Contains(names, c) {
			return nil, fmt.Errorf("--levels: %q names codec %s, which is not in --codecs", item, c)
		}
		if l == "all" {
			chosen[c] = append(chosen[c], s.levels...)
			continue
		}
		lv, ok := s.level(l)
		if !ok {
			return nil, fmt.Errorf("--levels: unknown %s level %q (valid: %s, all)", c, l, strings.Join(LevelNames(c), ", "))
		}
		chosen[c] = append(chosen[c], lv)
	}
	var out []Codec
	for _, n := range names {
		s, _ := specFor(n)
		lvs := chosen[n]
		if lvs == nil {
			for _, d := range s.defaults {
				lv, _ := s.level(d)
				lvs = append(lvs, lv)
			}
		}
		for _, lv := range lvs {
			c := Codec{Name: n, Level: lv}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// kgoCodec is the franz-go producer setting this codec stands for.
func (c Codec) kgoCodec() kgo.CompressionCodec {
	s, _ := specFor(c.Name)
	cc := s.kgo()
	if c.Name == "gzip" || c.Name == "lz4" || c.Name == "zstd" {
		cc = cc.WithLevel(c.Level.Value)
	}
	return cc
}

// kgoType is the attribute value franz-go writes for this codec.
func (c Codec) kgoType() kgo.CompressionCodecType {
	switch c.Name {
	case "none":
		return kgo.CodecNone
	case "gzip":
		return kgo.CodecGzip
	case "snappy":
		return kgo.CodecSnappy
	case "lz4":
		return kgo.CodecLz4
	case "zstd":
		return kgo.CodecZstd
	}
	return kgo.CodecError
}

// newCompressor returns franz-go's own default compressor for c, the one a
// producer configured with ProducerBatchCompression(c) uses; nil for none.
func newCompressor(c Codec) (kgo.Compressor, error) {
	comp, err := kgo.DefaultCompressor(c.kgoCodec())
	if err != nil {
		return nil, fmt.Errorf("franz-go compressor for %s: %w", c.Label(), err)
	}
	return comp, nil
}
