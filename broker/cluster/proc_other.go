//go:build !linux

package cluster

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr puts each broker in its own process group. Outside Linux there
// is no parent-death signal: Close must run for brokers to stop.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// ProcState is only implemented on Linux.
func ProcState(pid int) (byte, error) { return 0, errors.New("process state needs /proc (Linux)") }

// waitProcState cannot observe the state outside Linux; SIGSTOP is
// delivered promptly, so it returns at once.
func waitProcState(int, byte, time.Duration) error { return nil }
