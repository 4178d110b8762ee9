package bench

import (
	"syscall"
	"unsafe"
)

// threadCPU is the CPU time the calling thread has used, in ns; it tells
// kbench's own share of the generator's CPU from the client's.
func threadCPU() int64 {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return ts.Nano()
}
