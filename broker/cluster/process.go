package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kbench/kbench/broker/controller"
)

// broker is one supervised broker and its current (or last) process.
type broker struct {
	id      int32
	port    int
	dataDir string
	logPath string

	// ops serialises lifecycle operations and fault commands on this broker.
	ops sync.Mutex

	// Guarded by Cluster.mu.
	state       State
	pid         int
	addr        string         // as the process reported it
	stdin       io.WriteCloser // fault commands
	exited      chan struct{}  // closed once the process has been reaped
	expectExit  bool           // we signalled it: its exit is no surprise
	exitErr     error
	epoch       int64 // controller registration epoch of the current process
	restarts    int
	delay       time.Duration
	bandwidth   int64
	dropProduce float64
}

// address is the broker's client address. Caller holds Cluster.mu.
func (b *broker) address() string {
	if b.addr != "" {
		return b.addr
	}
	return "127.0.0.1:" + strconv.Itoa(b.port)
}

// spawn starts b's process and waits until it listens and has registered
// with the controller under a new epoch. Caller holds b.ops.
func (c *Cluster) spawn(ctx context.Context, b *broker) error {
	c.mu.Lock()
	closing, prevEpoch := c.closing, b.epoch
	c.mu.Unlock()
	if closing {
		return ErrClosed
	}
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("broker %d: open log: %w", b.id, err)
	}
	// A plain pipe, not cmd.StdoutPipe: Wait must not race the reader.
	outR, outW, err := os.Pipe()
	if err != nil {
		logf.Close()
		return fmt.Errorf("broker %d: %w", b.id, err)
	}
	args := brokerArgs(b.id, b.port, b.dataDir, c.ctrl.Addr(), c.cfg.BrokerArgs)
	cmd := exec.Command(c.cfg.Binary, args...)
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	if n := brokerGoMaxProcs(c.cfg.GoMaxProcs, c.cfg.Brokers, cmd.Env); n > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(n))
	}
	cmd.Stdout = outW
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		outR.Close()
		outW.Close()
		return fmt.Errorf("broker %d: %w", b.id, err)
	}
	fmt.Fprintf(logf, "--- kbench cluster %s: starting broker %d: %s %s\n",
		time.Now().Format(time.RFC3339Nano), b.id, c.cfg.Binary, strings.Join(args, " "))
	err = cmd.Start()
	outW.Close()
	if err != nil {
		logf.Close()
		outR.Close()
		return fmt.Errorf("broker %d: start %s: %w", b.id, c.cfg.Binary, err)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	b.state, b.pid, b.addr, b.stdin, b.exited = Running, cmd.Process.Pid, "", stdin, exited
	b.expectExit, b.exitErr = false, nil
	b.delay, b.bandwidth, b.dropProduce = 0, 0, 0
	c.mu.Unlock()

	ready := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyStdout(outR, logf, ready, nil)
	}()
	go c.reap(b, cmd, exited)

	fail := func(err error) error {
		c.stopProc(b, true)
		// Let the last lines reach the log before quoting it.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		return fmt.Errorf("broker %d: %w; its log %s ends with:\n%s", b.id, err, b.logPath, tail(b.logPath, 2048))
	}
	timer := time.NewTimer(c.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case addr := <-ready:
		c.mu.Lock()
		b.addr = addr
		c.mu.Unlock()
	case <-exited:
		return fail(errors.New("exited during startup"))
	case <-timer.C:
		return fail(fmt.Errorf("not listening after %s", c.cfg.StartTimeout))
	case <-c.stopping:
		return fail(ErrClosed)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	// Listening is not enough: clients need the broker in the controller's
	// metadata, and Restart needs the old incarnation fenced.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if epoch, ok := registered(c.ctrl.Snapshot(), b.id, prevEpoch); ok {
			c.mu.Lock()
			b.epoch = epoch
			c.mu.Unlock()
			return nil
		}
		select {
		case <-tick.C:
		case <-exited:
			return fail(errors.New("exited before registering with the controller"))
		case <-timer.C:
			return fail(fmt.Errorf("listening but not registered with the controller after %s", c.cfg.StartTimeout))
		case <-c.stopping:
			return fail(ErrClosed)
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// registered reports whether broker id is registered, unfenced, with an
// epoch newer than after.
func registered(s controller.State, id int32, after int64) (int64, bool) {
	for _, r := range s.Brokers {
		if r.ID == id && !r.Fenced && !r.Restored && r.Epoch > after {
			return r.Epoch, true
		}
	}
	return 0, false
}

// copyStdout copies a process's stdout into its log file and reports the
// address of its listening line on ready and, when metrics is not nil, the
// URL of its metrics line. It owns logf.
func copyStdout(r *os.File, logf *os.File, ready, metrics chan<- string) {
	defer r.Close()
	defer logf.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		if addr, ok := listeningAddr(line); ok && ready != nil {
			ready <- addr
			ready = nil
		}
		if u, ok := metricsURL(line); ok && metrics != nil {
			metrics <- u
			metrics = nil
		}
	}
	// A line longer than the buffer stops the scan; keep draining so the
	// process never blocks on a full pipe.
	io.Copy(logf, r)
}

