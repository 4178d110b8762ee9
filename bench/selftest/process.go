package selftest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"
)

// listeningRE finds the address in a target's start-up line: `kbench
// broker` prints "kbench broker 1 listening on ADDR (data dir ...)", `kbench
// selftest serve` prints "selftest KIND listening on ADDR".
var listeningRE = regexp.MustCompile(`listening on (\S+)`)

// metricsRE finds `kbench broker --metrics-listen`'s endpoint line.
var metricsRE = regexp.MustCompile(`metrics on (http://\S+)`)

// Timeouts for child processes.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// proc is one child process serving a target.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	metrics chan string // the metrics URL, when the process prints one
	logPath string
	exited  chan struct{} // closed once the process was waited for
	waitErr error
}

// spawn starts binary with args, its output going to logPath, and waits
// for its listening line.
func spawn(ctx context.Context, binary string, args, env []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("process log: %w", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &proc{cmd: cmd, logPath: logPath, exited: make(chan struct{}), metrics: make(chan string, 1)}
	addrc := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			for re, ch := range map[*regexp.Regexp]chan string{listeningRE: addrc, metricsRE: p.metrics} {
				if m := re.FindStringSubmatch(line); m != nil {
					select {
					case ch <- m[1]:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(logf, out) // after an over-long line, keep draining
	}()
	go func() {
		<-copied // Wait closes the pipe: read everything first
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening (%v); its log %s ends:\n%s", binary, p.waitErr, logPath, tail(logPath, 2000))
	case <-t.C:
		err = fmt.Errorf("%s did not listen within %v; its log %s ends:\n%s", binary, startTimeout, logPath, tail(logPath, 2000))
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop()
	return nil, err
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// metricsURL waits briefly for the process's metrics endpoint line.
func (p *proc) metricsURL() (string, error) {
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case u := <-p.metrics:
		return u, nil
	case <-p.exited:
		return "", fmt.Errorf("process %d exited before printing its metrics endpoint", p.pid())
	case <-t.C:
		return "", fmt.Errorf("process %d printed no metrics endpoint within %v", p.pid(), startTimeout)
	}
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("process %d ignored SIGTERM for %v and was killed", p.pid(), stopTimeout)
	}
}

// alive reports an error if the process has exited.
func (p *proc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("process %d exited (%v); its log %s ends:\n%s", p.pid(), p.waitErr, p.logPath, tail(p.logPath, 2000))
	default:
		return nil
	}
}

// tail returns up to the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return string(b)
}
