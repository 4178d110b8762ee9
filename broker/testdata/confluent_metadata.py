"""Prints what confluent-kafka's AdminClient sees of a topic's metadata."""
import sys
from confluent_kafka.admin import AdminClient

bootstrap, topic = sys.argv[1], sys.argv[2]
md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=15)
print("brokers", len(md.brokers))
for p in sorted(md.topics[topic].partitions.values(), key=lambda p: p.id):
    print("partition %d leader %d replicas %d isrs %d" % (p.id, p.leader, len(p.replicas), len(p.isrs)))
