// Package clustertest is a stand-in broker process for testing the cluster
// supervisor's process management on its own. It follows the supervisor's
// contract with a broker child — the same flags, the "kbench broker N
// listening on ADDR" line, fault commands on stdin — and really registers and
// heartbeats with the controller, but stores nothing: it answers every Kafka
// request with an empty response. It records each start in DATA_DIR/boots
// and each stdin command in DATA_DIR/commands so tests can check them.
//
// A test binary runs it from TestMain when EnvVar is set:
//
//	if os.Getenv(clustertest.EnvVar) != "" {
//		os.Exit(clustertest.Main(os.Args[1:], os.Stdin, os.Stdout))
//	}
package clustertest

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/broker/wire"
)

// maxLife bounds a fake broker's lifetime.
const maxLife = 3 * time.Minute

// EnvVar makes a test binary act as a fake broker.
const EnvVar = "KBENCH_FAKE_BROKER"

// Files the fake broker writes in its data dir.
const (
	BootsFile    = "boots"    // one "pid N" line per start
	CommandsFile = "commands" // every stdin line, as received
	ArgsFile     = "args"     // the unknown --name=value flags, one a line
)

// Main runs a fake broker with args ("broker --node-id N --listen ADDR
// --data-dir DIR --controller ADDR [--fake-...]") until SIGTERM, and returns
// its exit code. Test-only flags make it misbehave:
//
//	--fake-exit-after D   exit with status 3 after D (a crash)
//	--fake-no-listen      never print the listening line
//	--fake-ignore-term    ignore SIGTERM (to exercise SIGKILL escalation)
func Main(args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) > 0 && args[0] == "broker" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("fake-broker", flag.ContinueOnError)
	fs.SetOutput(stdout)
	id := fs.Int("node-id", 1, "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	dir := fs.String("data-dir", "", "")
	ctrl := fs.String("controller", "", "")
	exitAfter := fs.Duration("fake-exit-after", 0, "")
	noListen := fs.Bool("fake-no-listen", false, "")
	ignoreTerm := fs.Bool("fake-ignore-term", false, "")
	// Flags meant for the real broker ("--name=value") are recorded in
	// DATA_DIR/args rather than refused, so tests see what was passed on.
	var known, extra []string
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "--") && strings.Contains(a, "=") && fs.Lookup(name) == nil {
			extra = append(extra, a)
		} else {
			known = append(known, a)
		}
	}
	if err := fs.Parse(known); err != nil {
		return 2
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	if *dir == "" || *ctrl == "" {
		logf("fake broker: --data-dir and --controller are required")
		return 2
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		logf("fake broker: %v", err)
		return 1
	}
	if err := appendLine(filepath.Join(*dir, BootsFile), "pid "+strconv.Itoa(os.Getpid())); err != nil {
		logf("fake broker: %v", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(*dir, ArgsFile), []byte(strings.Join(extra, "\n")), 0o644); err != nil {
		logf("fake broker: %v", err)
		return 1
	}
	// Its stdout is a pipe to the supervisor: when that dies, a log line
	// must not kill the fake (SIGPIPE), or the parent-death signal goes
	// untested.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logf("fake broker %d: %v", *id, err)
		return 1
	}
	go serve(ln)
	if !*noListen {
		fmt.Fprintln(stdout, cluster.ListeningLine("kbench broker "+strconv.Itoa(*id), ln.Addr().String(), "fake, data dir "+*dir))
	}
	tcp := ln.Addr().(*net.TCPAddr)
	go heartbeat(int32(*id), tcp.IP.String(), uint16(tcp.Port), *ctrl, logf)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			logf("fake broker %d: command %q", *id, sc.Text())
			if err := appendLine(filepath.Join(*dir, CommandsFile), sc.Text()); err != nil {
				logf("fake broker %d: %v", *id, err)
			}
		}
	}()
	var crash <-chan time.Time
	if *exitAfter > 0 {
		crash = time.After(*exitAfter)
	}
	select {
	case <-sigs:
		logf("fake broker %d: shutting down", *id)
		return 0
	case <-crash:
		logf("fake broker %d: crashing as told", *id)
		return 3
	case <-time.After(maxLife):
		// A safety net should a test leak it: no fake outlives its test run.
		logf("fake broker %d: exiting after %s", *id, maxLife)
		return 4
	}
}

// serve answers every request with that request's empty response, so the
// controller's pushes succeed.
func serve(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			var out []byte
			for {
				frame, err := wire.ReadFrame(nc, 64<<20)
				if err != nil {
					return
				}
				h, req, err := wire.ParseRequest(frame)
				if err != nil {
					return
				}
				out = wire.AppendResponse(out[:0], h, req.ResponseKind())
				if _, err := nc.Write(out); err != nil {
					return
				}
			}
		}()
	}
}

// heartbeat registers with the controller and heartbeats every 100ms,
// registering again whenever the controller has fenced it.
func heartbeat(id int32, host string, port uint16, ctrl string, logf func(string, ...any)) {
	cl := &wire.Client{Addr: ctrl, ClientID: "kbench-fake-broker-" + strconv.Itoa(int(id))}
	var epoch int64 = -1
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var err error
		if epoch < 0 {
			epoch, err = register(ctx, cl, id, host, port)
			if err == nil {
				logf("fake broker %d: registered with epoch %d", id, epoch)
			}
		} else {
			req := kmsg.NewPtrBrokerHeartbeatRequest()
			req.BrokerID, req.BrokerEpoch = id, epoch
			var resp kmsg.Response
			if resp, err = cl.Request(ctx, req); err == nil {
				if code := resp.(*kmsg.BrokerHeartbeatResponse).ErrorCode; code != 0 {
					logf("fake broker %d: heartbeat: %v: registering again", id, kerr.ErrorForCode(code))
					epoch = -1
				}
			}
		}
		cancel()
		if err != nil {
			logf("fake broker %d: controller: %v", id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func register(ctx context.Context, cl *wire.Client, id int32, host string, port uint16) (int64, error) {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID = id
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", host, port
	req.Listeners = append(req.Listeners, l)
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return -1, err
	}
	r := resp.(*kmsg.BrokerRegistrationResponse)
	if r.ErrorCode != 0 {
		return -1, fmt.Errorf("register: %w", kerr.ErrorForCode(r.ErrorCode))
	}
	return r.BrokerEpoch, nil
}

// appendLine appends one line to a file, opened per line so that a test
// reading it sees every line written so far.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	return errors.Join(err, f.Close())
}

// ReadLines returns a file's lines, for tests.
func ReadLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}
