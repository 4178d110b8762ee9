package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/internal/units"
)

// clusterDirPrefix names the temporary cluster dirs `kbench broker
// --brokers N` creates; `kbench cluster` finds the newest one by it.
const clusterDirPrefix = "kbench-cluster-"

// runBrokerCluster runs `kbench broker --brokers N`: a supervised cluster of
// broker processes on consecutive ports from --listen, until ctx ends.
func runBrokerCluster(ctx context.Context, o *brokerOptions, passthrough []string) error {
	host, portStr, err := net.SplitHostPort(o.cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", o.cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--brokers %d: cluster brokers bind 127.0.0.1 only; --listen %s is not a loopback address", o.brokers, o.cfg.Listen)
	}
	base, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen %q: port: %w", o.cfg.Listen, err)
	}
	if o.cfg.AdvertisedListener != "" {
		return errors.New("--advertised-listener names one broker; it cannot be used with --brokers")
	}
	dir := o.cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", clusterDirPrefix); err != nil {
			return err
		}
	}
	logger := log.New(o.stderr, "", log.LstdFlags|log.Lmicroseconds)
	c, err := cluster.Start(ctx, cluster.Config{Brokers: o.brokers, BasePort: base, Dir: dir, BrokerArgs: passthrough, Logf: logger.Printf})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "kbench cluster of %d brokers (data dir %s)\n", o.brokers, dir)
	for _, b := range c.Brokers() {
		fmt.Fprintf(o.stdout, "  broker %d listening on %s (pid %d, log %s)\n", b.ID, b.Addr, b.PID, b.Log)
	}
	fmt.Fprintf(o.stdout, "controller on %s\n", c.Controller().Addr())
	fmt.Fprintf(o.stdout, "admin endpoint http://%s (kbench cluster status --dir %s)\n", c.AdminAddr(), dir)
	fmt.Fprintf(o.stdout, "bootstrap %s\n", strings.Join(c.Bootstrap(), ","))
	<-ctx.Done()
	fmt.Fprintln(o.stdout, "shutting down")
	start := time.Now()
	err = c.Close()
	fmt.Fprintf(o.stdout, "stopped in %s\n", time.Since(start).Round(time.Millisecond))
	return err
}

