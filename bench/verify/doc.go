// Package verify checks a Kafka cluster's safety the Jepsen way: workloads
// (producers, a consumer group, a consume-transform-produce pipeline in
// transactions) record every operation with its outcome to a history while
// a seeded nemesis injects faults; afterwards a pure checker (Check) reads
// the history and reports anomalies. Nothing about safety is decided inside
// the workload loops, so any history can be re-checked and shared.
//
// # Run directory
//
// runs/<yyyymmdd-hhmmss>-verify-<workload>/ (or --out) holds:
//
//	history.jsonl   the history (schema below)
//	result.json     the checker's Result for it (what --json prints)
//	faults.json     embedded cluster only: the final heal (bench/faults/inject's record)
//	nemesis-NN.log  external cluster only: output of each --nemesis-cmd command
//
// # history.jsonl (schema 1)
//
// One JSON object (an Op) per line, in the order the operations completed;
// t is seconds since the run started, taken when the line was written, so
// lines are in time order. The first line has type "start" and a meta
// object:
//
//	meta.schema      1
//	meta.workload    produce | queue | txn: what the checker checks
//	meta.scenario    isr-timeline | duplicates | rebalance | eos, for a
//	                 named scenario (its timeline is printed from the history)
//	meta.topic       the topic producers write (txn: the input topic)
//	meta.output      txn: the topic the pipeline writes
//	meta.partitions  partitions of meta.topic
//	meta.group       the consumer group (queue, txn)
//	meta.idempotent  whether producers ran with enable.idempotence=true
//	meta.stall_s     txn: the --stall threshold in seconds
//	meta.seed, meta.nemesis, meta.target: how the run was made
//
// Other lines (fields absent when empty; partition and offset are 0 when
// absent, offset -1 means unknown):
//
//	type       what happened (below)
//	outcome    invoke | ok | fail | info; info means unknown (a timeout:
//	           the operation may or may not have taken effect)
//	t0         on a completion line: when the operation was invoked
//	proc       the client: producer-N, consumer-N, txn-N, downstream,
//	           observer, final-read, nemesis
//	id         a record's id "P:S" (producer P's S-th record), carried in
//	           the record's kbench-id header
//	src        txn: the input record an output record was made from
//	txn        a transaction's id "txn-N/K" (its K-th transaction)
//	topic, partition, offset, hw
//	group      commit and offsets lines
//	partitions assign, revoke and lost lines
//	isr        metadata lines: the partition's in-sync replicas
//	idem       produce invoke lines: the producer is idempotent
//	fault, brokers, error, note
//
// Types:
//
//	produce      invoke (id, topic), then ok (partition, offset), fail
//	             (definitely not written) or info (unknown); in a
//	             transaction with txn set
//	consume      ok: a consumer received the record (id, partition, offset;
//	             src and txn for pipeline output)
//	read         ok: the final read-back of the produce workload saw it
//	commit       ok, fail or info with t0: a group offset commit of one
//	             partition (offset = the next offset to consume)
//	offsets      ok with t0: the observer read the group's committed offset
//	             of a partition (offset -1: none)
//	assign, revoke, lost
//	             a group member was given or lost partitions
//	txn-begin    invoke: proc began txn
//	txn-commit   ok (committed), info (unknown) or fail
//	txn-abort    ok: the transaction was aborted
//	fault-start, fault-stop
//	             the nemesis applied or healed fault (brokers acted on)
//	metadata     a partition's leader (brokers) and isr changed
//	ends         ok: at the end, a partition's last stable offset (offset)
//	             and high watermark (hw) of the topic
//	phase        note names a phase: load-start, load-end (the nemesis
//	             stops and heals), healed, drained, end
//
// Readers ignore unknown fields and types, so later schemas only add.
package verify
