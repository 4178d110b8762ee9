"""librdkafka members of a classic group read a 4-partition topic that this
script writes to the whole time, while member C joins, C leaves and B
leaves. Each member commits its positions (synchronously) before it gives
partitions up and starts from the earliest offset when nothing is committed.
Once writing stops and A has caught up, every offset below each partition's
end must have been delivered to some member.

usage: group_rebalance.py BOOTSTRAP TOPIC GROUP ASSIGNOR REPLICATION
Prints: OK {"produced": N, "again": M, "by_member": {...}}, or exits non-zero naming the offsets
no member received.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, group, assignor, rf = sys.argv[1:6]
PARTS = 4
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=PARTS, replication_factor=int(rf))])[topic].result(timeout=15)

delivered = {p: {} for p in range(PARTS)}  # partition -> offset -> times
failed = []


def commit(c):
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:
        if e.args[0].code() != KafkaError._NO_OFFSET:
            failed.append("commit: %s" % e)


def consumer(name):
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
        "partition.assignment.strategy": assignor,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 200,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    })
    c.subscribe([topic], on_revoke=lambda c, _ps: commit(c))
    return c


def on_delivery(err, _msg):
    if err is not None:
        failed.append("produce: %s" % err)


producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
members = {}
by_member = {}


def step(seconds):
    """Writes a round to every partition each 10 ms and polls every member,
    for about seconds. Members use poll(): librdkafka 2.0's batch consume()
    can store a message's offset (so a commit covers it) without handing
    the message to the application when a rebalance interrupts the batch
    (a known issue of that API, listed with librdkafka 2.0.0)."""
    deadline = time.time() + seconds
    next_round = time.time()
    while time.time() < deadline:
        if producer is not None and time.time() >= next_round:
            for p in range(PARTS):
                producer.produce(topic, b"v", partition=p, on_delivery=on_delivery)
            producer.poll(0)
            next_round += 0.01
        for name, c in members.items():
            m = c.poll(0.005)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    failed.append("consume: %s" % m.error())
                continue
            seen = delivered[m.partition()]
            seen[m.offset()] = seen.get(m.offset(), 0) + 1
            by_member[name] = by_member.get(name, 0) + 1


def leave(name):
    c = members.pop(name)
    commit(c)
    c.close()


members["a"], members["b"] = consumer("a"), consumer("b")
step(4)
members["c"] = consumer("c")
step(4)
leave("c")
step(3)
leave("b")
step(3)
producer.flush(15)
producer = None
low_high = {}
probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group + "-probe"})
for p in range(PARTS):
    low_high[p] = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
probe.close()
deadline = time.time() + 20
while time.time() < deadline and any(low_high[p] > 0 and (low_high[p] - 1) not in delivered[p] for p in range(PARTS)):
    step(0.1)
leave("a")

missing, again = [], 0
for p in range(PARTS):
    start = None
    for o in range(low_high[p] + 1):
        got = o in delivered[p]
        if o < low_high[p] and got:
            again += delivered[p][o] - 1
        if not got and o < low_high[p] and start is None:
            start = o
        elif (got or o == low_high[p]) and start is not None:
            missing.append("partition %d: %d..%d" % (p, start, o - 1))
            start = None
if failed:
    raise SystemExit("errors: %s" % failed[:5])
if by_member.get("c", 0) == 0:
    raise SystemExit("member c received nothing: the join did not happen while writing (%s)" % by_member)
if missing:
    raise SystemExit("offsets produced but delivered to no member: %s" % missing)
print("OK", json.dumps({"produced": sum(low_high.values()), "again": again, "by_member": by_member}))
