"""The coordinator-failover scenario with confluent-kafka (librdkafka).

usage: group_failover.py consume BOOTSTRAP TOPIC GROUP PARTITIONS N
         produces N keyed records to the (existing) TOPIC, consumes about
         half of them in GROUP with subscribe() and commits synchronously.
       group_failover.py committed BOOTSTRAP TOPIC GROUP PARTITIONS
         a fresh consumer of GROUP prints the committed offsets.
Both print one line: OK {"partition": offset, ...} (-1001: none committed).
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

mode, bootstrap, topic, group, partitions = sys.argv[1:6]
partitions = int(partitions)


def committed(c):
    tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=20)
    out = {}
    for tp in tps:
        if tp.error:
            raise SystemExit("committed() error on %d: %s" % (tp.partition, tp.error))
        out[str(tp.partition)] = tp.offset
    return out


if mode == "committed":
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "latest"})
    print("OK", json.dumps(committed(c)))
    c.close()
    sys.exit(0)

n = int(sys.argv[6])
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
for i in range(n):
    p.produce(topic, key=b"key-%d" % i, value=b"value-%d" % i)
    if i % 1000 == 0:
        p.poll(0)
assert p.flush(30) == 0, "unflushed records"

c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
    "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
})
c.subscribe([topic])
seen = 0
deadline = time.time() + 40
while seen < n // 2 and time.time() < deadline:
    msgs = [m for m in c.consume(num_messages=100, timeout=1.0) if not m.error()]
    seen += len(msgs)
assert seen >= n // 2, "read %d of %d" % (seen, n)
try:
    c.commit(asynchronous=False)
except KafkaException as e:
    raise SystemExit("commit failed: %s" % e)
offs = committed(c)
c.close()
print("OK", json.dumps(offs))