// brokerPassthrough returns the broker flags the user set, for the child
// brokers, minus those the supervisor sets per broker.
func brokerPassthrough(cmd *cobra.Command) []string {
	skip := map[string]bool{"brokers": true, "listen": true, "data-dir": true, "node-id": true, "controller": true, "advertised-listener": true}
	var args []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if skip[f.Name] {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}

type clusterOptions struct {
	admin  string
	dir    string
	json   bool
	stdout io.Writer
}

func newClusterCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &clusterOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect a running kbench cluster and inject faults into its brokers",
		Long: `Talk to the admin endpoint of a cluster started with ` + "`kbench broker --brokers N`" + `:
show brokers, leaders and ISRs, or inject faults into one broker — kill -9, graceful
stop, pause (SIGSTOP) and resume, restart on the same data dir, a delay or bandwidth cap
on its replication fetches, dropped produce responses.

Without --admin or --dir it uses the newest cluster in the temporary directory.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.admin, "admin", "", "admin endpoint host:port (default: read from the cluster dir)")
	pf.StringVar(&o.dir, "dir", "", "cluster data dir, as printed by kbench broker --brokers N (default: the newest "+clusterDirPrefix+"* in the temporary directory)")

	status := &cobra.Command{
		Use:   "status",
		Short: "Show brokers, their process states and every partition's leader and ISR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runClusterStatus(cmd.Context(), o)
		},
	}
	status.Flags().BoolVar(&o.json, "json", false, "print the admin endpoint's JSON")
	cmd.AddCommand(status)

	simple := []struct{ name, short string }{
		{"kill", "SIGKILL a broker (a crash: no flush, no controlled shutdown)"},
		{"stop", "Stop a broker gracefully (SIGTERM; SIGKILL if it hangs)"},
		{"pause", "SIGSTOP a broker: it keeps its sockets but answers nothing"},
		{"resume", "SIGCONT a paused broker"},
		{"restart", "Restart a broker on the same data dir and port (killing it first if it runs)"},
	}
	for _, s := range simple {
		cmd.AddCommand(&cobra.Command{
			Use:   s.name + " BROKER",
			Short: s.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runClusterAction(cmd.Context(), o, args[0], s.name, nil)
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "delay BROKER DURATION",
		Short:   "Add DURATION before each replication fetch the broker makes as a follower (0 clears)",
		Example: "  kbench cluster delay 3 20ms",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[1])
			if args[1] == "0" {
				d, err = 0, nil
			}
			if err != nil || d < 0 {
				return fmt.Errorf("delay %q: want a duration such as 20ms, or 0", args[1])
			}
			return runClusterAction(cmd.Context(), o, args[0], "delay", url.Values{"d": {d.String()}})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "bandwidth BROKER BYTES_PER_SECOND",
		Short:   "Cap the broker's replication fetch traffic, e.g. 1MB or 512KiB per second (0 removes the cap)",
		Example: "  kbench cluster bandwidth 2 1MB",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			bps, err := units.ParseBytes(strings.TrimSuffix(args[1], "/s"))
			if err != nil {
				return fmt.Errorf("bandwidth: %w", err)
			}
			return runClusterAction(cmd.Context(), o, args[0], "bandwidth", url.Values{"bps": {strconv.FormatInt(bps, 10)}})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "drop-produce BROKER FRACTION",
		Short:   "Drop FRACTION (0..1) of the broker's produce responses after appending, so clients retry",
		Example: "  kbench cluster drop-produce 1 0.1",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := strconv.ParseFloat(args[1], 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("drop-produce %q: want a fraction between 0 and 1", args[1])
			}
			return runClusterAction(cmd.Context(), o, args[0], "drop-produce", url.Values{"fraction": {args[1]}})
		},
	})
	return cmd
}

// adminClient finds the admin endpoint: --admin, else DIR/admin.addr, else
// the newest cluster dir in the temporary directory.
func (o *clusterOptions) adminClient() (*cluster.AdminClient, error) {
	if o.admin != "" {
		return &cluster.AdminClient{Addr: o.admin}, nil
	}
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = newestClusterDir(os.TempDir()); err != nil {
			return nil, err
		}
	}
	addr, err := cluster.ReadAdminAddr(dir)
	if err != nil {
		return nil, err
	}
	return &cluster.AdminClient{Addr: addr}, nil
}

// newestClusterDir returns the most recently started cluster under root (a
// running cluster has an admin.addr; Close removes it).
func newestClusterDir(root string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(root, clusterDirPrefix+"*", cluster.AdminAddrFile))
	if err != nil {
		return "", err
	}
	var best string
	var bestTime time.Time
	for _, m := range matches {
		st, err := os.Stat(m)
		if err == nil && st.ModTime().After(bestTime) {
			best, bestTime = filepath.Dir(m), st.ModTime()
		}
	}
	if best == "" {
		return "", fmt.Errorf("no running cluster found in %s: start one with `kbench broker --brokers 3`, or pass --admin or --dir", root)
	}
	return best, nil
}

func runClusterStatus(ctx context.Context, o *clusterOptions) error {
	ac, err := o.adminClient()
	if err != nil {
		return err
	}
	st, err := ac.Status(ctx)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(o.stdout, "cluster %s (controller %s, admin %s)\n\n", st.Dir, st.Controller, st.Admin)
	tw := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tADDRESS\tSTATE\tPID\tCONTROLLER\tRESTARTS\tFAULTS")
	for _, b := range st.Brokers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\n", b.ID, b.Addr, b.State, b.PID, controllerView(b), b.Restarts, faults(b))
	}
	tw.Flush()
	if len(st.Topics) == 0 {
		fmt.Fprintln(o.stdout, "\nno topics")
		return nil
	}
	fmt.Fprintln(o.stdout)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tOFFLINE")
	for _, t := range st.Topics {
		for _, p := range t.Partitions {
			leader := strconv.Itoa(int(p.Leader))
			if p.Leader < 0 {
				leader = "none"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\n", t.Name, p.Partition, leader, p.LeaderEpoch, ids(p.Replicas), ids(p.ISR), ids(p.Offline))
		}
	}
	return tw.Flush()
}

func runClusterAction(ctx context.Context, o *clusterOptions, idArg, action string, params url.Values) error {
	id, err := strconv.ParseInt(idArg, 10, 32)
	if err != nil {
		return fmt.Errorf("broker id %q: want a number", idArg)
	}
	ac, err := o.adminClient()
	if err != nil {
		return err
	}
	b, err := ac.Broker(ctx, int32(id), action, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "broker %d: %s (pid %d), faults: %s\n", b.ID, b.State, b.PID, faults(b))
	return nil
}

func controllerView(b cluster.BrokerInfo) string {
	switch {
	case !b.Registered:
		return "unregistered"
	case b.Fenced:
		return "fenced"
	}
	return "live"
}

func faults(b cluster.BrokerInfo) string {
	var f []string
	if b.DelayNs > 0 {
		f = append(f, "delay="+b.DelayNs.String())
	}
	if b.Bandwidth > 0 {
		f = append(f, "bandwidth="+units.FormatBytes(b.Bandwidth)+"/s")
	}
	if b.DropProduce > 0 {
		f = append(f, "drop-produce="+strconv.FormatFloat(b.DropProduce, 'g', -1, 64))
	}
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, " ")
}

func ids(s []int32) string {
	if len(s) == 0 {
		return "-"
	}
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(int(v))
	}
	return strings.Join(parts, ",")
}
