// Package cluster supervises a kbench broker cluster on loopback: it hosts
// the controller in-process and runs every broker as its own OS process (so a
// SIGKILL is a real crash), watches them without restarting the ones that die
// (fault tests need them dead), and offers fault hooks — kill, stop, pause,
// resume, restart, replication delay and bandwidth caps, dropped produce
// responses — as a Go API and on a loopback HTTP admin endpoint.
//
// Lock order: broker.ops (one lifecycle operation per broker at a time)
// before Cluster.mu (the fields of every broker). Cluster.mu is never held
// while waiting for a process.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kbench/kbench/broker/controller"
)

// Errors returned by the fault hooks and lookups; check with errors.Is.
var (
	ErrUnknownBroker = errors.New("unknown broker")
	ErrNotRunning    = errors.New("broker process is not running")
	ErrClosed        = errors.New("cluster is closed")
	ErrUnknownTopic  = errors.New("unknown topic or partition")
	ErrNoLeader      = errors.New("partition has no leader")
	ErrInvalid       = errors.New("invalid argument")
)

// Config configures a cluster.
type Config struct {
	// Brokers is the number of broker processes, with node ids 1..Brokers.
	// Default 3.
	Brokers int
	// BasePort is broker 1's port; broker N listens on BasePort+N-1 on
	// 127.0.0.1. 0 picks free ports (not necessarily consecutive).
	BasePort int
	// Dir holds controller/, broker-N/ data dirs, broker-N.log (each
	// broker's stdout and stderr) and admin.addr. Required.
	Dir string
	// Binary is the kbench executable run as "Binary broker ..."; default
	// os.Executable().
	Binary string
	// BrokerArgs are appended to every broker's command line.
	BrokerArgs []string
	// Env is added to the environment broker processes inherit.
	Env []string
	// GoMaxProcs is each broker process's GOMAXPROCS: 0 shares this
	// machine's CPUs out (GOMAXPROCS of this process / Brokers, at least 1),
	// -1 leaves it to the Go runtime. A GOMAXPROCS already in the
	// environment or in Env wins. N brokers on one machine that each run
	// as many Ps as there are cores spin and context-switch against each
	// other: docs/broker-tuning.md has the measured difference.
	GoMaxProcs int
	// SessionTimeout is the controller's heartbeat timeout before it fences
	// a broker; default 2s.
	SessionTimeout time.Duration
	// StartTimeout bounds how long a broker may take to listen and register;
	// default 30s.
	StartTimeout time.Duration
	// StopTimeout is how long Stop and Close wait after SIGTERM before they
	// SIGKILL; default 10s.
	StopTimeout time.Duration
	// AdminListen is the admin endpoint's address; default 127.0.0.1:0.
	AdminListen string
	// Logf receives supervisor and controller log lines; default discards.
	Logf func(format string, args ...any)
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return errors.New("cluster: dir is required")
	}
	if c.Brokers == 0 {
		c.Brokers = 3
	}
	if c.Brokers < 0 {
		return fmt.Errorf("cluster: %d brokers: want at least 1", c.Brokers)
	}
	if c.BasePort < 0 || c.BasePort+c.Brokers-1 > 65535 {
		return fmt.Errorf("cluster: base port %d with %d brokers is out of range", c.BasePort, c.Brokers)
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cluster: find the kbench binary: %w", err)
		}
		c.Binary = exe
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 2 * time.Second
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 30 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.AdminListen == "" {
		c.AdminListen = "127.0.0.1:0"
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// Cluster is a running, supervised cluster.
type Cluster struct {
	cfg   Config
	ctrl  *controller.Controller
	admin *adminServer

	mu      sync.Mutex
	brokers []*broker // index id-1
	closing bool

	closeOnce sync.Once
	closeErr  error
	stopping  chan struct{} // closed when Close starts: abandons broker starts
	done      chan struct{} // closed once Close has finished
}

// Start starts the controller, spawns every broker and returns once all of
// them listen and have registered with the controller. Cancelling ctx later
// shuts the cluster down as Close does.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// The controller expects its directory to exist.
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "controller"), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ports, err := pickPorts(cfg.BasePort, cfg.Brokers)
	if err != nil {
		return nil, err
	}
	ctrl, err := controller.Start(ctx, controller.Config{
		Dir:            filepath.Join(cfg.Dir, "controller"),
		SessionTimeout: cfg.SessionTimeout,
		Logf:           cfg.Logf,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: start controller: %w", err)
	}
	c := &Cluster{cfg: cfg, ctrl: ctrl, stopping: make(chan struct{}), done: make(chan struct{})}
	for i := range cfg.Brokers {
		id := int32(i + 1)
		c.brokers = append(c.brokers, &broker{
			id:      id,
			port:    ports[i],
			dataDir: filepath.Join(cfg.Dir, "broker-"+strconv.Itoa(int(id))),
			logPath: filepath.Join(cfg.Dir, "broker-"+strconv.Itoa(int(id))+".log"),
			state:   Stopped,
		})
	}
	// Brokers start in parallel: each waits for its own readiness, and
	// startup time then does not grow with the broker count.
	errs := c.eachBroker(func(b *broker) error { return c.spawn(ctx, b) })
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	if c.admin, err = startAdmin(c); err != nil {
		c.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			c.cfg.Logf("cluster: context cancelled: shutting down")
			c.Close()
		case <-c.done:
		}
	}()
	return c, nil
}

// eachBroker runs op on every broker at once, each under its ops lock, and
// returns their errors in broker order.
func (c *Cluster) eachBroker(op func(*broker) error) []error {
	errs := make([]error, len(c.brokers))
	var wg sync.WaitGroup
	for i, b := range c.brokers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.ops.Lock()
			defer b.ops.Unlock()
			errs[i] = op(b)
		}()
	}
	wg.Wait()
	return errs
}

