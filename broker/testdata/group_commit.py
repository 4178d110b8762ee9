"""confluent-kafka (librdkafka) consumer group with manual synchronous commits.

usage: group_commit.py consume BOOTSTRAP TOPIC GROUP PARTITIONS N
         creates the topic, produces N records, reads them all in GROUP with
         subscribe(), committing synchronously after each message batch, and
         checks committed() sums to N.
       group_commit.py committed BOOTSTRAP TOPIC GROUP PARTITIONS
         prints the group's committed offsets without joining it.
Both print one line: OK {"partition": offset, ...}.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

mode, bootstrap, topic, group, partitions = sys.argv[1:6]
partitions = int(partitions)


def committed(c):
    tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=15)
    out = {}
    for tp in tps:
        if tp.error:
            raise SystemExit("committed() error on %d: %s" % (tp.partition, tp.error))
        out[str(tp.partition)] = tp.offset
    return out


if mode == "committed":
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    print("OK", json.dumps(committed(c)))
    c.close()
    sys.exit(0)

n = int(sys.argv[6])
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=15)

p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": False})
for i in range(n):
    # Keyed: librdkafka's sticky partitioner would put keyless records in one partition.
    p.produce(topic, key=b"key-%d" % i, value=b"value-%d" % i)
    if i % 1000 == 0:
        p.poll(0)
assert p.flush(30) == 0, "unflushed records"

assigned = []
c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
    "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
})
c.subscribe([topic], on_assign=lambda _c, ps: assigned.extend(tp.partition for tp in ps))
seen = 0
deadline = time.time() + 40
while seen < n and time.time() < deadline:
    msgs = c.consume(num_messages=500, timeout=1.0)
    for m in msgs:
        if m.error():
            raise SystemExit("consume error: %s" % m.error())
    good = [m for m in msgs if not m.error()]
    if not good:
        continue
    seen += len(good)
    # The side effect (counting) is done: commit what was processed, synchronously.
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:
        raise SystemExit("commit failed: %s" % e)
assert seen == n, "read %d of %d" % (seen, n)
assert sorted(assigned) == list(range(partitions)), "assigned %r" % assigned
offs = committed(c)
total = sum(offs.values())
assert total == n, "committed offsets sum to %d, want %d: %r" % (total, n, offs)
c.close()
print("OK", json.dumps(offs))
