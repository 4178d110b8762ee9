package cluster

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	kbroker "github.com/kbench/kbench/broker"
)

// The child protocol: how a supervisor runs a kbench server as a process
// and talks to it. Both sides live in this file so they cannot drift apart.
//
//   - argv: "broker --node-id N --listen ADDR --data-dir DIR --controller ADDR"
//     then the cluster's extra broker flags (brokerArgs).
//   - stdout: once the server accepts connections it prints a line
//     "... listening on ADDR ..." (ListeningLine); a broker serving metrics
//     then prints "metrics on URL".
//   - stdin: a cluster broker reads fault commands, one a line: "delay 20ms",
//     "bandwidth 1048576", "drop-produce 0.1" (faultCommand, applyFaultCommands).
const (
	listeningMarker = " listening on "
	metricsMarker   = "metrics on "
)

// brokerArgs is the command line of cluster broker id.
func brokerArgs(id int32, port int, dataDir, controller string, extra []string) []string {
	return append([]string{"broker",
		"--node-id", strconv.Itoa(int(id)),
		"--listen", "127.0.0.1:" + strconv.Itoa(port),
		"--data-dir", dataDir,
		"--controller", controller,
	}, extra...)
}

// ListeningLine is the line a server prints once it accepts connections:
// who names it ("kbench broker 1", "selfbench ceiling"), detail may be empty.
func ListeningLine(who, addr, detail string) string {
	line := who + listeningMarker + addr
	if detail != "" {
		line += " (" + detail + ")"
	}
	return line
}

// listeningAddr returns the address of a ListeningLine.
func listeningAddr(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, listeningMarker)
	if f := strings.Fields(rest); ok && len(f) > 0 {
		return f[0], true
	}
	return "", false
}

// metricsURL returns the URL of a "metrics on URL" line.
func metricsURL(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, metricsMarker)
	if f := strings.Fields(rest); ok && len(f) > 0 {
		return f[0], true
	}
	return "", false
}

// faultCommand is one stdin line of the protocol.
func faultCommand(name, value string) string { return name + " " + value + "\n" }

// RunBroker runs one broker until ctx ends: the child side of the protocol,
// and the body of `kbench broker`. It prints the listening line (and the
// metrics line) on stdout, then calls started for the caller's own lines;
// a cluster broker (cfg.Controller set) applies fault commands read from
// stdin, logging them with logf. cfg.DataDir must be set.
func RunBroker(ctx context.Context, cfg kbroker.Config, stdin io.Reader, stdout io.Writer, logf func(string, ...any), started func(*kbroker.Broker)) error {
	b, err := kbroker.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ListeningLine("kbench broker "+strconv.Itoa(int(cfg.NodeID)), b.Addr(), "data dir "+cfg.DataDir))
	if a := b.MetricsAddr(); a != "" {
		fmt.Fprintf(stdout, "%shttp://%s/metrics\n", metricsMarker, a)
	}
	if started != nil {
		started(b)
	}
	if cfg.Controller != "" && stdin != nil {
		go applyFaultCommands(stdin, b, logf)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down")
	start := time.Now()
	err = b.Close()
	fmt.Fprintf(stdout, "stopped in %s\n", time.Since(start).Round(time.Millisecond))
	return err
}

// applyFaultCommands applies the supervisor's fault commands until r ends.
func applyFaultCommands(r io.Reader, b *kbroker.Broker, logf func(string, ...any)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			logf("fault command %q: want \"<command> <value>\"", sc.Text())
			continue
		}
		switch fields[0] {
		case "delay":
			d, err := time.ParseDuration(fields[1])
			if err != nil || d < 0 {
				logf("fault command %q: bad duration", sc.Text())
				continue
			}
			b.SetReplicationDelay(d)
		case "bandwidth":
			bps, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || bps < 0 {
				logf("fault command %q: bad bytes per second", sc.Text())
				continue
			}
			b.SetReplicationBandwidth(bps)
		case "drop-produce":
			f, err := strconv.ParseFloat(fields[1], 64)
			if err != nil || f < 0 || f > 1 {
				logf("fault command %q: fraction must be 0..1", sc.Text())
				continue
			}
			b.SetDropProduce(f)
		default:
			logf("unknown fault command %q (delay, bandwidth, drop-produce)", sc.Text())
			continue
		}
		logf("fault applied: %s", sc.Text())
	}
}

// ChildMain runs a broker from the command lines supervisors write (the
// protocol's flags, plus --auto-create-topics and --verbose), for test
// binaries that stand in for kbench: their TestMain calls it when
// re-executed as a broker. `kbench broker` itself parses its full flag set
// and calls RunBroker.
func ChildMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "broker" {
		fmt.Fprintf(stderr, "cluster child: want \"broker --node-id ...\", got %q\n", args)
		return 2
	}
	cfg := kbroker.DefaultConfig()
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.Int("node-id", int(cfg.NodeID), "broker id")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory")
	fs.StringVar(&cfg.Controller, "controller", "", "controller address")
	fs.BoolVar(&cfg.AutoCreateTopics, "auto-create-topics", cfg.AutoCreateTopics, "create unknown topics on metadata requests")
	verbose := fs.Bool("verbose", false, "log connections, topic changes and retention")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if cfg.DataDir == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cluster child: --data-dir is required and no arguments are allowed (got %q)\n", fs.Args())
		return 2
	}
	cfg.NodeID = int32(*id)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	if *verbose {
		cfg.Logf = logger.Printf
	}
	if err := RunBroker(ctx, cfg, stdin, stdout, logger.Printf, nil); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
