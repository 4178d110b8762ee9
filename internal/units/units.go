// Package units reads and writes the byte sizes users type on the command
// line and in profiles, with one grammar everywhere: a non-negative number
// and an optional unit — B; KiB, MiB, GiB, TiB (powers of 2); KB, MB, GB, TB
// (powers of 10); bare K, M, G, T (powers of 2, as in sizes copied from
// Kafka and JVM settings). White space around the number and the unit is
// ignored; the result must be a whole number of bytes.
package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The units ParseBytes knows, longest suffix first so that "KiB" is not read
// as "B".
var units = []struct {
	suffix string
	mult   float64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3},
	{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"k", 1 << 10},
	{"B", 1},
}

// ParseBytes reads a byte size such as 512, 16KiB, 1 MiB, 1.5MB or 64k.
func ParseBytes(s string) (int64, error) {
	t, mult := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || strings.ContainsAny(t, "eEpPxX_") {
		return 0, fmt.Errorf("%q is not a byte size: want a number with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), like 512, 16KiB, 1MB", s)
	}
	n := f * mult
	switch {
	case n < 0 || math.IsNaN(n):
		return 0, fmt.Errorf("%q is not a byte size: it is negative", s)
	case n >= math.MaxInt64:
		return 0, fmt.Errorf("%q is not a byte size: it is too large", s)
	case n != math.Trunc(n):
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(n), nil
}

// binary are the units FormatBytes and FormatBytesExact write, largest first.
var binary = []struct {
	name string
	mult int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// FormatBytes writes n for reading: in the largest binary unit it reaches,
// whole where that unit divides n, else with one decimal (1536 → 1.5KiB).
func FormatBytes(n int64) string {
	for _, u := range binary {
		if n >= u.mult {
			if n%u.mult == 0 {
				return strconv.FormatInt(n/u.mult, 10) + u.name
			}
			return strconv.FormatFloat(float64(n)/float64(u.mult), 'f', 1, 64) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// FormatBytesExact writes n so that ParseBytes reads back exactly n: in the
// largest binary unit that divides it, else as a plain number of bytes.
func FormatBytesExact(n int64) string {
	for _, u := range binary {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
