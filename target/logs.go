package target

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// logger appends timestamped lines to a file in Options.LogDir. Its methods
// do nothing on a nil logger (no LogDir).
type logger struct {
	mu sync.Mutex // broker goroutines log concurrently
	f  *os.File
	l  *log.Logger
}

func openLogger(dir, name string) (*logger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker log dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker log: %w", err)
	}
	return &logger{f: f, l: log.New(f, "", log.LstdFlags|log.Lmicroseconds)}, nil
}

func (l *logger) printf(format string, args ...any) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l.Printf(format, args...)
}

func (l *logger) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// timed wraps stop so that the log says how long stopping took.
func (l *logger) timed(stop func() error) func() error {
	if l == nil {
		return stop
	}
	return func() error {
		start := time.Now()
		err := stop()
		l.printf("=== stopped in %v (err: %v)", time.Since(start).Round(time.Millisecond), err)
		return err
	}
}

// copyLogs appends every broker-N.log of a cluster directory to the file of
// the same name in dir.
func copyLogs(from, to string) error {
	logs, _ := filepath.Glob(filepath.Join(from, "broker-*.log"))
	var errs []error
	for _, src := range logs {
		errs = append(errs, appendFile(src, filepath.Join(to, filepath.Base(src))))
	}
	return errors.Join(errs...)
}

func appendFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
