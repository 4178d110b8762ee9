package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Mode is what a run does.
type Mode string

// The run modes.
const (
	ModeProduce Mode = "produce"
	ModeConsume Mode = "consume"
	ModeE2E     Mode = "e2e"
)

// DefaultPartitions is the partition count of topics kbench creates when
// TopicConfig.Partitions is 0.
const DefaultPartitions = 6

// TopicConfig says which topic a run uses and how to create it.
type TopicConfig struct {
	Name string `json:"name"`
	// Partitions must match an existing topic's count; 0 accepts any and
	// creates DefaultPartitions.
	Partitions int32 `json:"partitions"`
	// ReplicationFactor must match an existing topic; 0 accepts any and
	// creates with the broker default.
	ReplicationFactor int16 `json:"replication_factor"`
	// Configs are topic configs (retention.ms, min.insync.replicas, ...)
	// used on creation; an existing topic must already have these values.
	Configs map[string]string `json:"configs,omitempty"`
	// Recreate deletes the topic first if it exists.
	Recreate bool `json:"recreate"`
}

// Hooks let other stages (the durability audit) see every record. They run
// on client goroutines and must be fast and concurrency-safe.
type Hooks struct {
	// BeforeProduce may add headers (and set fields the client fills in
	// later, such as Partition) but must leave Context alone: it is how the
	// acknowledgement finds the record's measurements. producer is the
	// producer index, seq its record sequence number.
	BeforeProduce func(producer int, seq uint64, r *kgo.Record)
	// OnAck sees every produce outcome (err nil on success).
	OnAck func(producer int, seq uint64, r *kgo.Record, err error)
	// OnConsume sees every consumed record.
	OnConsume func(r *kgo.Record)
	// OnStart is called once on the run's goroutine when the load starts,
	// before the first record; the warmup ends Warmup after start. Fault
	// schedules count from there.
	OnStart func(start time.Time)
	// OnLoadEnd is called once on the run's goroutine when sending has
	// stopped, before the run waits for outstanding acknowledgements; it
	// must not block (a fault runner starts healing here, so records held
	// by a fault can still complete).
	OnLoadEnd func()
	// BeforeDrain, if set, is called once on the run's goroutine when an
	// e2e run's producers have flushed, before its consumers drain: an
	// agent's run waits there until every agent's producers have flushed,
	// so its consumers drain records written by all of them. It must
	// return by the time ctx ends or the run's DrainTimeout has passed.
	BeforeDrain func(ctx context.Context)
}

// RunConfig is everything one run needs. The zero value of most fields
// means a documented default (see withDefaults).
type RunConfig struct {
	Mode Mode `json:"mode"`
	// Target supplies the bootstrap addresses; the caller owns (closes) it.
	Target Target `json:"-"`
	// Client holds connection and security properties (client.properties)
	// every client uses; Producer and Consumer add role properties and win
	// over Client on conflicts.
	Client   map[string]string `json:"client_props,omitempty"`
	Producer map[string]string `json:"producer_props,omitempty"`
	Consumer map[string]string `json:"consumer_props,omitempty"`
	Topic    TopicConfig       `json:"topic"`
	Workload Workload          `json:"workload"`
	// Producers and Consumers are client counts (default 1 each where the
	// mode uses them). Consumers without group.id get partitions assigned
	// round robin.
	Producers int `json:"producers"`
	Consumers int `json:"consumers"`
	// Rate is the total target in records/s over all producers; 0 = as fast as possible.
	Rate float64 `json:"rate"`
	// Warmup runs before Duration; nothing sent (or, when consuming only,
	// consumed) during it is measured.
	Warmup   time.Duration `json:"-"`
	Duration time.Duration `json:"-"`
	// NumRecords stops producing (or consuming) after this many records in
	// total, warmup included; 0 = no limit.
	NumRecords int64 `json:"num_records"`
	// Prefill produces this many records as fast as possible before a
	// consume run starts, so there is something to read.
	Prefill int64 `json:"prefill"`
	// Backlog, in bytes, makes an e2e run a backlog-and-drain run: consumers
	// wait until this much is acknowledged and unconsumed, then drain it
	// while producers keep their rate (see backlog.go); 0 = none.
	Backlog int64 `json:"backlog,omitempty"`
	// DrainRatio is the share of the built backlog the drain must consume
	// (0 < ratio <= 1, default 1).
	DrainRatio float64 `json:"drain_ratio,omitempty"`
	// Interval between snapshots sent to the sink (default 5 s).
	Interval time.Duration `json:"-"`
	// DrainTimeout bounds how long an e2e run waits for consumers to catch
	// up after producing stops (default 10 s).
	DrainTimeout time.Duration `json:"-"`
	// Version is the kbench version recorded in the manifest.
	Version string `json:"-"`
	// Dial, if set, replaces how clients open broker connections (proxies,
	// fault injection, tests). franz-go refuses it together with TLS, so it
	// cannot be used with the SSL security protocols.
	Dial  func(ctx context.Context, network, host string) (net.Conn, error) `json:"-"`
	Hooks *Hooks                                                            `json:"-"`
	// Share, when set, makes this run one agent's part of a run spread
	// over several load machines (share.go).
	Share *Share `json:"share,omitempty"`
}

