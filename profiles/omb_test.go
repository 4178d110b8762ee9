package profiles

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadOMBFixedRate(t *testing.T) {
	p, conv, err := LoadOMB("testdata/omb/1-topic-16-partitions-1kb.yaml", "testdata/omb/kafka-sync-all.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "1-topic-16-partitions-1kb" {
		t.Errorf("name %q", p.Name)
	}
	pts := p.Points
	if len(pts) != 1 {
		t.Fatalf("got %d points, want 1", len(pts))
	}
	pt := pts[0]
	abs, _ := filepath.Abs("testdata/omb/payload/payload-1Kb.data")
	for _, c := range []struct{ what, got, want string }{
		{"partitions", itoa(pt.Topic.Partitions), "16"},
		{"replication factor", itoa(int32(pt.Topic.ReplicationFactor)), "3"},
		{"brokers", itoa(int32(pt.Brokers)), "3"},
		{"min.insync.replicas", pt.Topic.Configs["min.insync.replicas"], "2"},
		{"acks", pt.Producer["acks"], "all"},
		{"batch.size", pt.Producer["batch.size"], "131072"},
		{"consumer max.partition.fetch.bytes", pt.Consumer["max.partition.fetch.bytes"], "10485760"},
		{"mode", string(pt.Mode), "e2e"},
		{"keys", pt.Workload.Keys, "none"},
		{"payload", pt.Workload.Payload, "blob:" + abs},
		{"rate", pt.Rate.String(), "5000"},
		{"duration", time.Duration(pt.Duration).String(), (15 * time.Minute).String()},
		{"warmup (OMB's default)", time.Duration(pt.Warmup).String(), time.Minute.String()},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.Contains(string(conv.YAML), "bootstrap.servers=localhost:9092 is not used") {
		t.Errorf("the converted profile does not say the driver's bootstrap.servers is unused:\n%s", conv.YAML)
	}
}

func TestLoadOMBMaxRate(t *testing.T) {
	p, _, err := LoadOMB("testdata/omb/max-rate-random-keys.yaml", "", []string{"workload.duration=2s"})
	if err != nil {
		t.Fatal(err)
	}
	pt := p.Points[0]
	if pt.Rate.String() != "max-sustainable" || pt.Workload.Keys != "uniform:10000" || pt.Workload.Payload != "random" ||
		pt.Workload.Compressibility != 0.5 || pt.Producers != 2 || pt.Consumers != 2 || time.Duration(pt.Duration) != 2*time.Second {
		t.Errorf("point: rate %s keys %s payload %s compressibility %g producers %d consumers %d duration %s",
			pt.Rate, pt.Workload.Keys, pt.Workload.Payload, pt.Workload.Compressibility, pt.Producers, pt.Consumers, time.Duration(pt.Duration))
	}
	if p.Search.Start != 20000 {
		t.Errorf("search start %+v, want producerStartRate 20000", p.Search.Start)
	}
}

// OMB's backlog workload becomes a backlog-and-drain profile: GB is GiB as
// OMB computes it, the ratio carries over, and the build starts at once.
func TestLoadOMBBacklog(t *testing.T) {
	p, conv, err := LoadOMB("testdata/omb/backlog-1gb.yaml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pt := p.Points[0]
	if pt.Backlog != 1<<30 || pt.DrainRatio != 1 || pt.Mode != "e2e" || pt.Rate.String() != "10000" || pt.Warmup != 0 {
		t.Errorf("point: backlog %d drain ratio %g mode %s rate %s warmup %s; want 1GiB, 1, e2e, 10000, 0s",
			pt.Backlog, pt.DrainRatio, pt.Mode, pt.Rate, time.Duration(pt.Warmup))
	}
	if got := pt.RunConfig(pt.Rate.PerSec); got.Backlog != 1<<30 || got.DrainRatio != 1 {
		t.Errorf("run config backlog %d ratio %g", got.Backlog, got.DrainRatio)
	}
	if !strings.Contains(string(conv.YAML), "backlog: 1GiB") {
		t.Errorf("converted profile lacks the backlog:\n%s", conv.YAML)
	}
	half, _, err := LoadOMB("testdata/omb/backlog-1gb.yaml", "", []string{"workload.backlog=3MiB", "workload.drain_ratio=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	if pt := half.Points[0]; pt.Backlog != 3<<20 || pt.DrainRatio != 0.5 {
		t.Errorf("--set: backlog %d ratio %g, want 3MiB and 0.5", pt.Backlog, pt.DrainRatio)
	}
}

func TestConvertOMBErrors(t *testing.T) {
	base := "topics: 1\npartitionsPerTopic: 2\nmessageSize: 100\nuseRandomizedPayloads: true\nproducerRate: 100\ntestDurationMinutes: 1\n"
	kafka := "name: Kafka\ndriverClass: io.openmessaging.benchmark.driver.kafka.KafkaBenchmarkDriver\n"
	for _, tc := range []struct {
		name, workload, driver string
		want                   []string
	}{
		{"unknown field", base + "messageSizeDistribution: {0-256: 1}\n", "", []string{"w.yaml:7", `unknown OMB workload field "messageSizeDistribution"`, "partitionsPerTopic"}},
		{"several topics", strings.Replace(base, "topics: 1", "topics: 4", 1), "", []string{"topics: 4: kbench runs one topic per point"}},
		{"subscriptions", base + "subscriptionsPerTopic: 2\n", "", []string{"subscriptionsPerTopic: 2", "one consumer group"}},
		{"backlog at max rate", strings.Replace(base, "producerRate: 100", "producerRate: 0", 1) + "consumerBacklogSizeGB: 1\n", "", []string{"consumerBacklogSizeGB: 1", "needs a fixed producerRate"}},
		{"backlog without consumers", base + "subscriptionsPerTopic: 0\nconsumerBacklogSizeGB: 1\n", "", []string{"consumerBacklogSizeGB: 1", "needs a subscription"}},
		{"drain ratio above 1", base + "consumerBacklogSizeGB: 1\nbacklogDrainRatio: 1.5\n", "", []string{"backlogDrainRatio: 1.5"}},
		{"drain ratio without backlog", base + "backlogDrainRatio: 0.5\n", "", []string{"backlogDrainRatio: 0.5", "applies only to a backlog"}},
		{"key distributor", base + "keyDistributor: ZIPF\n", "", []string{"keyDistributor", "NO_KEY, KEY_ROUND_ROBIN or RANDOM_NANO"}},
		{"no payload", strings.Replace(base, "useRandomizedPayloads: true\n", "", 1), "", []string{"payloadFile: required"}},
		{"no rate", strings.Replace(base, "producerRate: 100\n", "", 1), "", []string{"producerRate: required"}},
		{"no duration", strings.Replace(base, "testDurationMinutes: 1\n", "", 1), "", []string{"testDurationMinutes: required"}},
		{"ramp step", base + "producerIncrementRate: 1000\n", "", []string{"producerIncrementRate: 1000", "sweep axis"}},
		{"other driver", base, "name: Pulsar\ndriverClass: io.openmessaging.benchmark.driver.pulsar.PulsarBenchmarkDriver\n", []string{"d.yaml: driverClass", "kbench drives Kafka"}},
		{"unknown driver field", base, kafka + "pulsar: {}\n", []string{"d.yaml:3", `unknown OMB driver field "pulsar"`}},
		{"bad properties", base, kafka + "producerConfig: |\n  acks\n", []string{"producerConfig", `"acks" is not key=value`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df := ""
			if tc.driver != "" {
				df = "d.yaml"
			}
			_, err := ConvertOMB("w.yaml", []byte(tc.workload), df, []byte(tc.driver))
			if err == nil {
				t.Fatal("converted without an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A Kafka property kbench does not know is refused by the profile loader,
// named, as in a profile.
func TestLoadOMBRejectsUnknownKafkaProperty(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w.yaml")
	d := filepath.Join(dir, "d.yaml")
	os.WriteFile(w, []byte("topics: 1\npartitionsPerTopic: 2\nmessageSize: 100\nuseRandomizedPayloads: true\nproducerRate: 100\ntestDurationMinutes: 1\n"), 0o644)
	os.WriteFile(d, []byte("name: Kafka\nproducerConfig: |\n  lingerr.ms=5\n"), 0o644)
	if _, _, err := LoadOMB(w, d, nil); err == nil || !strings.Contains(err.Error(), "lingerr.ms") {
		t.Fatalf("got %v, want an error naming lingerr.ms", err)
	}
}

func TestLoadOMBPayloadFileSize(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w.yaml")
	os.WriteFile(filepath.Join(dir, "p.data"), make([]byte, 10), 0o644)
	os.WriteFile(w, []byte("topics: 1\npartitionsPerTopic: 2\nmessageSize: 100\npayloadFile: p.data\nproducerRate: 100\ntestDurationMinutes: 1\n"), 0o644)
	if _, _, err := LoadOMB(w, "", nil); err == nil || !strings.Contains(err.Error(), "has 10 bytes but messageSize is 100") {
		t.Fatalf("got %v, want a payload size mismatch", err)
	}
}

func TestParseJavaProperties(t *testing.T) {
	got, err := parseJavaProperties("# comment\n! also\n\n  acks = all\nlinger.ms:5\nsasl.jaas.config=a=b\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"acks": "all", "linger.ms": "5", "sasl.jaas.config": "a=b"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"acks=all\nacks=1\n", "novalue\n", "a=b \\\n c\n"} {
		if _, err := parseJavaProperties(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func itoa[T ~int | ~int32 | ~int16](n T) string { return strconv.FormatInt(int64(n), 10) }
