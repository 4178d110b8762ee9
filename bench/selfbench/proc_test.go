//go:build linux

package selfbench

import (
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
)

func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn about 200 ms of this process's CPU, as getrusage counts it; on a
	// loaded machine that may take much longer than 200 ms of wall time.
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := rusage()
	x := 0
	for deadline := time.Now().Add(20 * time.Second); rusage()-start < 200*time.Millisecond && time.Now().Before(deadline); {
		x++
	}
	burnt := rusage() - start
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in clock ticks (10 ms): allow a few ticks either way.
	if d := after - before; d < burnt-50*time.Millisecond || d > burnt+100*time.Millisecond {
		t.Errorf("/proc says cpu grew by %v while getrusage says %v (%d loops)", d, burnt, x)
	}
	if _, err := procCPU(-1); err == nil {
		t.Error("no such process: got no error")
	}
}

func TestPeakRSS(t *testing.T) {
	pid := os.Getpid()
	if err := resetPeakRSS(pid); err != nil {
		t.Fatal(err)
	}
	base, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	peak, err := peakRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if peak-base < 60<<20 {
		t.Errorf("peak rss grew by %d bytes after touching 64 MiB, want at least 60 MiB", peak-base)
	}
	runtime.KeepAlive(buf)
	buf = nil
	runtime.GC()
	debug.FreeOSMemory()
	if err := resetPeakRSS(pid); err != nil {
		t.Fatal(err)
	}
	if again, _ := peakRSS(pid); again >= peak {
		t.Errorf("peak rss %d after a reset, want below the %d peak", again, peak)
	}
}
