"""kafka-python round trip: produce n records, read them back with a manually
assigned consumer. Prints "OK <count>"."""
import sys, time
from kafka import KafkaProducer, KafkaConsumer, TopicPartition

bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

p = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
futures = [p.send(topic, key=b"k%d" % (i % 10), value=b"value-%d" % i) for i in range(n)]
p.flush(30)
for f in futures:
    f.get(timeout=30)
p.close()

c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                  auto_offset_reset="earliest", consumer_timeout_ms=5000)
parts = c.partitions_for_topic(topic)
assert parts, "no partitions for %s" % topic
c.assign([TopicPartition(topic, p) for p in parts])
c.seek_to_beginning()
seen = set()
deadline = time.time() + 60
while len(seen) < n and time.time() < deadline:
    for recs in c.poll(timeout_ms=1000, max_records=2000).values():
        for r in recs:
            assert r.value not in seen, "duplicate %r" % r.value
            seen.add(r.value)
c.close()
assert len(seen) == n, "read %d of %d" % (len(seen), n)
print("OK", len(seen))
