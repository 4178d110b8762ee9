// Package agent spreads one load run over several load machines, with the
// Kafka cluster under test as the only channel between them: agents and
// the coordinator need only outbound access to the cluster.
//
// The control topic (DefaultTopic, one partition, created on first use
// with the replication factor the cluster allows) carries JSON messages,
// one per record, keyed by the sender:
//
//	beat      every agent, every second: name, host, the run it is busy with;
//	          the coordinator beats too while a run goes on
//	run       coordinator: the run id, the bootstrap to load, and each
//	          chosen agent's share (a bench.RunConfig with its Share)
//	interval  agent: one interval of its run, histograms in HdrHistogram's
//	          compressed V2 encoding
//	loaded    agent: its producers stopped (faults heal from here)
//	flushed   agent (e2e): its producers' records all have an outcome
//	drain     coordinator (e2e): every agent flushed, consumers may drain
//	result    agent: its own bench.Result (histograms included)
//	failed    agent: its run could not start or failed, with the error
//	stop      coordinator: end the run now (Ctrl-C, or another agent failed)
//
// An agent runs the ordinary local run (bench.Run) with its share; the
// coordinator adds the agents' histograms exactly (bench.MergeResults), so
// results, hlogs and reports look like a local run's plus a per-agent
// table. Every wait is bounded: an agent silent for Silence fails the run
// with its name, and an agent abandons a run whose coordinator went silent.
package agent