// runConfigJSON writes durations as Go duration strings ("10s").
type runConfigJSON struct {
	*runConfigAlias
	Warmup       string `json:"warmup"`
	Duration     string `json:"duration"`
	Interval     string `json:"interval"`
	DrainTimeout string `json:"drain_timeout"`
}

type runConfigAlias RunConfig

// MarshalJSON writes the config with secrets redacted and readable durations.
func (c RunConfig) MarshalJSON() ([]byte, error) {
	r := c.Redacted()
	return json.Marshal(runConfigJSON{
		runConfigAlias: (*runConfigAlias)(&r),
		Warmup:         r.Warmup.String(),
		Duration:       r.Duration.String(),
		Interval:       r.Interval.String(),
		DrainTimeout:   r.DrainTimeout.String(),
	})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *RunConfig) UnmarshalJSON(b []byte) error {
	aux := runConfigJSON{runConfigAlias: (*runConfigAlias)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{aux.Warmup, &c.Warmup}, {aux.Duration, &c.Duration}, {aux.Interval, &c.Interval}, {aux.DrainTimeout, &c.DrainTimeout}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("run config: %w", err)
		}
		*d.dst = v
	}
	return nil
}

// secretProps are never written to results.
func isSecretProp(k string) bool {
	return k == "sasl.password" || k == "sasl.jaas.config" || strings.HasSuffix(k, ".password")
}

// Redacted returns a copy whose property maps hide secrets.
func (c RunConfig) Redacted() RunConfig {
	red := func(m map[string]string) map[string]string {
		if m == nil {
			return nil
		}
		out := maps.Clone(m)
		for k := range out {
			if isSecretProp(k) {
				out[k] = "[redacted]"
			}
		}
		return out
	}
	c.Client, c.Producer, c.Consumer = red(c.Client), red(c.Producer), red(c.Consumer)
	return c
}

