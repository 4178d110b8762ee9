package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// pemFiles writes a self-signed certificate (valid for localhost and the
// given IPs) and its key, separately and as one combined file, and returns
// the three paths.
func pemFiles(t *testing.T, ips ...net.IP) (certPath, keyPath, bothPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kbench test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	dir := t.TempDir()
	certPath, keyPath, bothPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "both.pem")
	for path, b := range map[string][]byte{certPath: certPEM, keyPath: keyPEM, bothPath: append(certPEM, keyPEM...)} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certPath, keyPath, bothPath
}

// built parses props for role and builds a real franz-go client (it does
// not connect), so tests read back what franz-go actually got.
func built(t *testing.T, role Role, props map[string]string) (*clientSettings, *kgo.Client) {
	t.Helper()
	s, err := parseSettings(role, props)
	if err != nil {
		t.Fatalf("parse %v: %v", props, err)
	}
	opts, err := s.options(role)
	if err != nil {
		t.Fatalf("options %v: %v", props, err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers("127.0.0.1:1"))...)
	if err != nil {
		t.Fatalf("franz-go rejected %v: %v", props, err)
	}
	t.Cleanup(cl.Close)
	return s, cl
}

func want(got, exp any) error {
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		return fmt.Errorf("got %v, want %v", got, exp)
	}
	return nil
}

func tlsOf(cl *kgo.Client) *tls.Config {
	tc, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
	return tc
}

func mechanisms(cl *kgo.Client) string {
	var names []string
	ms, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	for _, m := range ms {
		names = append(names, m.Name())
	}
	return strings.Join(names, ",")
}

