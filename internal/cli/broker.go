package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kbench/kbench/broker"
	"github.com/kbench/kbench/broker/cluster"
	"github.com/kbench/kbench/broker/storage"
)

type brokerOptions struct {
	cfg     broker.Config
	stdin   io.Reader
	flush   string
	verbose bool
	pprof   string
	brokers int
	sec     securityOptions
	stdout  io.Writer
	stderr  io.Writer
}

func newBrokerCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &brokerOptions{cfg: broker.DefaultConfig(), stdout: stdout, stderr: stderr, stdin: os.Stdin}
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run kbench's Kafka-compatible broker",
		Long: `Run kbench's Kafka-wire-compatible broker: on-disk segment logs, fetch served with
sendfile. Real Kafka clients (franz-go, librdkafka/kcat, kafka-python) can produce to and
consume from it. It binds loopback unless told otherwise. SIGINT/SIGTERM shut it down
cleanly; a second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ran, err := runSecurityTool(o, cmd.InOrStdin()); ran {
				return err
			}
			if err := o.parseFlush(); err != nil {
				return err
			}
			if err := o.checkCoordinatorFlags(); err != nil {
				return err
			}
			if o.brokers > 1 {
				if err := checkClusterSecurity(o); err != nil {
					return err
				}
				if o.pprof != "" {
					if _, err := pprofAddress(o.pprof, int32(o.brokers), true); err != nil {
						return err
					}
				}
				return runBrokerCluster(cmd.Context(), o, brokerPassthrough(cmd))
			}
			return runBroker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	d := broker.DefaultConfig()
	f.StringVar(&o.cfg.Listen, "listen", d.Listen, "address to listen on (listeners)")
	f.StringVar(&o.cfg.AdvertisedListener, "advertised-listener", "", "host:port advertised to clients (advertised.listeners); default: the bound address")
	f.StringVar(&o.cfg.DataDir, "data-dir", "", "data directory (log.dirs); default: a fresh temporary directory, printed at start")
	f.Int32Var(&o.cfg.NodeID, "node-id", d.NodeID, "broker id (node.id)")
	f.BoolVar(&o.cfg.AutoCreateTopics, "auto-create-topics", d.AutoCreateTopics, "create unknown topics on metadata requests (auto.create.topics.enable)")
	f.Int32Var(&o.cfg.DefaultPartitions, "default-partitions", d.DefaultPartitions, "partitions of auto-created topics (num.partitions)")
	f.Int64Var(&o.cfg.Log.SegmentBytes, "log-segment-bytes", d.Log.SegmentBytes, "segment size before a roll (log.segment.bytes)")
	f.Int64Var(&o.cfg.Log.SegmentMs, "log-segment-ms", d.Log.SegmentMs, "segment age before a roll (log.roll.ms)")
	f.Int64Var(&o.cfg.Log.RetentionMs, "log-retention-ms", d.Log.RetentionMs, "delete segments older than this, -1 = forever (log.retention.ms)")
	f.Int64Var(&o.cfg.Log.RetentionBytes, "log-retention-bytes", d.Log.RetentionBytes, "per-partition size cap, -1 = none (log.retention.bytes)")
	f.DurationVar(&o.cfg.RetentionCheckInterval, "log-retention-check-interval", d.RetentionCheckInterval, "how often retention runs (log.retention.check.interval.ms)")
	f.StringVar(&o.flush, "log-flush", "never", "fsync policy: never (Kafka's default, relies on replication), interval:MS, or batch (log.flush.interval.*)")
	f.Int32Var(&o.cfg.MessageMaxBytes, "message-max-bytes", d.MessageMaxBytes, "largest record batch accepted (message.max.bytes)")
	f.Int32Var(&o.cfg.MaxRequestBytes, "socket-request-max-bytes", d.MaxRequestBytes, "largest request accepted; larger frames close the connection (socket.request.max.bytes)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log connections, topic changes and retention")
	f.IntVar(&o.brokers, "brokers", 1, "run a cluster of N broker processes on consecutive ports from --listen, supervised by this one (see kbench cluster)")
	f.StringVar(&o.cfg.Controller, "controller", "", "cluster controller address: run as one broker of a cluster (set by the cluster supervisor; fault commands are read from stdin)")
	f.DurationVar(&o.cfg.ReplicaLagTimeMax, "replica-lag-time-max", d.ReplicaLagTimeMax, "a follower not caught up for this long leaves the ISR (replica.lag.time.max.ms)")
	f.DurationVar(&o.cfg.ReplicaFetchBackoff, "replica-fetch-backoff", d.ReplicaFetchBackoff, "how long a follower waits before fetching again after an error or when the leader refused every partition (replica.fetch.backoff.ms)")
	f.DurationVar(&o.cfg.HeartbeatInterval, "heartbeat-interval", d.HeartbeatInterval, "broker heartbeat interval to the controller (broker.heartbeat.interval.ms)")
	f.Int32Var(&o.cfg.OffsetsTopicPartitions, "offsets-topic-partitions", d.OffsetsTopicPartitions, "partitions of __consumer_offsets when it is created; groups spread over their leaders (offsets.topic.num.partitions)")
	f.Int32Var(&o.cfg.TxnStatePartitions, "txn-state-partitions", d.TxnStatePartitions, "partitions of __transaction_state when it is created (transaction.state.log.num.partitions)")
	f.DurationVar(&o.cfg.LogCleanerInterval, "log-cleaner-interval", d.LogCleanerInterval, "how often compacted topics are cleaned (log.cleaner.backoff.ms)")
	f.StringVar(&o.pprof, "pprof", "", "serve Go profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; with --brokers N, broker i uses port+i-1")
	addSecurityFlags(f, o)
	return cmd
}

// checkCoordinatorFlags refuses internal-topic settings that cannot work.
func (o *brokerOptions) checkCoordinatorFlags() error {
	for _, f := range []struct {
		name string
		n    int32
	}{{"--offsets-topic-partitions", o.cfg.OffsetsTopicPartitions}, {"--txn-state-partitions", o.cfg.TxnStatePartitions}} {
		if f.n < 1 || f.n > 1000 {
			return fmt.Errorf("%s %d: must be 1..1000", f.name, f.n)
		}
	}
	if o.cfg.LogCleanerInterval <= 0 {
		return fmt.Errorf("--log-cleaner-interval %s: must be positive, e.g. 15s", o.cfg.LogCleanerInterval)
	}
	return nil
}

func (o *brokerOptions) parseFlush() error {
	switch {
	case o.flush == "never":
		o.cfg.Log.Flush = storage.FlushNever
	case o.flush == "batch":
		o.cfg.Log.Flush = storage.FlushEveryBatch
	case strings.HasPrefix(o.flush, "interval:"):
		ms, err := strconv.ParseInt(strings.TrimPrefix(o.flush, "interval:"), 10, 64)
		if err != nil || ms < 1 {
			return fmt.Errorf("--log-flush %q: interval must be a positive number of milliseconds, e.g. interval:1000", o.flush)
		}
		o.cfg.Log.Flush = storage.FlushInterval
		o.cfg.Log.FlushIntervalMs = ms
	default:
		return fmt.Errorf("--log-flush %q: valid values are never, interval:MS, batch", o.flush)
	}
	return nil
}

func runBroker(ctx context.Context, o *brokerOptions) error {
	if o.cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "kbench-broker-")
		if err != nil {
			return err
		}
		o.cfg.DataDir = dir
	}
	logger := log.New(o.stderr, "", log.LstdFlags|log.Lmicroseconds)
	if o.verbose {
		o.cfg.Logf = logger.Printf
	}
	var pprofAddr string
	if o.pprof != "" {
		addr, err := servePprof(o.pprof, o.cfg.NodeID, o.cfg.Controller != "")
		if err != nil {
			return err
		}
		pprofAddr = addr
	}
	return cluster.RunBroker(ctx, o.cfg, o.stdin, o.stdout, logger.Printf, func(*broker.Broker) {
		if w := broker.ExposureWarning(o.cfg); w != "" {
			fmt.Fprintln(o.stderr, w)
		}
		if pprofAddr != "" {
			fmt.Fprintf(o.stdout, "profiles on http://%s/debug/pprof/\n", pprofAddr)
		}
	})
}
