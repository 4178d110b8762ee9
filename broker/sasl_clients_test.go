package broker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SASL_SSL with SCRAM-SHA-512 driven by the three real client stacks of
// issue 11: kcat (librdkafka 2.0.2), python3-confluent-kafka (the same
// librdkafka from Python) and kafka-python 2.0.2 (SaslHandshake v0 and raw
// tokens), beside franz-go (sasl_test.go). Each round-trips records and
// fails fast with a wrong password.

// confluentSASLScript produces n records and reads them back over SASL_SSL;
// with a wrong password it must report an authentication error quickly.
const confluentSASLScript = `
import sys, time
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaError
from confluent_kafka.admin import AdminClient

bootstrap, ca, mech, user, password, topic, n = sys.argv[1:8]
n = int(n)
conf = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
        "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": password}
if n == 0:
    # librdkafka reports the failure through error_cb, served by poll().
    errs = []
    start = time.time()
    a = AdminClient(dict(conf, error_cb=lambda e: errs.append((time.time() - start, e))))
    def auth_errors():
        return [(t, e) for t, e in errs if e.code() == KafkaError._AUTHENTICATION]
    while time.time() - start < 15 and not auth_errors():
        a.poll(0.1)
    hits = auth_errors()
    assert hits, "no authentication error within 15 s: %s" % errs
    print("AUTHFAIL %.2fs %s" % (hits[0][0], hits[0][1].str()))
    sys.exit(0)

delivered, errors = [0], []
def on_delivery(err, msg):
    if err is not None:
        errors.append(err)
    else:
        delivered[0] += 1
p = Producer(dict(conf, **{"linger.ms": 5, "acks": "all"}))
for i in range(n):
    p.produce(topic, value=b"v-%d" % i, on_delivery=on_delivery)
    if i % 500 == 0:
        p.poll(0)
assert p.flush(30) == 0
assert not errors, errors[:3]
assert delivered[0] == n, delivered[0]
c = Consumer(dict(conf, **{"group.id": "sasl-test", "enable.auto.commit": False}))
c.assign([TopicPartition(topic, 0, 0)])
seen = set()
deadline = time.time() + 30
while len(seen) < n and time.time() < deadline:
    for m in c.consume(num_messages=1000, timeout=1.0):
        if m.error():
            raise SystemExit("consume error: %s" % m.error())
        seen.add(m.value())
c.close()
assert len(seen) == n, "read %d of %d" % (len(seen), n)
print("OK", len(seen))
`

// kafkaPythonSASLScript is the same with kafka-python 2.0.2.
const kafkaPythonSASLScript = `
import sys, time
from kafka import KafkaProducer, KafkaConsumer, TopicPartition

bootstrap, ca, mech, user, password, topic, n = sys.argv[1:8]
n = int(n)
conf = dict(bootstrap_servers=bootstrap, security_protocol="SASL_SSL", ssl_cafile=ca,
            sasl_mechanism=mech, sasl_plain_username=user, sasl_plain_password=password)
if n == 0:
    start = time.time()
    try:
        KafkaProducer(request_timeout_ms=10000, **conf)
        raise SystemExit("connected with a wrong password")
    except Exception as e:
        print("AUTHFAIL %.1f %s" % (time.time() - start, type(e).__name__))
    sys.exit(0)

p = KafkaProducer(acks=1, linger_ms=5, **conf)
futures = [p.send(topic, value=b"v-%d" % i) for i in range(n)]
p.flush(30)
for f in futures:
    f.get(timeout=30)
p.close()
c = KafkaConsumer(group_id=None, enable_auto_commit=False, consumer_timeout_ms=5000, **conf)
c.assign([TopicPartition(topic, 0)])
c.seek_to_beginning()
seen = set()
deadline = time.time() + 30
while len(seen) < n and time.time() < deadline:
    for recs in c.poll(timeout_ms=1000, max_records=2000).values():
        for r in recs:
            seen.add(r.value)
c.close()
assert len(seen) == n, "read %d of %d" % (len(seen), n)
print("OK", len(seen))
`

// timeToLine runs a command until a line of its output contains want and
// returns how long that took and the line; it fails the test if the line does
// not come within timeout.
func timeToLine(t *testing.T, timeout time.Duration, want, name string, args ...string) (time.Duration, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		pw.Close()
	}()
	defer cmd.Process.Kill()
	var seen []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return time.Since(start), strings.TrimSpace(sc.Text())
		}
		seen = append(seen, sc.Text())
	}
	t.Fatalf("%s: no line containing %q within %s; output:\n%s", name, want, timeout, strings.Join(seen, "\n"))
	return 0, ""
}

