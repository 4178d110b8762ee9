package bench

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Role says which client a Kafka property configures.
type Role uint8

const (
	// RoleProducer marks producer properties.
	RoleProducer Role = 1 << iota
	// RoleConsumer marks consumer properties.
	RoleConsumer
	// RoleCommon marks connection and security properties every client takes.
	RoleCommon = RoleProducer | RoleConsumer
)

// Property documents one supported Kafka property.
type Property struct {
	Name    string
	Role    Role
	Default string // the Apache Kafka default kbench applies when unset ("" = none)
	Doc     string
}

// ErrUnknownProperty is wrapped by every error about a property kbench does
// not map; the message names the property and lists the supported ones.
var ErrUnknownProperty = errors.New("unsupported property")

// clientSettings is the typed form of a client's properties; unset fields
// take Apache Kafka's defaults (not franz-go's), so a kbench run compares
// with a Java client left at its defaults.
type clientSettings struct {
	explicit map[string]string

	clientID        string
	securityProto   string
	saslMechanism   string
	saslUser        string
	saslPass        string
	jaasModule      string
	caFile          string
	certFile        string
	keyFile         string
	keystoreFile    string
	verifyHostname  bool
	metadataMaxAge  time.Duration
	connIdle        time.Duration
	retryBackoff    time.Duration
	dialTimeout     time.Duration
	requestTimeout  time.Duration
	deliveryTimeout time.Duration
	retries         int64
	maxRequestSize  int32

	acks            string
	linger          time.Duration
	batchSize       int32
	compression     string
	levels          map[string]int
	idempotence     bool
	maxInFlight     int
	bufferMemory    int64
	partitioner     string
	ignoreKeys      bool
	adaptive        bool
	groupID         string
	instanceID      string
	offsetReset     string
	autoCommit      bool
	autoCommitEvery time.Duration
	fetchMinBytes   int32
	fetchMaxBytes   int32
	fetchMaxWait    time.Duration
	partFetchBytes  int32
	maxPollRecords  int // 0: every record the client holds
	isolation       string
	sessionTimeout  time.Duration
	heartbeat       time.Duration
	maxPollInterval time.Duration
	assignors       []string
	groupProtocol   string
	remoteAssignor  string
	rack            string
	checkCRCs       bool
}

func defaultSettings() *clientSettings {
	return &clientSettings{
		explicit:        map[string]string{},
		securityProto:   "PLAINTEXT",
		verifyHostname:  true,
		requestTimeout:  30 * time.Second,
		deliveryTimeout: 2 * time.Minute,
		retries:         math.MaxInt32,
		maxRequestSize:  1 << 20,
		acks:            "all",
		linger:          5 * time.Millisecond,
		batchSize:       16384,
		compression:     "none",
		levels:          map[string]int{},
		idempotence:     true,
		maxInFlight:     5,
		bufferMemory:    32 << 20,
		adaptive:        true,
		offsetReset:     "latest",
		autoCommit:      true,
		autoCommitEvery: 5 * time.Second,
		fetchMinBytes:   1,
		fetchMaxBytes:   50 << 20,
		fetchMaxWait:    500 * time.Millisecond,
		partFetchBytes:  1 << 20,
		isolation:       "read_uncommitted",
		sessionTimeout:  45 * time.Second,
		heartbeat:       3 * time.Second,
		maxPollInterval: 5 * time.Minute,
		groupProtocol:   "classic",
		remoteAssignor:  "uniform",
		checkCRCs:       true,
	}
}

type propSpec struct {
	Property
	set func(s *clientSettings, v string) error
}

// partitionerNames maps partitioner.class values (Java class names and
// kbench's short names) to a canonical short name.
func partitionerNames() map[string]string {
	return map[string]string{
		"org.apache.kafka.clients.producer.RoundRobinPartitioner":        "round-robin",
		"org.apache.kafka.clients.producer.UniformStickyPartitioner":     "uniform-sticky",
		"org.apache.kafka.clients.producer.internals.DefaultPartitioner": "sticky-key",
		"org.apache.kafka.clients.producer.internals.BuiltInPartitioner": "default",
		"round-robin": "round-robin", "uniform-sticky": "uniform-sticky",
		"sticky-key": "sticky-key", "default": "default", "least-backup": "least-backup",
	}
}

