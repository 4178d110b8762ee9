//go:build linux

package selftest

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn about 200 ms of CPU.
	deadline := time.Now().Add(200 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("cpu grew by %v over 200 ms of spinning (%d loops), want about 200 ms", d, x)
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
