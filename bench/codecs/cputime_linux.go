package codecs

import (
	"syscall"
	"time"
	"unsafe"
)

// clockName says what the speeds are per: CPU time of the measuring thread,
// so a busy neighbour core or a descheduled thread does not count.
const clockName = "thread-cpu"

// clockThreadCPUTimeID is CLOCK_THREAD_CPUTIME_ID from <time.h>.
const clockThreadCPUTimeID = 3

// cpuClock reads the calling thread's CPU time; callers lock the OS thread.
type cpuClock struct{}

func newCPUClock() cpuClock { return cpuClock{} }

func (cpuClock) now() time.Duration {
	var ts syscall.Timespec
	// syscall has no wrapper for clock_gettime; the vDSO does not serve
	// thread CPU clocks anyway, so a raw syscall costs the same.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