func TestPropertyMapping(t *testing.T) {
	cert, key, both := pemFiles(t)
	type check func(s *clientSettings, cl *kgo.Client) error
	tests := []struct {
		name  string
		role  Role
		props map[string]string
		check check
	}{
		{"client.id", RoleProducer, map[string]string{"client.id": "bench-1"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ClientID), "bench-1")
		}},
		{"security.protocol SSL", RoleConsumer, map[string]string{"security.protocol": "SSL"}, func(_ *clientSettings, cl *kgo.Client) error {
			if tlsOf(cl) == nil {
				return errors.New("no TLS config")
			}
			return want(mechanisms(cl), "")
		}},
		{"sasl plain via username/password", RoleProducer, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "p"}, func(s *clientSettings, cl *kgo.Client) error {
			if tlsOf(cl) != nil {
				return errors.New("SASL_PLAINTEXT must not use TLS")
			}
			return errors.Join(want(mechanisms(cl), "PLAIN"), want(s.saslUser+"/"+s.saslPass, "u/p"))
		}},
		{"sasl scram-512 over TLS", RoleConsumer, map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p"}, func(_ *clientSettings, cl *kgo.Client) error {
			if tlsOf(cl) == nil {
				return errors.New("SASL_SSL without TLS")
			}
			return want(mechanisms(cl), "SCRAM-SHA-512")
		}},
		{"sasl.jaas.config scram", RoleProducer, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3\"cret";`}, func(s *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(mechanisms(cl), "SCRAM-SHA-256"), want(s.saslUser+"/"+s.saslPass, `alice/s3"cret`))
		}},
		{"ssl.ca.location", RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.ca.location": cert}, func(_ *clientSettings, cl *kgo.Client) error {
			tc := tlsOf(cl)
			if tc == nil || tc.RootCAs == nil {
				return errors.New("CA file not used as roots")
			}
			return want(tc.InsecureSkipVerify, false)
		}},
		{"ssl.truststore PEM", RoleConsumer, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": cert, "ssl.truststore.type": "PEM"}, func(_ *clientSettings, cl *kgo.Client) error {
			if tc := tlsOf(cl); tc == nil || tc.RootCAs == nil {
				return errors.New("trust store not used as roots")
			}
			return nil
		}},
		{"ssl client cert and key", RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.certificate.location": cert, "ssl.key.location": key}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(len(tlsOf(cl).Certificates), 1)
		}},
		{"ssl.keystore PEM", RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.keystore.location": both, "ssl.keystore.type": "PEM"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(len(tlsOf(cl).Certificates), 1)
		}},
		{"ssl.endpoint.identification.algorithm empty", RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": ""}, func(_ *clientSettings, cl *kgo.Client) error {
			tc := tlsOf(cl)
			if tc.VerifyConnection == nil {
				return errors.New("chain no longer verified")
			}
			return want(tc.InsecureSkipVerify, true)
		}},
		{"metadata.max.age.ms", RoleProducer, map[string]string{"metadata.max.age.ms": "60000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.MetadataMaxAge), time.Minute)
		}},
		{"short metadata.max.age.ms lowers franz-go's min age", RoleProducer, map[string]string{"metadata.max.age.ms": "1000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.MetadataMaxAge), time.Second), want(cl.OptValue(kgo.MetadataMinAge), time.Second))
		}},
		{"connections.max.idle.ms", RoleConsumer, map[string]string{"connections.max.idle.ms": "30000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ConnIdleTimeout), 30*time.Second)
		}},
		{"retry.backoff.ms", RoleProducer, map[string]string{"retry.backoff.ms": "250"}, func(_ *clientSettings, cl *kgo.Client) error {
			fn := cl.OptValue(kgo.RetryBackoffFn).(func(int) time.Duration)
			return want(fn(3), 250*time.Millisecond)
		}},
		{"socket.connection.setup.timeout.ms", RoleProducer, map[string]string{"socket.connection.setup.timeout.ms": "3000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.DialTimeout), 3*time.Second)
		}},
		{"acks=1 turns implicit idempotence off", RoleProducer, map[string]string{"acks": "1"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.RequiredAcks), kgo.LeaderAck()), want(cl.OptValue(kgo.DisableIdempotentWrite), true))
		}},
		{"acks=-1", RoleProducer, map[string]string{"acks": "-1"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.RequiredAcks), kgo.AllISRAcks()), want(cl.OptValue(kgo.DisableIdempotentWrite), false))
		}},
		{"acks=0", RoleProducer, map[string]string{"acks": "0"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.RequiredAcks), kgo.NoAck())
		}},
		{"linger.ms", RoleProducer, map[string]string{"linger.ms": "20"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerLinger), 20*time.Millisecond)
		}},
		{"batch.size", RoleProducer, map[string]string{"batch.size": "65536"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerBatchMaxBytes), 65536)
		}},
		{"compression zstd level", RoleProducer, map[string]string{"compression.type": "zstd", "compression.zstd.level": "19"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerBatchCompression), []kgo.CompressionCodec{kgo.ZstdCompression().WithLevel(int(zstd.SpeedBestCompression))})
		}},
		{"compression gzip level", RoleProducer, map[string]string{"compression.type": "GZIP", "compression.gzip.level": "9"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerBatchCompression), []kgo.CompressionCodec{kgo.GzipCompression().WithLevel(9)})
		}},
		{"compression lz4 level", RoleProducer, map[string]string{"compression.type": "lz4", "compression.lz4.level": "3"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerBatchCompression), []kgo.CompressionCodec{kgo.Lz4Compression().WithLevel(int(lz4.Level3))})
		}},
		{"compression default is none (Kafka's, not franz-go's snappy)", RoleProducer, map[string]string{}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProducerBatchCompression), []kgo.CompressionCodec{kgo.NoCompression()})
		}},
		{"enable.idempotence false with max.in.flight", RoleProducer, map[string]string{"enable.idempotence": "false", "max.in.flight.requests.per.connection": "3"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.DisableIdempotentWrite), true), want(cl.OptValue(kgo.MaxProduceRequestsInflightPerBroker), 3))
		}},
		{"buffer.memory", RoleProducer, map[string]string{"buffer.memory": "1000000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.MaxBufferedBytes), 1000000)
		}},
		{"partitioner.class java name", RoleProducer, map[string]string{"partitioner.class": "org.apache.kafka.clients.producer.RoundRobinPartitioner"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(fmt.Sprintf("%T", cl.OptValue(kgo.RecordPartitioner)), "*kgo.roundRobinPartitioner")
		}},
		{"partitioner flags", RoleProducer, map[string]string{"partitioner.ignore.keys": "true", "partitioner.adaptive.partitioning.enable": "false"}, func(s *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(s.ignoreKeys, true), want(s.adaptive, false),
				want(fmt.Sprintf("%T", cl.OptValue(kgo.RecordPartitioner)), "*kgo.uniformBytesPartitioner"))
		}},
		{"request.timeout.ms", RoleProducer, map[string]string{"request.timeout.ms": "5000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ProduceRequestTimeout), 5*time.Second)
		}},
		{"delivery.timeout.ms", RoleProducer, map[string]string{"delivery.timeout.ms": "60000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.RecordDeliveryTimeout), time.Minute)
		}},
		{"retries", RoleProducer, map[string]string{"retries": "3"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.RecordRetries), 3)
		}},
		{"max.request.size", RoleProducer, map[string]string{"max.request.size": "2097152"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.BrokerMaxWriteBytes), 2097152)
		}},
		{"group.id and group settings", RoleConsumer, map[string]string{"group.id": "g1", "group.instance.id": "i1", "enable.auto.commit": "false", "auto.commit.interval.ms": "1000",
			"session.timeout.ms": "10000", "heartbeat.interval.ms": "1000", "max.poll.interval.ms": "60000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(
				want(cl.OptValue(kgo.ConsumerGroup), "g1"), want(cl.OptValue(kgo.InstanceID), "i1"),
				want(cl.OptValue(kgo.DisableAutoCommit), true), want(cl.OptValue(kgo.AutoCommitInterval), time.Second),
				want(cl.OptValue(kgo.SessionTimeout), 10*time.Second), want(cl.OptValue(kgo.HeartbeatInterval), time.Second),
				want(cl.OptValue(kgo.RebalanceTimeout), time.Minute))
		}},
		{"group.protocol=share", RoleConsumer, map[string]string{"group.id": "sg", "group.protocol": "share", "max.poll.records": "50"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.ShareGroup), "sg"), want(cl.OptValue(kgo.ConsumerGroup), ""), want(cl.OptValue(kgo.ShareMaxRecords), int32(50)))
		}},
		{"auto.offset.reset", RoleConsumer, map[string]string{"auto.offset.reset": "earliest"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ConsumeResetOffset).(kgo.Offset).EpochOffset().Offset, -2)
		}},
		{"fetch sizes and wait", RoleConsumer, map[string]string{"fetch.min.bytes": "100", "fetch.max.bytes": "1000000", "fetch.max.wait.ms": "100", "max.partition.fetch.bytes": "2000"}, func(_ *clientSettings, cl *kgo.Client) error {
			return errors.Join(want(cl.OptValue(kgo.FetchMinBytes), 100), want(cl.OptValue(kgo.FetchMaxBytes), 1000000),
				want(cl.OptValue(kgo.FetchMaxWait), 100*time.Millisecond), want(cl.OptValue(kgo.FetchMaxPartitionBytes), 2000))
		}},
		{"fetch.max.wait.ms default is Kafka's 500", RoleConsumer, map[string]string{}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.FetchMaxWait), 500*time.Millisecond)
		}},
		{"max.poll.records", RoleConsumer, map[string]string{"max.poll.records": "10"}, func(s *clientSettings, _ *kgo.Client) error {
			return want(s.maxPollRecords, 10)
		}},
		{"max.poll.records unset: a poll takes every record held", RoleConsumer, map[string]string{}, func(s *clientSettings, _ *kgo.Client) error {
			return want(s.maxPollRecords, 0)
		}},
		{"share group without max.poll.records: the client's share fetch size", RoleConsumer, map[string]string{"group.id": "sg", "group.protocol": "share"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ShareMaxRecords), int32(-1))
		}},
		{"isolation.level", RoleConsumer, map[string]string{"isolation.level": "read_committed"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.FetchIsolationLevel), 1)
		}},
		{"partition.assignment.strategy", RoleConsumer, map[string]string{"group.id": "g", "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RoundRobinAssignor, cooperative-sticky"}, func(_ *clientSettings, cl *kgo.Client) error {
			var names []string
			for _, b := range cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer) {
				names = append(names, b.ProtocolName())
			}
			return want(strings.Join(names, ","), "roundrobin,cooperative-sticky")
		}},
		{"group.protocol=consumer", RoleConsumer, map[string]string{"group.id": "g", "group.protocol": "consumer", "group.remote.assignor": "range"}, func(_ *clientSettings, cl *kgo.Client) error {
			bs := cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer)
			return errors.Join(want(cl.OptValue(kgo.ServerSideBalancer), true), want(len(bs), 1), want(bs[0].ProtocolName(), "range"))
		}},
		{"group.protocol=consumer with the uniform assignor", RoleConsumer, map[string]string{"group.id": "g", "group.protocol": "CONSUMER"}, func(_ *clientSettings, cl *kgo.Client) error {
			bs := cl.OptValue(kgo.Balancers).([]kgo.GroupBalancer)
			return errors.Join(want(cl.OptValue(kgo.ServerSideBalancer), true), want(bs[0].ProtocolName(), "sticky"))
		}},
		{"group.protocol=classic", RoleConsumer, map[string]string{"group.id": "g", "group.protocol": "classic"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.ServerSideBalancer), false)
		}},
		{"client.rack", RoleConsumer, map[string]string{"client.rack": "az1"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.Rack), "az1")
		}},
		{"check.crcs", RoleConsumer, map[string]string{"check.crcs": "false"}, func(_ *clientSettings, cl *kgo.Client) error {
			return want(cl.OptValue(kgo.DisableFetchCRCValidation), true)
		}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, cl := built(t, tt.role, tt.props)
			if err := tt.check(s, cl); err != nil {
				t.Error(err)
			}
		})
		for k := range tt.props {
			covered[k] = true
		}
	}
	for _, p := range SupportedProperties(RoleCommon) {
		if !covered[p.Name] {
			t.Errorf("supported property %s has no mapping test", p.Name)
		}
	}
}

