"""librdkafka cooperative-sticky rebalance: consumer A owns all partitions of
a 4-partition topic, consumer B joins; A must give up exactly the partitions
B receives (incrementally), keep the rest, and never be revoked wholesale.

usage: group_coop.py BOOTSTRAP TOPIC GROUP
Prints: OK {"a": [...], "b": [...], "a_revoked": [...]}.
"""
import json
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, group = sys.argv[1:4]
admin = AdminClient({"bootstrap.servers": bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result(timeout=15)


def consumer(name, owned, revoked):
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })

    def on_assign(_c, ps):
        owned.update(tp.partition for tp in ps)

    def on_revoke(_c, ps):
        revoked.append(sorted(tp.partition for tp in ps))
        owned.difference_update(tp.partition for tp in ps)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    return c


def poll_until(cs, cond, what, limit=25):
    deadline = time.time() + limit
    while not cond():
        if time.time() > deadline:
            raise SystemExit("timed out waiting for " + what)
        for c in cs:
            c.poll(0.1)


a_owned, a_revoked = set(), []
a = consumer("a", a_owned, a_revoked)
poll_until([a], lambda: a_owned == {0, 1, 2, 3}, "A to own all partitions")
b_owned, b_revoked = set(), []
b = consumer("b", b_owned, b_revoked)
poll_until([a, b], lambda: len(a_owned) == 2 and len(b_owned) == 2, "a 2/2 split")
# Let any further (wrong) rebalance show itself.
end = time.time() + 2
while time.time() < end:
    a.poll(0.1)
    b.poll(0.1)
assert len(a_owned) == 2 and len(b_owned) == 2, (a_owned, b_owned)
assert a_owned.isdisjoint(b_owned), (a_owned, b_owned)
flat = sorted(p for r in a_revoked for p in r)
assert flat == sorted(b_owned), "A revoked %r, B got %r: not incremental" % (a_revoked, b_owned)
assert not b_revoked, "B was revoked %r" % b_revoked
result = {"a": sorted(a_owned), "b": sorted(b_owned), "a_revoked": list(a_revoked)}
b.close()
a.close()
print("OK", json.dumps(result))
