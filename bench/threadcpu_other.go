//go:build !linux

package bench

// threadCPU is not measured here: kbench's own share of the CPU is then
// reported as 0.
func threadCPU() int64 { return 0 }
