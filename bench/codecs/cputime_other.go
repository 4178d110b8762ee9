//go:build !linux

package codecs

import "time"

// clockName says what the speeds are per: without a portable thread CPU
// clock, elsewhere they are per wall-clock second of one goroutine.
const clockName = "wall"

type cpuClock struct{ start time.Time }

func newCPUClock() cpuClock { return cpuClock{start: time.Now()} }

func (c cpuClock) now() time.Duration { return time.Since(c.start) }