func createSecureTopic(t *testing.T, s secureSetup, topic string) {
	t.Helper()
	cl := newClient(t, s.b, kgo.DialTLSConfig(s.clientTLS(t)), kgo.SASL(mechanism(MechSCRAMSHA512, testUser, testPass)))
	if _, err := kadm.NewClient(cl).CreateTopic(testCtx(t, 10*time.Second), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

func TestSASLSSLKcat(t *testing.T) {
	kcat := requireTool(t, "kcat")
	s := startSecureBroker(t, ProtocolSASLSSL)
	createSecureTopic(t, s, "kcat-sasl")
	conf := func(pass string) []string {
		return []string{"-b", s.b.Addr(), "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username=" + testUser, "-X", "sasl.password=" + pass, "-X", "ssl.ca.location=" + filepath.Join(s.certDir, "ca.pem")}
	}
	const n = 2000
	var in bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "kcat-%d\n", i)
	}
	run(t, 30*time.Second, in.Bytes(), kcat, append(conf(testPass), "-P", "-t", "kcat-sasl")...)
	out := run(t, 30*time.Second, nil, kcat, append(conf(testPass), "-C", "-t", "kcat-sasl", "-e", "-q")...)
	// kcat exits 0 even when nothing was delivered: count what came back.
	if got := strings.Count(string(out), "\n"); got != n {
		t.Fatalf("kcat read %d messages, want %d", got, n)
	}
	if s.b.SendfileBytes() != 0 {
		t.Fatal("sendfile used under TLS")
	}

	// librdkafka reports the failure at once; kcat -L then waits out its
	// metadata timeout, so time the error line, not the exit.
	took, line := timeToLine(t, 15*time.Second, "uthentication", kcat, append(conf("wrong"), "-L", "-m", "10")...)
	if took > 5*time.Second {
		t.Fatalf("kcat with a wrong password: authentication error after %s", took)
	}
	t.Logf("kcat, wrong password: error after %s: %s", took.Round(time.Millisecond), line)
}

func TestSASLSSLPythonConfluent(t *testing.T) {
	requireTool(t, debianPython)
	s := startSecureBroker(t, ProtocolSASLSSL)
	createSecureTopic(t, s, "py-sasl")
	ca := filepath.Join(s.certDir, "ca.pem")
	out := run(t, 90*time.Second, nil, debianPython, "-c", confluentSASLScript, s.b.Addr(), ca, MechSCRAMSHA512, testUser, testPass, "py-sasl", "3000")
	if !strings.Contains(string(out), "OK 3000") {
		t.Fatalf("confluent-kafka over SASL_SSL: %s", out)
	}
	out = run(t, 30*time.Second, nil, debianPython, "-c", confluentSASLScript, s.b.Addr(), ca, MechSCRAMSHA512, testUser, "wrong", "py-sasl", "0")
	if !strings.Contains(string(out), "AUTHFAIL") {
		t.Fatalf("confluent-kafka with a wrong password: %s", out)
	}
	t.Logf("confluent-kafka, wrong password: %s", strings.TrimSpace(string(out)))
}

func TestSASLSSLPythonKafka(t *testing.T) {
	requireTool(t, debianPython)
	s := startSecureBroker(t, ProtocolSASLSSL)
	createSecureTopic(t, s, "kp-sasl")
	ca := filepath.Join(s.certDir, "ca.pem")
	out := run(t, 90*time.Second, nil, debianPython, "-c", kafkaPythonSASLScript, s.b.Addr(), ca, MechSCRAMSHA512, testUser, testPass, "kp-sasl", "2000")
	if !strings.Contains(string(out), "OK 2000") {
		t.Fatalf("kafka-python over SASL_SSL: %s", out)
	}
	start := time.Now()
	out = run(t, 30*time.Second, nil, debianPython, "-c", kafkaPythonSASLScript, s.b.Addr(), ca, MechSCRAMSHA512, testUser, "wrong", "kp-sasl", "0")
	if !strings.Contains(string(out), "AUTHFAIL") || time.Since(start) > 15*time.Second {
		t.Fatalf("kafka-python with a wrong password after %s: %s", time.Since(start), out)
	}
	t.Logf("kafka-python, wrong password: %s", strings.TrimSpace(string(out)))
}
