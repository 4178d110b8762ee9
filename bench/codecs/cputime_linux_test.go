package codecs

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// clockProcessCPUTimeID is CLOCK_PROCESS_CPUTIME_ID from <time.h>.
const clockProcessCPUTimeID = 2

// processCPU is the CPU time of every thread of this process.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ts syscall.Timespec
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		t.Fatalf("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): %v", errno)
	}
	return time.Duration(ts.Nano())
}

// The clock must count this thread's CPU, not wall time: sleeping adds
// almost nothing, and spinning adds about what the process spent on CPU
// meanwhile. The spin is measured by the process CPU clock, not by wall
// time, so a thread preempted by a busy machine cannot fail the test.
func TestCPUClockCountsCPUOnly(t *testing.T) {
	if clockName != "thread-cpu" {
		t.Fatalf("clock %q on Linux, want thread-cpu", clockName)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clk := newCPUClock()
	t0 := clk.now()
	time.Sleep(60 * time.Millisecond)
	if slept := clk.now() - t0; slept > 10*time.Millisecond {
		t.Errorf("sleeping 60ms cost %v of thread CPU, want almost none", slept)
	}

	// Spin until the process has spent 40ms of CPU; the wall-clock bound
	// only stops a broken process clock from hanging the test.
	const work = 40 * time.Millisecond
	giveUp := time.Now().Add(20 * time.Second)
	p0, t1 := processCPU(t), clk.now()
	var proc time.Duration
	for proc < work {
		if time.Now().After(giveUp) {
			t.Fatalf("the process spent only %v of CPU in 20s of spinning", proc)
		}
		proc = processCPU(t) - p0
	}
	spun := clk.now() - t1
	// This thread did nearly all of the process's work; the runtime's
	// other threads (GC, sysmon) add a little, never the other way round.
	if spun < proc/2 || spun > proc+time.Millisecond {
		t.Errorf("the process spent %v of CPU while this thread spun; the thread CPU clock counted %v", proc, spun)
	}
}
