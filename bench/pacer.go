// Package bench is kbench's load generator: it paces producers on an
// open-loop schedule, consumes, measures service, response and end-to-end
// latency in HDR histograms and streams per-interval snapshots to sinks.
package bench

import (
	"math"
	"time"
)

// Pacer is an open-loop schedule for one producer: record n is due at
// Offset + n/Rate, whatever happened to earlier records. It is a pure
// function of (elapsed, sent), so it is tested without a clock.
type Pacer struct {
	// Rate is records per second; 0 sends as fast as possible.
	Rate float64
	// Offset shifts the whole schedule, so several producers sharing a
	// total rate interleave instead of firing together.
	Offset time.Duration
	// Duration stops the schedule: no record is due at or after it. 0 = no limit.
	Duration time.Duration
	// Records stops after this many records. 0 = no limit.
	Records uint64
}

// Pace reports how long to wait before sending record number sent
// (0-based) when elapsed time has passed since the start, and whether the
// schedule is over. A late sender gets wait 0 until it has caught up: the
// schedule does not slip, which is what keeps response times honest.
func (p Pacer) Pace(elapsed time.Duration, sent uint64) (wait time.Duration, stop bool) {
	if p.Records > 0 && sent >= p.Records {
		return 0, true
	}
	if p.Rate <= 0 {
		return 0, p.Duration > 0 && elapsed >= p.Duration
	}
	due := p.Intended(sent)
	if p.Duration > 0 && due >= p.Duration {
		return 0, true
	}
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// Intended is when record n is due, relative to the start. Without a rate
// there is no schedule and it returns -1: callers use the actual send time.
func (p Pacer) Intended(n uint64) time.Duration {
	if p.Rate <= 0 {
		return -1
	}
	// Computed from n each time (not accumulated) so rounding never drifts.
	return p.Offset + time.Duration(math.Round(float64(n)*1e9/p.Rate))
}

// Split divides a total rate and record budget over n producers; producer i
// gets its own phase so the merged stream stays evenly spaced. With a record
// budget smaller than n it returns fewer pacers, never one with nothing to do.
func (p Pacer) Split(n int) []Pacer {
	if n < 1 {
		n = 1
	}
	if p.Records > 0 && uint64(n) > p.Records {
		n = int(p.Records)
	}
	out := make([]Pacer, n)
	for i := range out {
		q := p
		if p.Rate > 0 {
			q.Rate = p.Rate / float64(n)
			q.Offset = p.Offset + time.Duration(math.Round(float64(i)*1e9/p.Rate))
		}
		if p.Records > 0 {
			q.Records = p.Records / uint64(n)
			if uint64(i) < p.Records%uint64(n) {
				q.Records++
			}
		}
		out[i] = q
	}
	return out
}
