package bench

import (
	"encoding/base64"
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold nanoseconds, with 1 µs resolution, 3 significant digits and
// a 5 minute ceiling: nanoseconds keep the hlog files in the unit
// HdrHistogram's own tools assume.
const (
	histLowest  = int64(time.Microsecond)
	histHighest = int64(5 * time.Minute)
	histDigits  = 3
)

func newHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histDigits) }

// record adds d, clamping it into range so a value off the scale still
// counts (at the ceiling) instead of vanishing.
func record(h *hdr.Histogram, d time.Duration) {
	v := max(int64(d), 0)
	v = min(v, histHighest)
	_ = h.RecordValue(v) // cannot fail: v is in range
}

// Latency summarises one histogram for results; times in milliseconds.
type Latency struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min_ms"`
	Mean   float64 `json:"mean_ms"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	P999   float64 `json:"p99_9_ms"`
	P9999  float64 `json:"p99_99_ms"`
	Max    float64 `json:"max_ms"`
	Encode string  `json:"hdr"` // base64 HdrHistogram V2 (compressed), values in ns, so runs can be merged later
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// summarize turns a histogram into a Latency; nil when nothing was recorded.
func summarize(h *hdr.Histogram) *Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	// Encoding an in-memory histogram only fails on a broken writer; the
	// summary is still worth keeping then, so it goes without the copy.
	var encoded string
	if enc, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err == nil {
		encoded = base64.StdEncoding.EncodeToString(enc)
	}
	return &Latency{
		Count:  h.TotalCount(),
		Min:    ms(h.Min()),
		Mean:   h.Mean() / 1e6,
		P50:    ms(h.ValueAtQuantile(50)),
		P90:    ms(h.ValueAtQuantile(90)),
		P99:    ms(h.ValueAtQuantile(99)),
		P999:   ms(h.ValueAtQuantile(99.9)),
		P9999:  ms(h.ValueAtQuantile(99.99)),
		Max:    ms(h.Max()),
		Encode: encoded,
	}
}

// Histogram decodes the full histogram kept in a Latency.
func (l *Latency) Histogram() (*hdr.Histogram, error) {
	raw, err := base64.StdEncoding.DecodeString(l.Encode)
	if err != nil {
		return nil, fmt.Errorf("decode histogram base64: %w", err)
	}
	h, err := hdr.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}