func assignorNames() map[string]string {
	return map[string]string{
		"org.apache.kafka.clients.consumer.RangeAssignor":             "range",
		"org.apache.kafka.clients.consumer.RoundRobinAssignor":        "roundrobin",
		"org.apache.kafka.clients.consumer.StickyAssignor":            "sticky",
		"org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
		"range": "range", "roundrobin": "roundrobin", "sticky": "sticky", "cooperative-sticky": "cooperative-sticky",
	}
}

// propSpecs is the whole mapping, one entry per supported property.
func propSpecs() []propSpec {
	return []propSpec{
		{Property{"client.id", RoleCommon, "", "client id sent to the broker"}, func(s *clientSettings, v string) error {
			s.clientID = v
			return nil
		}},
		{Property{"security.protocol", RoleCommon, "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"}, func(s *clientSettings, v string) error {
			v = strings.ToUpper(v)
			return oneOf(&s.securityProto, v, "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
		}},
		{Property{"sasl.mechanism", RoleCommon, "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}, func(s *clientSettings, v string) error {
			return oneOf(&s.saslMechanism, strings.ToUpper(v), "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
		}},
		{Property{"sasl.username", RoleCommon, "", "SASL user (librdkafka name)"}, func(s *clientSettings, v string) error {
			s.saslUser = v
			return nil
		}},
		{Property{"sasl.password", RoleCommon, "", "SASL password (librdkafka name)"}, func(s *clientSettings, v string) error {
			s.saslPass = v
			return nil
		}},
		{Property{"sasl.jaas.config", RoleCommon, "", `Java form: ...PlainLoginModule|ScramLoginModule required username="u" password="p";`}, parseJAAS},
		{Property{"ssl.ca.location", RoleCommon, "system roots", "PEM file of CA certificates to trust"}, func(s *clientSettings, v string) error {
			s.caFile = v
			return nil
		}},
		{Property{"ssl.truststore.location", RoleCommon, "", "PEM trust store (needs ssl.truststore.type=PEM)"}, func(s *clientSettings, v string) error {
			s.caFile = v
			return nil
		}},
		{Property{"ssl.truststore.type", RoleCommon, "PEM", "only PEM is supported"}, pemOnly},
		{Property{"ssl.certificate.location", RoleCommon, "", "PEM client certificate"}, func(s *clientSettings, v string) error {
			s.certFile = v
			return nil
		}},
		{Property{"ssl.key.location", RoleCommon, "", "PEM client private key (unencrypted)"}, func(s *clientSettings, v string) error {
			s.keyFile = v
			return nil
		}},
		{Property{"ssl.keystore.location", RoleCommon, "", "PEM file with client certificate chain and key (needs ssl.keystore.type=PEM)"}, func(s *clientSettings, v string) error {
			s.keystoreFile = v
			return nil
		}},
		{Property{"ssl.keystore.type", RoleCommon, "PEM", "only PEM is supported"}, pemOnly},
		{Property{"ssl.endpoint.identification.algorithm", RoleCommon, "https", `"https" verifies the broker host name, "" or "none" only the chain`}, func(s *clientSettings, v string) error {
			switch strings.ToLower(v) {
			case "https":
				s.verifyHostname = true
			case "", "none":
				s.verifyHostname = false
			default:
				return fmt.Errorf("want https, none or empty")
			}
			return nil
		}},
		{Property{"metadata.max.age.ms", RoleCommon, "300000", "metadata refresh interval"}, msInto(func(s *clientSettings) *time.Duration { return &s.metadataMaxAge })},
		{Property{"connections.max.idle.ms", RoleCommon, "540000", "close idle connections after this"}, msInto(func(s *clientSettings) *time.Duration { return &s.connIdle })},
		{Property{"retry.backoff.ms", RoleCommon, "100", "fixed wait between retries"}, msInto(func(s *clientSettings) *time.Duration { return &s.retryBackoff })},
		{Property{"socket.connection.setup.timeout.ms", RoleCommon, "10000", "dial timeout"}, msInto(func(s *clientSettings) *time.Duration { return &s.dialTimeout })},

		{Property{"acks", RoleProducer, "all", "0, 1 or all (-1)"}, func(s *clientSettings, v string) error {
			if v == "-1" {
				v = "all"
			}
			return oneOf(&s.acks, strings.ToLower(v), "0", "1", "all")
		}},
		{Property{"linger.ms", RoleProducer, "5", "how long a partition's batch waits for more records"}, msInto(func(s *clientSettings) *time.Duration { return &s.linger })},
		{Property{"batch.size", RoleProducer, "16384", "max record batch bytes per partition"}, func(s *clientSettings, v string) error {
			return int32Into(&s.batchSize, v, 512, 1<<30)
		}},
		{Property{"compression.type", RoleProducer, "none", "none, gzip, snappy, lz4 or zstd"}, func(s *clientSettings, v string) error {
			return oneOf(&s.compression, strings.ToLower(v), "none", "gzip", "snappy", "lz4", "zstd")
		}},
		{Property{"compression.gzip.level", RoleProducer, "-1", "gzip level 1-9, -1 default"}, levelInto("gzip", -1, 9)},
		{Property{"compression.lz4.level", RoleProducer, "9", "lz4 HC level 1-9 (Go's lz4 has no higher ones); unset = fast compressor as in Kafka"}, levelInto("lz4", 1, 9)},
		{Property{"compression.zstd.level", RoleProducer, "3", "zstd level 1-22, mapped onto klauspost/zstd's four speeds"}, levelInto("zstd", -131072, 22)},
		{Property{"enable.idempotence", RoleProducer, "true", "idempotent producer (needs acks=all)"}, boolInto(func(s *clientSettings) *bool { return &s.idempotence })},
		{Property{"max.in.flight.requests.per.connection", RoleProducer, "5", "produce requests in flight per broker (idempotence caps it at 5)"}, func(s *clientSettings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("want an integer >= 1")
			}
			s.maxInFlight = n
			return nil
		}},
		{Property{"buffer.memory", RoleProducer, "33554432", "bytes buffered before produce blocks"}, func(s *clientSettings, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return fmt.Errorf("want an integer >= 1")
			}
			s.bufferMemory = n
			return nil
		}},
		{Property{"partitioner.class", RoleProducer, "default", "Java class name, or default, sticky-key, uniform-sticky, round-robin, least-backup"}, func(s *clientSettings, v string) error {
			name, ok := partitionerNames()[v]
			if !ok {
				return fmt.Errorf("want one of %s", strings.Join(sortedKeys(partitionerNames()), ", "))
			}
			s.partitioner = name
			return nil
		}},
		{Property{"partitioner.ignore.keys", RoleProducer, "false", "default partitioner spreads keyed records too"}, boolInto(func(s *clientSettings) *bool { return &s.ignoreKeys })},
		{Property{"partitioner.adaptive.partitioning.enable", RoleProducer, "true", "default partitioner favours less loaded brokers"}, boolInto(func(s *clientSettings) *bool { return &s.adaptive })},
		{Property{"request.timeout.ms", RoleProducer, "30000", "produce request timeout sent to the broker"}, msInto(func(s *clientSettings) *time.Duration { return &s.requestTimeout })},
		{Property{"delivery.timeout.ms", RoleProducer, "120000", "give up on a record after this"}, msInto(func(s *clientSettings) *time.Duration { return &s.deliveryTimeout })},
		{Property{"retries", RoleProducer, "2147483647", "retries per record"}, func(s *clientSettings, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("want an integer >= 0")
			}
			s.retries = n
			return nil
		}},
		{Property{"max.request.size", RoleProducer, "1048576", "max bytes of one produce request"}, func(s *clientSettings, v string) error {
			return int32Into(&s.maxRequestSize, v, 1<<10, 1<<30)
		}},

		{Property{"group.id", RoleConsumer, "", "consume through this consumer group (else partitions are assigned directly)"}, func(s *clientSettings, v string) error {
			s.groupID = v
			return nil
		}},
		{Property{"group.instance.id", RoleConsumer, "", "static group membership id"}, func(s *clientSettings, v string) error {
			s.instanceID = v
			return nil
		}},
		{Property{"auto.offset.reset", RoleConsumer, "latest", "earliest, latest or none"}, func(s *clientSettings, v string) error {
			return oneOf(&s.offsetReset, strings.ToLower(v), "earliest", "latest", "none")
		}},
		{Property{"enable.auto.commit", RoleConsumer, "true", "commit group offsets periodically"}, boolInto(func(s *clientSettings) *bool { return &s.autoCommit })},
		{Property{"auto.commit.interval.ms", RoleConsumer, "5000", "group offset commit interval"}, msInto(func(s *clientSettings) *time.Duration { return &s.autoCommitEvery })},
		{Property{"fetch.min.bytes", RoleConsumer, "1", "broker waits for this many bytes"}, func(s *clientSettings, v string) error {
			return int32Into(&s.fetchMinBytes, v, 1, math.MaxInt32)
		}},
		{Property{"fetch.max.bytes", RoleConsumer, "52428800", "max bytes of one fetch response"}, func(s *clientSettings, v string) error {
			return int32Into(&s.fetchMaxBytes, v, 1, 1<<30)
		}},
		{Property{"fetch.max.wait.ms", RoleConsumer, "500", "how long the broker may hold a fetch"}, msInto(func(s *clientSettings) *time.Duration { return &s.fetchMaxWait })},
		{Property{"max.partition.fetch.bytes", RoleConsumer, "1048576", "max bytes per partition per fetch"}, func(s *clientSettings, v string) error {
			return int32Into(&s.partFetchBytes, v, 1, 1<<30)
		}},
		{Property{"max.poll.records", RoleConsumer, "", "records returned by one poll; unset, every record the client holds (Java's consumer returns at most 500). A limit also holds back the next fetch from a broker until its last fetch is all polled"}, func(s *clientSettings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("want an integer >= 1")
			}
			s.maxPollRecords = n
			return nil
		}},
		{Property{"isolation.level", RoleConsumer, "read_uncommitted", "read_uncommitted or read_committed"}, func(s *clientSettings, v string) error {
			return oneOf(&s.isolation, strings.ToLower(v), "read_uncommitted", "read_committed")
		}},
		{Property{"session.timeout.ms", RoleConsumer, "45000", "group session timeout"}, msInto(func(s *clientSettings) *time.Duration { return &s.sessionTimeout })},
		{Property{"heartbeat.interval.ms", RoleConsumer, "3000", "group heartbeat interval"}, msInto(func(s *clientSettings) *time.Duration { return &s.heartbeat })},
		{Property{"max.poll.interval.ms", RoleConsumer, "300000", "rebalance timeout"}, msInto(func(s *clientSettings) *time.Duration { return &s.maxPollInterval })},
		{Property{"partition.assignment.strategy", RoleConsumer, "range,cooperative-sticky", "comma list of Java assignor class names or range, roundrobin, sticky, cooperative-sticky"}, func(s *clientSettings, v string) error {
			s.assignors = s.assignors[:0]
			for _, a := range strings.Split(v, ",") {
				name, ok := assignorNames()[strings.TrimSpace(a)]
				if !ok {
					return fmt.Errorf("unknown assignor %q, want one of %s", strings.TrimSpace(a), strings.Join(sortedKeys(assignorNames()), ", "))
				}
				s.assignors = append(s.assignors, name)
			}
			return nil
		}},
		{Property{"group.protocol", RoleConsumer, "classic", "group protocol: " + strings.Join(GroupProtocols, ", ") + " (consumer: KIP-848, the broker assigns; share: a KIP-932 share group that hands each record to one member and has it acknowledged, members sharing partitions)"}, func(s *clientSettings, v string) error {
			return oneOf(&s.groupProtocol, strings.ToLower(v), GroupProtocols...)
		}},
		{Property{"group.remote.assignor", RoleConsumer, "uniform", "broker-side assignor of group.protocol=consumer: " + strings.Join(RemoteAssignors, " or ")}, func(s *clientSettings, v string) error {
			return oneOf(&s.remoteAssignor, strings.ToLower(v), RemoteAssignors...)
		}},
		{Property{"client.rack", RoleConsumer, "", "rack for fetching from the closest replica"}, func(s *clientSettings, v string) error {
			s.rack = v
			return nil
		}},
		{Property{"check.crcs", RoleConsumer, "true", "verify record batch CRCs"}, boolInto(func(s *clientSettings) *bool { return &s.checkCRCs })},
	}
}

