package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ProcessConfig configures one kbench server process outside a cluster: a
// broker of its own (`kbench broker`) or another command that speaks the
// child protocol's stdout side (prints a ListeningLine).
type ProcessConfig struct {
	// Binary is the kbench executable; default os.Executable().
	Binary string
	// Args are its arguments, e.g. "broker", "--listen", "127.0.0.1:0", ...
	Args []string
	// Env is added to the environment the process inherits.
	Env []string
	// LogPath receives its stdout and stderr. Required.
	LogPath string
	// StartTimeout bounds the wait for the listening line; default 30s.
	StartTimeout time.Duration
	// StopTimeout is how long Close waits after SIGTERM before it
	// SIGKILLs; default 10s.
	StopTimeout time.Duration
}

// Process is a running kbench server process. It dies with this process
// (on Linux) and leads its own process group.
type Process struct {
	cfg     ProcessConfig
	cmd     *exec.Cmd
	addr    string
	metrics chan string   // the metrics URL, once the process prints one
	exited  chan struct{} // closed once the process was waited for
	waitErr error
}

// StartProcess starts the process and returns once it printed its listening
// line.
func StartProcess(ctx context.Context, cfg ProcessConfig) (*Process, error) {
	if cfg.LogPath == "" {
		return nil, errors.New("process: log path is required")
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("process: find the kbench binary: %w", err)
		}
		cfg.Binary = exe
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	logf, err := os.Create(cfg.LogPath)
	if err != nil {
		return nil, fmt.Errorf("process log: %w", err)
	}
	// A plain pipe, not cmd.StdoutPipe: Wait must not race the reader.
	outR, outW, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(cfg.Binary, cfg.Args...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stdout = outW
	cmd.Stderr = logf
	err = cmd.Start()
	outW.Close()
	if err != nil {
		logf.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", cfg.Binary, err)
	}
	p := &Process{cfg: cfg, cmd: cmd, exited: make(chan struct{}), metrics: make(chan string, 1)}
	ready := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyStdout(outR, logf, ready, p.metrics)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		<-copied // the log is complete before anyone quotes it
		close(p.exited)
	}()
	t := time.NewTimer(cfg.StartTimeout)
	defer t.Stop()
	select {
	case p.addr = <-ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v); its log %s ends:\n%s", cfg.Binary, p.waitErr, cfg.LogPath, tail(cfg.LogPath, 2000))
	case <-t.C:
		err = fmt.Errorf("%s did not listen within %v; its log %s ends:\n%s", cfg.Binary, cfg.StartTimeout, cfg.LogPath, tail(cfg.LogPath, 2000))
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Close()
	return nil, err
}

// Addr is the address from the listening line.
func (p *Process) Addr() string { return p.addr }

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// MetricsURL waits up to the start timeout for the process's metrics line
// (`kbench broker --metrics-listen` prints one).
func (p *Process) MetricsURL() (string, error) {
	t := time.NewTimer(p.cfg.StartTimeout)
	defer t.Stop()
	select {
	case u := <-p.metrics:
		return u, nil
	case <-p.exited:
		return "", fmt.Errorf("process %d exited before printing its metrics endpoint", p.PID())
	case <-t.C:
		return "", fmt.Errorf("process %d printed no metrics endpoint within %v", p.PID(), p.cfg.StartTimeout)
	}
}

// Alive returns an error, quoting the end of the log, once the process
// has exited.
func (p *Process) Alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("process %d exited (%v); its log %s ends:\n%s", p.PID(), p.waitErr, p.cfg.LogPath, tail(p.cfg.LogPath, 2000))
	default:
		return nil
	}
}

// Close sends SIGTERM, then SIGKILL after the stop timeout, and waits for
// the process to end. An error says it had to be killed.
func (p *Process) Close() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	signalGroup(p.PID(), syscall.SIGTERM)
	t := time.NewTimer(p.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		signalGroup(p.PID(), syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("process %d ignored SIGTERM for %v and was killed", p.PID(), p.cfg.StopTimeout)
	}
}