// reap waits for a broker process to end and records how it ended. A broker
// that exits on its own is logged and left dead: fault tests need it so.
func (c *Cluster) reap(b *broker, cmd *exec.Cmd, exited chan struct{}) {
	err := cmd.Wait()
	c.mu.Lock()
	b.exitErr, b.stdin = err, nil
	if err == nil {
		b.exitErr = errors.New("exit status 0")
	}
	if !b.expectExit {
		b.state = Exited
		if !c.closing {
			c.cfg.Logf("cluster: broker %d (pid %d) exited unexpectedly (%v); not restarting it, see %s", b.id, b.pid, b.exitErr, b.logPath)
		}
	}
	c.mu.Unlock()
	close(exited)
}

// stopProc ends b's process: SIGKILL at once with kill, otherwise SIGTERM
// and SIGKILL after StopTimeout. It returns once the process is reaped; a
// broker already down is left as it is. Caller holds b.ops.
func (c *Cluster) stopProc(b *broker, kill bool) error {
	c.mu.Lock()
	if b.exited == nil || (b.state != Running && b.state != Paused) {
		c.mu.Unlock()
		return nil
	}
	b.expectExit = true
	pid, exited := b.pid, b.exited
	c.mu.Unlock()
	final := Killed
	if kill {
		signalGroup(pid, syscall.SIGKILL)
	} else {
		final = Stopped
		signalGroup(pid, syscall.SIGTERM)
		// A paused broker would not see SIGTERM until it runs again.
		signalGroup(pid, syscall.SIGCONT)
		select {
		case <-exited:
		case <-time.After(c.cfg.StopTimeout):
			c.cfg.Logf("cluster: broker %d (pid %d) still running %s after SIGTERM: killing it", b.id, pid, c.cfg.StopTimeout)
			final = Killed
			signalGroup(pid, syscall.SIGKILL)
		}
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("broker %d (pid %d) not reaped 10s after SIGKILL", b.id, pid)
	}
	c.mu.Lock()
	b.state = final
	c.mu.Unlock()
	return nil
}

// signalGroup signals a broker's whole process group (each broker leads its
// own), so nothing it started outlives it.
func signalGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); err != nil {
		// Not a group leader (should not happen): signal the process alone.
		syscall.Kill(pid, sig)
	}
}

// brokerGoMaxProcs is the GOMAXPROCS to give each of brokers processes, or
// 0 to set none (configured -1, or the environment already has one).
func brokerGoMaxProcs(configured, brokers int, env []string) int {
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return 0
		}
	}
	switch {
	case configured < 0:
		return 0
	case configured > 0:
		return configured
	}
	return max(1, runtime.GOMAXPROCS(0)/max(brokers, 1))
}