// pickPorts returns n consecutive ports from base, or n free ports when base
// is 0. Free ports are found by binding and releasing them, so another
// process could take one in between; the broker then fails to start with a
// clear error rather than silently using another port.
func pickPorts(base, n int) ([]int, error) {
	ports := make([]int, n)
	if base != 0 {
		for i := range ports {
			ports[i] = base + i
		}
		return ports, nil
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// Close stops every broker (SIGTERM, then SIGKILL after StopTimeout), the
// admin endpoint and the controller. It is safe to call more than once and
// concurrently; every call returns once the cluster is down.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.shutdown()
		close(c.done)
	})
	<-c.done
	return c.closeErr
}

func (c *Cluster) shutdown() error {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	close(c.stopping)
	var errs []error
	if c.admin != nil {
		errs = append(errs, c.admin.close())
		if err := os.Remove(c.AdminAddrFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.eachBroker(func(b *broker) error { return c.stopProc(b, false) })...)
	c.ctrl.Close()
	return errors.Join(errs...)
}

// Dir is the cluster directory.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// AdminAddrFile is the file holding the admin endpoint's address.
func (c *Cluster) AdminAddrFile() string { return filepath.Join(c.cfg.Dir, AdminAddrFile) }

// AdminAddr is the admin endpoint's host:port.
func (c *Cluster) AdminAddr() string { return c.admin.addr() }

// Controller is the in-process controller.
func (c *Cluster) Controller() *controller.Controller { return c.ctrl }

// Bootstrap returns every broker's address, for a client's seed list.
func (c *Cluster) Bootstrap() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.brokers))
	for _, b := range c.brokers {
		out = append(out, b.address())
	}
	return out
}

// State is what the supervisor knows of a broker process.
type State string

// Broker process states.
const (
	Running State = "running"
	Paused  State = "paused"  // SIGSTOP'ed by Pause
	Stopped State = "stopped" // shut down gracefully by Stop (or not started)
	Killed  State = "killed"  // SIGKILL'ed by Kill
	Exited  State = "exited"  // exited on its own: a crash or a bug
)

// BrokerInfo describes one broker.
type BrokerInfo struct {
	ID      int32  `json:"id"`
	Addr    string `json:"addr"`
	PID     int    `json:"pid"` // of the current or last process
	State   State  `json:"state"`
	DataDir string `json:"data_dir"`
	Log     string `json:"log"`
	// Exit describes how the last process ended ("signal: killed", ...).
	Exit     string `json:"exit,omitempty"`
	Restarts int    `json:"restarts"`
	// Registered and Fenced are the controller's view.
	Registered bool `json:"registered"`
	Fenced     bool `json:"fenced"`
	// Faults in force on the current process; a restart clears them.
	DelayNs     time.Duration `json:"delay_ns"`
	Bandwidth   int64         `json:"bandwidth_bps"`
	DropProduce float64       `json:"drop_produce"`
}

// Brokers describes every broker, in id order.
func (c *Cluster) Brokers() []BrokerInfo {
	snap := c.ctrl.Snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]BrokerInfo, 0, len(c.brokers))
	for _, b := range c.brokers {
		bi := BrokerInfo{ID: b.id, Addr: b.address(), PID: b.pid, State: b.state, DataDir: b.dataDir,
			Log: b.logPath, Restarts: b.restarts, DelayNs: b.delay, Bandwidth: b.bandwidth, DropProduce: b.dropProduce}
		if b.exitErr != nil {
			bi.Exit = b.exitErr.Error()
		}
		if i := slices.IndexFunc(snap.Brokers, func(r controller.Broker) bool { return r.ID == b.id }); i >= 0 {
			bi.Registered, bi.Fenced = !snap.Brokers[i].Restored, snap.Brokers[i].Fenced
		}
		out = append(out, bi)
	}
	return out
}

// LeaderOf returns the current leader of a partition from the controller.
func (c *Cluster) LeaderOf(topic string, partition int32) (int32, error) {
	t, ok := c.ctrl.Snapshot().Topics[topic]
	if !ok || partition < 0 || int(partition) >= len(t.Partitions) {
		return -1, fmt.Errorf("%s/%d: %w", topic, partition, ErrUnknownTopic)
	}
	if l := t.Partitions[partition].Leader; l >= 0 {
		return l, nil
	}
	return -1, fmt.Errorf("%s/%d: %w", topic, partition, ErrNoLeader)
}

// WaitHealthy waits until every broker is registered and unfenced and every
// partition has a leader and a full ISR.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		why := c.unhealthy()
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy (%s): %w", why, ctx.Err())
		case <-c.done:
			return ErrClosed
		case <-t.C:
		}
	}
}

// unhealthy says why the cluster is not healthy, or "" when it is.
func (c *Cluster) unhealthy() string {
	snap := c.ctrl.Snapshot()
	for _, b := range c.brokers {
		i := slices.IndexFunc(snap.Brokers, func(r controller.Broker) bool { return r.ID == b.id })
		if i < 0 || snap.Brokers[i].Fenced {
			return fmt.Sprintf("broker %d not registered", b.id)
		}
	}
	for name, t := range snap.Topics {
		for i, p := range t.Partitions {
			if p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
				return fmt.Sprintf("%s/%d has leader %d, ISR %v of replicas %v", name, i, p.Leader, p.ISR, p.Replicas)
			}
		}
	}
	return ""
}

// get returns broker id or ErrUnknownBroker.
func (c *Cluster) get(id int32) (*broker, error) {
	if id < 1 || int(id) > len(c.brokers) {
		return nil, fmt.Errorf("broker %d: %w", id, ErrUnknownBroker)
	}
	return c.brokers[id-1], nil
}

// tail returns up to the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
