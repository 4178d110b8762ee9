"""confluent-kafka (librdkafka) round trip: AdminClient create_topics, a zstd
producer, and a consumer reading everything back. Prints "OK <count>"."""
import sys
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, partitions, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

admin = AdminClient({"bootstrap.servers": bootstrap})
fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
fs[topic].result(timeout=15)
md = admin.list_topics(topic, timeout=15)
assert len(md.topics[topic].partitions) == partitions, md.topics[topic].partitions

errors = []
delivered = [0]
def on_delivery(err, msg):
    if err is not None:
        errors.append(err)
    else:
        delivered[0] += 1

p = Producer({"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5,
              "enable.idempotence": False, "acks": "all"})
for i in range(n):
    p.produce(topic, key=b"key-%d" % (i % 100), value=b"value-%d" % i, on_delivery=on_delivery)
    if i % 1000 == 0:
        p.poll(0)
remaining = p.flush(30)
assert remaining == 0, "unflushed: %d" % remaining
assert not errors, errors[:5]
assert delivered[0] == n, delivered[0]

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kbench-test", "enable.auto.commit": False,
              "auto.offset.reset": "earliest"})
c.assign([TopicPartition(topic, i, 0) for i in range(partitions)])
seen = set()
import time
deadline = time.time() + 60
while len(seen) < n and time.time() < deadline:
    for m in c.consume(num_messages=1000, timeout=1.0):
        if m.error():
            raise SystemExit("consume error: %s" % m.error())
        v = m.value()
        assert v not in seen, "duplicate %r" % v
        seen.add(v)
c.close()
assert len(seen) == n, "read %d of %d" % (len(seen), n)
print("OK", len(seen))
