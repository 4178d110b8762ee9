package cluster

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// sysProcAttr puts each broker in its own process group (so signals reach
// all of it and a terminal's Ctrl-C reaches only the supervisor, which then
// stops the brokers in order) and has the kernel SIGKILL it if the
// supervisor dies. Pdeathsig fires when the forking OS thread exits; Go only
// ends threads of goroutines that exit while locked to them, which the
// supervisor never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// ProcState returns the state letter of a process from /proc/PID/stat:
// R running, S sleeping, T stopped, Z zombie, ...
func ProcState(pid int) (byte, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces: the state follows
	// the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 || i+2 >= len(raw) {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return raw[i+2], nil
}

// waitProcState waits until process pid is in state want.
func waitProcState(pid int, want byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := ProcState(pid)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d in state %c after %s, want %c", pid, got, timeout, want)
		}
		time.Sleep(time.Millisecond)
	}
}