// SupportedProperties lists the properties a client in role accepts, sorted.
func SupportedProperties(role Role) []Property {
	var out []Property
	for _, p := range propSpecs() {
		if p.Role&role != 0 {
			out = append(out, p.Property)
		}
	}
	slices.SortFunc(out, func(a, b Property) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func supportedNames(role Role) string {
	var names []string
	for _, p := range SupportedProperties(role) {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

// parseSettings applies props on Kafka's defaults for role. bootstrap.servers
// is not a client setting here: the target supplies the addresses.
func parseSettings(role Role, props map[string]string) (*clientSettings, error) {
	specs := map[string]propSpec{}
	for _, p := range propSpecs() {
		specs[p.Name] = p
	}
	s := defaultSettings()
	// Sorted so the first error reported does not depend on map order.
	for _, k := range sortedKeys(props) {
		v := props[k]
		spec, ok := specs[k]
		if k == "bootstrap.servers" {
			return nil, fmt.Errorf("property bootstrap.servers: give it as the target (--bootstrap or --command-config), not as a %s property", roleName(role))
		}
		if !ok || spec.Role&role == 0 {
			return nil, fmt.Errorf("%w %q for the %s; supported: %s", ErrUnknownProperty, k, roleName(role), supportedNames(role))
		}
		if err := spec.set(s, strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("property %s=%q: %w", k, v, err)
		}
		s.explicit[k] = v
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

func roleName(r Role) string {
	switch r {
	case RoleProducer:
		return "producer"
	case RoleConsumer:
		return "consumer"
	}
	return "client"
}

// check rejects combinations Kafka itself rejects, and resolves the
// idempotence default the way the Java producer does: enabled unless a
// conflicting setting was given and idempotence was not asked for.
func (s *clientSettings) check() error {
	_, idemSet := s.explicit["enable.idempotence"]
	conflict := ""
	switch {
	case s.acks != "all":
		conflict = "acks=" + s.acks
	case s.maxInFlight > 5:
		conflict = "max.in.flight.requests.per.connection=" + strconv.Itoa(s.maxInFlight)
	case s.retries == 0:
		conflict = "retries=0"
	}
	if conflict != "" && s.idempotence {
		if idemSet {
			return fmt.Errorf("property enable.idempotence=true conflicts with %s (Kafka rejects this too)", conflict)
		}
		s.idempotence = false
	}
	sasl := strings.HasPrefix(s.securityProto, "SASL_")
	if s.saslMechanism != "" && !sasl {
		return fmt.Errorf("property sasl.mechanism=%s needs security.protocol SASL_PLAINTEXT or SASL_SSL, not %s", s.saslMechanism, s.securityProto)
	}
	if sasl {
		if s.saslMechanism == "" {
			return fmt.Errorf("security.protocol=%s needs sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; GSSAPI is not supported)", s.securityProto)
		}
		if s.saslUser == "" || s.saslPass == "" {
			return fmt.Errorf("sasl.mechanism=%s needs sasl.username and sasl.password, or sasl.jaas.config", s.saslMechanism)
		}
		if s.jaasModule != "" && (s.jaasModule == "PLAIN") != (s.saslMechanism == "PLAIN") {
			return fmt.Errorf("sasl.jaas.config uses the %s login module but sasl.mechanism is %s", s.jaasModule, s.saslMechanism)
		}
	}
	for _, store := range []string{"truststore", "keystore"} {
		if _, ok := s.explicit["ssl."+store+".location"]; ok && !strings.EqualFold(s.explicit["ssl."+store+".type"], "PEM") {
			return fmt.Errorf("ssl.%s.location needs ssl.%s.type=PEM (JKS and PKCS12 stores are not supported)", store, store)
		}
	}
	if s.groupProtocol == "share" {
		if s.groupID == "" {
			return fmt.Errorf("group.protocol=share needs group.id (--group)")
		}
		if s.instanceID != "" {
			return fmt.Errorf("group.instance.id does not apply to share groups (group.protocol=share)")
		}
	}
	if (s.certFile == "") != (s.keyFile == "") {
		return fmt.Errorf("ssl.certificate.location and ssl.key.location must be given together")
	}
	return s.checkGroupProtocol()
}

// forRole drops the properties that only the other role takes; unknown
// names stay, so parsing still reports them.
func forRole(props map[string]string, role Role) map[string]string {
	roles := map[string]Role{}
	for _, p := range propSpecs() {
		roles[p.Name] = p.Role
	}
	out := map[string]string{}
	for k, v := range props {
		if r, ok := roles[k]; !ok || r&role != 0 {
			out[k] = v
		}
	}
	return out
}

// options turns the settings into franz-go options for role.
func (s *clientSettings) options(role Role) ([]kgo.Opt, error) {
	opts, err := s.connOptions()
	if err != nil {
		return nil, err
	}
	if role&RoleProducer != 0 {
		opts = append(opts, s.producerOptions()...)
	}
	if role&RoleConsumer != 0 {
		opts = append(opts, s.consumerOptions()...)
	}
	return opts, nil
}

// connOptions are the connection and security options every client shares.
func (s *clientSettings) connOptions() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.clientID != "" {
		opts = append(opts, kgo.ClientID(s.clientID))
	}
	if s.metadataMaxAge > 0 {
		opts = append(opts, kgo.MetadataMaxAge(s.metadataMaxAge))
		if s.metadataMaxAge < 5*time.Second {
			// franz-go refuses a max age under its 5 s min age; Kafka has no min.
			opts = append(opts, kgo.MetadataMinAge(max(s.metadataMaxAge, 10*time.Millisecond)))
		}
	}
	if s.connIdle > 0 {
		opts = append(opts, kgo.ConnIdleTimeout(s.connIdle))
	}
	if s.retryBackoff > 0 {
		d := s.retryBackoff
		opts = append(opts, kgo.RetryBackoffFn(func(int) time.Duration { return d }))
	}
	if s.dialTimeout > 0 {
		opts = append(opts, kgo.DialTimeout(s.dialTimeout))
	}
	if strings.HasSuffix(s.securityProto, "SSL") {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if strings.HasPrefix(s.securityProto, "SASL_") {
		var m = plain.Auth{User: s.saslUser, Pass: s.saslPass}.AsMechanism()
		switch s.saslMechanism {
		case "SCRAM-SHA-256":
			m = scram.Auth{User: s.saslUser, Pass: s.saslPass}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			m = scram.Auth{User: s.saslUser, Pass: s.saslPass}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (s *clientSettings) producerOptions() []kgo.Opt {
	acks := kgo.AllISRAcks()
	switch s.acks {
	case "0":
		acks = kgo.NoAck()
	case "1":
		acks = kgo.LeaderAck()
	}
	opts := []kgo.Opt{
		kgo.RequiredAcks(acks),
		kgo.ProducerLinger(s.linger),
		kgo.ProducerBatchMaxBytes(s.batchSize),
		kgo.ProducerBatchCompression(s.codec()),
		kgo.MaxBufferedBytes(int(s.bufferMemory)),
		kgo.ProduceRequestTimeout(s.requestTimeout),
		kgo.RecordDeliveryTimeout(s.deliveryTimeout),
		kgo.RecordRetries(int(min(s.retries, math.MaxInt32))),
		kgo.BrokerMaxWriteBytes(max(s.maxRequestSize, s.batchSize)),
		kgo.RecordPartitioner(s.partitionerImpl()),
	}
	if !s.idempotence {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(s.maxInFlight))
	}
	return opts
}

func (s *clientSettings) codec() kgo.CompressionCodec {
	c := kgo.NoCompression()
	switch s.compression {
	case "gzip":
		c = kgo.GzipCompression()
	case "snappy":
		c = kgo.SnappyCompression()
	case "lz4":
		c = kgo.Lz4Compression()
	case "zstd":
		c = kgo.ZstdCompression()
	}
	if lvl, ok := s.levels[s.compression]; ok {
		c = c.WithLevel(libraryLevel(s.compression, lvl))
	}
	return c
}

// libraryLevel translates a Kafka compression level into the value the Go
// library behind franz-go takes.
func libraryLevel(codec string, kafkaLevel int) int {
	switch codec {
	case "lz4":
		return int(lz4.Level1) << (kafkaLevel - 1)
	case "zstd":
		return int(zstd.EncoderLevelFromZstd(kafkaLevel))
	}
	return kafkaLevel
}

func (s *clientSettings) partitionerImpl() kgo.Partitioner {
	switch s.partitioner {
	case "round-robin":
		return kgo.RoundRobinPartitioner()
	case "uniform-sticky":
		return kgo.StickyPartitioner()
	case "sticky-key":
		return kgo.StickyKeyPartitioner(nil)
	case "least-backup":
		return kgo.LeastBackupPartitioner()
	}
	// Kafka's built-in partitioner: murmur2 for keys, otherwise switch
	// partition after batch.size bytes.
	return kgo.UniformBytesPartitioner(int(s.batchSize), s.adaptive, !s.ignoreKeys, nil)
}

func (s *clientSettings) consumerOptions() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.FetchMinBytes(s.fetchMinBytes),
		kgo.FetchMaxBytes(s.fetchMaxBytes),
		kgo.FetchMaxWait(s.fetchMaxWait),
		kgo.FetchMaxPartitionBytes(s.partFetchBytes),
		kgo.BrokerMaxReadBytes(max(s.fetchMaxBytes, 100<<20)),
	}
	if s.isolation == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if s.rack != "" {
		opts = append(opts, kgo.Rack(s.rack))
	}
	if !s.checkCRCs {
		opts = append(opts, kgo.DisableFetchCRCValidation())
	}
	reset := kgo.NewOffset().AtEnd()
	switch s.offsetReset {
	case "earliest":
		reset = kgo.NewOffset().AtStart()
	case "none":
		reset = kgo.NoResetOffset()
	}
	opts = append(opts, kgo.ConsumeResetOffset(reset))
	if s.groupID == "" {
		return opts
	}
	if s.share() {
		// Where a share group starts is the group's share.auto.offset.reset,
		// set through the admin API, not a client option.
		opts = append(opts, kgo.ShareGroup(s.groupID))
		if s.maxPollRecords > 0 {
			opts = append(opts, kgo.ShareMaxRecords(int32(min(s.maxPollRecords, math.MaxInt32))))
		}
		return opts
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.groupID),
		kgo.RebalanceTimeout(s.maxPollInterval),
		kgo.AutoCommitInterval(s.autoCommitEvery),
	)
	if s.groupProtocol == "consumer" {
		opts = append(opts, s.serverSideOptions()...)
	} else {
		opts = append(opts, kgo.SessionTimeout(s.sessionTimeout), kgo.HeartbeatInterval(s.heartbeat))
	}
	if !s.autoCommit {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	if s.instanceID != "" {
		opts = append(opts, kgo.InstanceID(s.instanceID))
	}
	if len(s.assignors) > 0 && s.groupProtocol == "classic" {
		var bs []kgo.GroupBalancer
		for _, a := range s.assignors {
			switch a {
			case "range":
				bs = append(bs, kgo.RangeBalancer())
			case "roundrobin":
				bs = append(bs, kgo.RoundRobinBalancer())
			case "sticky":
				bs = append(bs, kgo.StickyBalancer())
			case "cooperative-sticky":
				bs = append(bs, kgo.CooperativeStickyBalancer())
			}
		}
		opts = append(opts, kgo.Balancers(bs...))
	}
	return opts
}

// share reports whether the consumers form a share group.
func (s *clientSettings) share() bool { return s.groupID != "" && s.groupProtocol == "share" }

func (s *clientSettings) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pemBytes, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("read ssl ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("ssl ca file %s: no PEM certificates found", s.caFile)
		}
		tc.RootCAs = pool
	}
	switch {
	case s.certFile != "":
		cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case s.keystoreFile != "":
		pemBytes, err := os.ReadFile(s.keystoreFile)
		if err != nil {
			return nil, fmt.Errorf("read ssl keystore: %w", err)
		}
		cert, err := tls.X509KeyPair(pemBytes, pemBytes)
		if err != nil {
			return nil, fmt.Errorf("ssl keystore %s: %w", s.keystoreFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if !s.verifyHostname {
		// Still verify the chain, only not the name: that is what Java does
		// with an empty ssl.endpoint.identification.algorithm.
		roots := tc.RootCAs
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// effectiveProducer lists the producer settings a run used, explicit or
// default, in Kafka property form for results.
func (s *clientSettings) effectiveProducer() map[string]string {
	m := map[string]string{
		"acks":                                  s.acks,
		"linger.ms":                             strconv.FormatInt(s.linger.Milliseconds(), 10),
		"batch.size":                            strconv.Itoa(int(s.batchSize)),
		"compression.type":                      s.compression,
		"enable.idempotence":                    strconv.FormatBool(s.idempotence),
		"max.in.flight.requests.per.connection": strconv.Itoa(s.maxInFlight),
		"buffer.memory":                         strconv.FormatInt(s.bufferMemory, 10),
		"partitioner.class":                     cmp.Or(s.partitioner, "default"),
	}
	if lvl, ok := s.levels[s.compression]; ok {
		m["compression."+s.compression+".level"] = strconv.Itoa(lvl)
	}
	return m
}

var jaasRe = regexp.MustCompile(`^\s*(\S+)\s+(required|requisite|sufficient|optional)\s+(.*?);?\s*$`)
var jaasKV = regexp.MustCompile(`(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

func parseJAAS(s *clientSettings, v string) error {
	m := jaasRe.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf(`want "<LoginModule class> required username=\"...\" password=\"...\";"`)
	}
	switch {
	case strings.HasSuffix(m[1], ".PlainLoginModule"):
		s.jaasModule = "PLAIN"
	case strings.HasSuffix(m[1], ".ScramLoginModule"):
		s.jaasModule = "SCRAM"
	default:
		return fmt.Errorf("login module %s is not supported (PlainLoginModule or ScramLoginModule)", m[1])
	}
	for _, kv := range jaasKV.FindAllStringSubmatch(m[3], -1) {
		val := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(kv[2])
		switch kv[1] {
		case "username":
			s.saslUser = val
		case "password":
			s.saslPass = val
		}
	}
	if s.saslUser == "" || s.saslPass == "" {
		return fmt.Errorf("username and password are required")
	}
	return nil
}

func pemOnly(_ *clientSettings, v string) error {
	if !strings.EqualFold(v, "PEM") {
		return fmt.Errorf("only PEM is supported; convert %s stores with openssl or keytool", v)
	}
	return nil
}

func oneOf(dst *string, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fmt.Errorf("want one of %s", strings.Join(allowed, ", "))
	}
	*dst = v
	return nil
}

func int32Into(dst *int32, v string, lo, hi int64) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("want an integer in [%d, %d]", lo, hi)
	}
	*dst = int32(n)
	return nil
}

func msInto(field func(*clientSettings) *time.Duration) func(*clientSettings, string) error {
	return func(s *clientSettings, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return fmt.Errorf("want milliseconds in [0, %d]", math.MaxInt32)
		}
		*field(s) = time.Duration(n) * time.Millisecond
		return nil
	}
}

func boolInto(field func(*clientSettings) *bool) func(*clientSettings, string) error {
	return func(s *clientSettings, v string) error {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		*field(s) = b
		return nil
	}
}

func levelInto(codec string, lo, hi int) func(*clientSettings, string) error {
	return func(s *clientSettings, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer in [%d, %d]", lo, hi)
		}
		s.levels[codec] = n
		return nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