// withDefaults fills the documented defaults.
func (c RunConfig) withDefaults() RunConfig {
	if c.Topic.Name == "" {
		c.Topic.Name = "kbench"
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Consumers == 0 {
		c.Consumers = 1
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Backlog > 0 && c.DrainRatio == 0 {
		c.DrainRatio = 1
	}
	if c.Workload.RecordSize == "" {
		c.Workload.RecordSize = "1024"
	}
	return c
}

// prepared is a validated config turned into what the run executes.
type prepared struct {
	cfg          RunConfig
	work         *parsedWorkload
	admin        *clientSettings
	producer     *clientSettings
	consumer     *clientSettings
	producerOpts []kgo.Opt
	consumerOpts []kgo.Opt
	adminOpts    []kgo.Opt
}

func merged(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// Validate reports the first problem with c, before anything connects.
func (c RunConfig) Validate() error {
	_, err := c.withDefaults().prepare()
	return err
}

func (c RunConfig) prepare() (*prepared, error) {
	switch c.Mode {
	case ModeProduce, ModeConsume, ModeE2E:
	default:
		return nil, fmt.Errorf("mode %q: want produce, consume or e2e", c.Mode)
	}
	var errs []error
	if c.Target == nil {
		errs = append(errs, errors.New("no target: give --bootstrap or use the embedded broker"))
	}
	if c.Producers < 1 || c.Consumers < 1 {
		errs = append(errs, fmt.Errorf("producers %d, consumers %d: want at least 1", c.Producers, c.Consumers))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v: want >= 0 records/s", c.Rate))
	}
	if c.Duration < 0 || c.Warmup < 0 || c.NumRecords < 0 || c.Prefill < 0 {
		errs = append(errs, errors.New("duration, warmup, num-records and prefill must not be negative"))
	}
	if c.Duration == 0 && c.NumRecords == 0 {
		errs = append(errs, errors.New("give a duration or a number of records, or the run never ends"))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval %v: want at least 100ms", c.Interval))
	}
	if c.Topic.Partitions < 0 || c.Topic.ReplicationFactor < 0 {
		errs = append(errs, errors.New("partitions and replication factor must not be negative"))
	}
	errs = append(errs, c.validateBacklog()...)
	if c.Share != nil {
		if err := c.Share.validate(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := &prepared{cfg: c}
	var err error
	if p.work, err = c.Workload.parse(); err != nil {
		return nil, err
	}
	// Client properties may hold producer or consumer settings too (as a
	// client.properties file often does); each role takes its own share.
	all, err := parseSettings(RoleCommon, c.Client)
	if err != nil {
		return nil, err
	}
	p.admin = all
	if p.adminOpts, err = all.connOptions(); err != nil {
		return nil, err
	}
	if p.producer, err = parseSettings(RoleProducer, merged(forRole(c.Client, RoleProducer), c.Producer)); err != nil {
		return nil, err
	}
	if p.consumer, err = parseSettings(RoleConsumer, merged(forRole(c.Client, RoleConsumer), c.Consumer)); err != nil {
		return nil, err
	}
	if p.producerOpts, err = p.producer.options(RoleProducer); err != nil {
		return nil, err
	}
	if p.consumerOpts, err = p.consumer.options(RoleConsumer); err != nil {
		return nil, err
	}
	// franz-go validates option combinations when a client is built (it
	// does not connect yet), so surface those errors now.
	for _, opts := range [][]kgo.Opt{p.producerOpts, p.consumerOpts} {
		cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
		if err != nil {
			return nil, fmt.Errorf("client settings: %w", err)
		}
		cl.Close()
	}
	return p, nil
}

// ConnOptions returns the franz-go options every client of this run
// shares: connection and security properties, seed brokers and Dial. Later
// stages that read the topic (the durability audit) start from them.
func (c RunConfig) ConnOptions() ([]kgo.Opt, error) {
	if c.Target == nil {
		return nil, errors.New("no target")
	}
	s, err := parseSettings(RoleCommon, c.Client)
	if err != nil {
		return nil, err
	}
	opts, err := s.connOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.SeedBrokers(c.Target.Bootstrap()...))
	if c.Dial != nil {
		opts = append(opts, kgo.Dialer(c.Dial))
	}
	return opts, nil
}

// EffectiveProducer returns the producer settings this config runs with,
// defaults included (acks, enable.idempotence, ...), as Result does.
func (c RunConfig) EffectiveProducer() (map[string]string, error) {
	s, err := parseSettings(RoleProducer, merged(forRole(c.Client, RoleProducer), c.Producer))
	if err != nil {
		return nil, err
	}
	return s.effectiveProducer(), nil
}
