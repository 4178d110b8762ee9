"""Exactly-once consume-transform-produce with confluent-kafka (librdkafka):
read `input`, upper-case each value, write it to `output` inside a
transaction together with the consumed offsets. The transaction holding the
record whose value ends in "-abort" is aborted once (deliberately) and then
redone. Prints "OK <committed batches> <aborted batches>"."""
import sys, time
from confluent_kafka import Consumer, Producer, TopicPartition, KafkaException

bootstrap, group, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": group + "-etl",
                     "transaction.timeout.ms": 20000})
producer.init_transactions(15)
consumer.subscribe(["input"])

done = 0
aborted_once = False
commits = aborts = 0
deadline = time.time() + 90
while done < n and time.time() < deadline:
    msgs = consumer.consume(num_messages=500, timeout=1.0)
    if not msgs:
        continue
    for m in msgs:
        if m.error():
            raise SystemExit("consume error: %s" % m.error())
    producer.begin_transaction()
    for m in msgs:
        producer.produce("output", key=m.key(), value=m.value().upper())
    offsets = {}
    for m in msgs:
        offsets[(m.topic(), m.partition())] = m.offset() + 1
    tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
    producer.send_offsets_to_transaction(tps, consumer.consumer_group_metadata(), 15)
    if not aborted_once and any(m.value().endswith(b"-abort") for m in msgs):
        producer.flush(15)  # make sure the doomed records reach the broker
        producer.abort_transaction(15)
        aborted_once = True
        aborts += 1
        # Rewind to the last committed offsets and redo the batch.
        committed = consumer.committed([TopicPartition(t, p) for (t, p) in offsets], 15)
        for tp in committed:
            consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
        continue
    producer.commit_transaction(15)
    commits += 1
    done += len(msgs)

committed = consumer.committed([TopicPartition("input", p) for p in range(3)], 15)
total = sum(tp.offset for tp in committed if tp.offset > 0)
consumer.close()
if done != n or total != n:
    raise SystemExit("processed %d of %d, committed input offsets sum to %d" % (done, n, total))
print("OK", commits, aborts)