func TestPropertyErrors(t *testing.T) {
	tests := []struct {
		name    string
		role    Role
		props   map[string]string
		wantErr []string // all must appear in the message
	}{
		{"unknown property", RoleProducer, map[string]string{"foo.bar": "1"}, []string{`"foo.bar"`, "supported:", "linger.ms", "acks"}},
		{"producer property on a consumer", RoleConsumer, map[string]string{"acks": "1"}, []string{`"acks"`, "consumer", "fetch.min.bytes"}},
		{"consumer property on a producer", RoleProducer, map[string]string{"group.id": "g"}, []string{`"group.id"`, "producer"}},
		{"unsupported java setting", RoleProducer, map[string]string{"max.block.ms": "100"}, []string{`"max.block.ms"`}},
		{"bootstrap.servers belongs to the target", RoleProducer, map[string]string{"bootstrap.servers": "x:1"}, []string{"bootstrap.servers", "--bootstrap"}},
		{"bad acks", RoleProducer, map[string]string{"acks": "2"}, []string{"acks", "0, 1, all"}},
		{"negative linger", RoleProducer, map[string]string{"linger.ms": "-1"}, []string{"linger.ms", "milliseconds"}},
		{"tiny batch", RoleProducer, map[string]string{"batch.size": "10"}, []string{"batch.size", "[512,"}},
		{"unknown codec", RoleProducer, map[string]string{"compression.type": "brotli"}, []string{"compression.type", "zstd"}},
		{"lz4 level beyond Go's lz4", RoleProducer, map[string]string{"compression.lz4.level": "12"}, []string{"compression.lz4.level", "[1, 9]"}},
		{"bad bool", RoleProducer, map[string]string{"enable.idempotence": "maybe"}, []string{"enable.idempotence", "true or false"}},
		{"idempotence with acks=1", RoleProducer, map[string]string{"enable.idempotence": "true", "acks": "1"}, []string{"enable.idempotence", "acks=1"}},
		{"bad protocol", RoleProducer, map[string]string{"security.protocol": "KERBEROS"}, []string{"security.protocol", "SASL_SSL"}},
		{"gssapi", RoleProducer, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI"}, []string{"sasl.mechanism", "SCRAM-SHA-512"}},
		{"sasl without mechanism", RoleProducer, map[string]string{"security.protocol": "SASL_SSL", "sasl.username": "u", "sasl.password": "p"}, []string{"needs sasl.mechanism"}},
		{"mechanism without sasl protocol", RoleProducer, map[string]string{"sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "p"}, []string{"SASL_PLAINTEXT", "PLAINTEXT"}},
		{"sasl without credentials", RoleProducer, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, []string{"sasl.username"}},
		{"jaas module mismatch", RoleProducer, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";`}, []string{"SCRAM", "PLAIN"}},
		{"jaas kerberos", RoleProducer, map[string]string{"sasl.jaas.config": `com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;`}, []string{"Krb5LoginModule", "not supported"}},
		{"jks trust store", RoleProducer, map[string]string{"ssl.truststore.type": "JKS"}, []string{"ssl.truststore.type", "PEM"}},
		{"trust store without PEM type", RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": "/x"}, []string{"ssl.truststore.type=PEM"}},
		{"cert without key", RoleProducer, map[string]string{"ssl.certificate.location": "/x"}, []string{"ssl.key.location"}},
		{"unknown partitioner", RoleProducer, map[string]string{"partitioner.class": "com.example.Mine"}, []string{"partitioner.class", "round-robin"}},
		{"unknown assignor", RoleConsumer, map[string]string{"partition.assignment.strategy": "mine"}, []string{"mine", "range"}},
		{"bad isolation", RoleConsumer, map[string]string{"isolation.level": "dirty"}, []string{"read_committed"}},
		{"unknown group protocol", RoleConsumer, map[string]string{"group.protocol": "share-me"}, []string{"group.protocol", "classic, consumer"}},
		{"unknown remote assignor", RoleConsumer, map[string]string{"group.protocol": "consumer", "group.remote.assignor": "sticky"}, []string{"group.remote.assignor", "uniform, range"}},
		{"client assignor with the consumer protocol", RoleConsumer, map[string]string{"group.protocol": "consumer", "partition.assignment.strategy": "range"}, []string{"partition.assignment.strategy", "group.protocol=consumer"}},
		{"session timeout with the consumer protocol", RoleConsumer, map[string]string{"group.protocol": "consumer", "session.timeout.ms": "10000"}, []string{"session.timeout.ms", "not supported"}},
		{"remote assignor with the classic protocol", RoleConsumer, map[string]string{"group.remote.assignor": "range"}, []string{"group.remote.assignor", "group.protocol=consumer"}},
		{"bad group protocol", RoleConsumer, map[string]string{"group.protocol": "queue"}, []string{"group.protocol", "classic", "share"}},
		{"share group without group.id", RoleConsumer, map[string]string{"group.protocol": "share"}, []string{"group.protocol=share", "group.id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSettings(tt.role, tt.props)
			if err == nil {
				t.Fatalf("parse %v: got no error", tt.props)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	_, err := parseSettings(RoleProducer, map[string]string{"foo.bar": "1"})
	if !errors.Is(err, ErrUnknownProperty) {
		t.Errorf("unknown property error %v is not ErrUnknownProperty", err)
	}
}

func TestPropertyFilesReadErrors(t *testing.T) {
	s, err := parseSettings(RoleProducer, map[string]string{"security.protocol": "SSL", "ssl.ca.location": filepath.Join(t.TempDir(), "missing.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.options(RoleProducer); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing CA file: got %v, want an error naming the file", err)
	}
}

// TestValidateSurfacesClientLimits checks that limits franz-go enforces
// when building a client come out of Validate, before any connection.
func TestValidateSurfacesClientLimits(t *testing.T) {
	tg, _ := NewExternal("127.0.0.1:1")
	cfg := RunConfig{Mode: ModeProduce, Target: tg, Duration: time.Second, Producer: map[string]string{"linger.ms": "120000"}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "linger") {
		t.Errorf("linger.ms=120000: got %v, want franz-go's linger limit error", err)
	}
	cfg.Producer = nil
	cfg.Client = map[string]string{"acks": "1", "fetch.min.bytes": "10", "security.protocol": "PLAINTEXT"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("client.properties with producer and consumer settings: %v", err)
	}
}
