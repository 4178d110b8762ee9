//go:build !linux

package selfbench

import (
	"errors"
	"time"
)

var errNoProc = errors.New("broker cpu and memory are read from /proc: linux only")

func procCPU(int) (time.Duration, error) { return 0, errNoProc }

func peakRSS(int) (int64, error) { return 0, errNoProc }

func resetPeakRSS(int) error { return errNoProc }
