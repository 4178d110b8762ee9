package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbench/kbench/bench"
	"github.com/kbench/kbench/bench/agent"
)

type agentOptions struct {
	bootstrap     string
	commandConfig string
	name          string
	topic         string
	idleExit      time.Duration
	version       string
	stdout        io.Writer
}

func newAgentCmd(stdout, _ io.Writer) *cobra.Command {
	o := &agentOptions{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Generate load on this machine for runs coordinated from elsewhere (--agents)",
		Long: `Run a load agent: it watches a control topic on the cluster under test and runs its share
of any load command or sweep started elsewhere with --agents N (or --agents name1,name2).
Agents need only outbound access to the Kafka cluster: the coordinator (the kbench you run
with --agents) hands out run specs, and agents send back heartbeats, per-interval HDR
histograms and their results, all through the control topic (created on first use).

The coordinator splits producers, consumers and the target rate over the agents, starts them
at a common time and adds their histograms exactly, so the result, hlog and report look like a
local run's plus a per-agent table. End-to-end latency is timed only by the agent whose
producers wrote a record, so every sample uses one clock; the summary says what share of the
consumed records was timed.

An agent runs one share at a time and stops a run whose coordinator went silent. Ctrl-C
stops the agent (a run in progress ends and its result is still sent). Connection and
security properties come from --command-config on each agent and never travel over the
control topic.`,
		Example: `  kbench agent --bootstrap kafka-1:9092 --command-config client.properties
  kbench agent --bootstrap 127.0.0.1:9092 --name a1 &
  kbench agent --bootstrap 127.0.0.1:9092 --name a2 &
  kbench e2e --bootstrap 127.0.0.1:9092 --agents 2 --rate 30000 --duration 20s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.version = cmd.Root().Version
			return runAgent(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bootstrap, "bootstrap", "", "cluster host:port,... (Kafka: bootstrap.servers) holding the control topic; runs load the cluster the coordinator names, which is this one unless it gave --control-bootstrap")
	f.StringVar(&o.commandConfig, "command-config", "", "client.properties file with connection, security and client properties for every client of this agent")
	f.StringVar(&o.name, "name", "", "this agent's name, unique among the agents (default: the host name)")
	f.StringVar(&o.topic, "control-topic", agent.DefaultTopic, "control topic shared with the coordinator")
	f.DurationVar(&o.idleExit, "idle-exit", 0, "exit (successfully) after this long without a run, e.g. 30m for a Kubernetes Job; 0 = serve until stopped")
	return cmd
}

func runAgent(ctx context.Context, o *agentOptions) error {
	props := map[string]string{}
	if o.commandConfig != "" {
		var err error
		if props, err = readPropertiesFile(o.commandConfig); err != nil {
			return err
		}
	}
	bootstrap := cmp.Or(o.bootstrap, props["bootstrap.servers"])
	delete(props, "bootstrap.servers")
	if bootstrap == "" {
		return errors.New("give --bootstrap (or bootstrap.servers in --command-config): the cluster under test, where the control topic lives")
	}
	conn, err := controlConn(bootstrap, props)
	if err != nil {
		return err
	}
	name := o.name
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return fmt.Errorf("--name not given and no host name: %w", err)
		}
	}
	return agent.Serve(ctx, agent.Options{Name: name, Conn: conn, Client: props, Topic: o.topic, Version: o.version, Log: o.stdout, IdleExit: o.idleExit})
}

// controlConn is how kbench reaches the control topic: the cluster at
// bootstrap with the security properties of client.properties.
func controlConn(bootstrap string, props map[string]string) ([]kgo.Opt, error) {
	tg, err := bench.NewExternal(bootstrap)
	if err != nil {
		return nil, err
	}
	return bench.RunConfig{Target: tg, Client: props}.ConnOptions()
}

// agentFlags are --agents and its companions, on every load command and
// on sweep.
type agentFlags struct {
	agents  string
	control string
	topic   string
	wait    time.Duration
}

func (a *agentFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.agents, "agents", "", "spread the load over N kbench agents (or the agents named name1,name2) watching the control topic; producers, consumers and --rate are split among them and their histograms merged exactly")
	f.StringVar(&a.control, "control-bootstrap", "", "with --agents, the cluster holding the control topic the agents watch (default: --bootstrap)")
	f.StringVar(&a.topic, "control-topic", agent.DefaultTopic, "with --agents, the control topic")
	f.DurationVar(&a.wait, "agents-wait", time.Minute, "with --agents, how long to wait for enough idle agents")
}

func (a *agentFlags) set() bool { return a.agents != "" }

// runFunc runs one load run: bench.Run, or a coordinator's Run.
type runFunc = func(ctx context.Context, cfg bench.RunConfig, sink bench.Sink) (*bench.Result, error)

// runner returns how runs are made: locally, or over agents met on the
// control topic at the cluster bootstrap (--control-bootstrap wins). close
// leaves the control topic.
func (a *agentFlags) runner(ctx context.Context, bootstrap string, props map[string]string, log io.Writer) (run runFunc, close func(), err error) {
	if !a.set() {
		return bench.Run, func() {}, nil
	}
	count, names, err := agent.ParseAgents(a.agents)
	if err != nil {
		return nil, nil, err
	}
	bootstrap = cmp.Or(a.control, bootstrap)
	if bootstrap == "" {
		return nil, nil, errors.New("--agents needs the cluster the agents watch: give --bootstrap (the cluster under test) or --control-bootstrap")
	}
	props = maps.Clone(props)
	delete(props, "bootstrap.servers")
	conn, err := controlConn(bootstrap, props)
	if err != nil {
		return nil, nil, err
	}
	c, err := agent.NewCoordinator(ctx, agent.CoordinatorOptions{Conn: conn, Topic: a.topic, Count: count, Names: names, Wait: a.wait, Log: log})
	if err != nil {
		return nil, nil, err
	}
	return c.Run, c.Close, nil
}

// sweepOnAgents runs a sweep's runs on the agents, except audited ones:
// the durability audit must see every record's acknowledgement in one
// process, so those run here, and say so.
func sweepOnAgents(onAgents runFunc, log io.Writer) runFunc {
	return func(ctx context.Context, cfg bench.RunConfig, sink bench.Sink) (*bench.Result, error) {
		if agent.PerRecord(cfg) {
			fmt.Fprintln(log, "agents: this audited run goes on this machine: the durability audit needs every acknowledgement in one process")
			return bench.Run(ctx, cfg, sink)
		}
		return onAgents(ctx, cfg, sink)
	}
}
