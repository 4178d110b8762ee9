// Package sweep runs sweeps: many load-generator runs over the points of a
// profile (see package profiles), each at a fixed rate, unthrottled, or at
// the highest rate meeting the profile's SLO (found by a bracket-then-bisect
// search), repeated and summarised by median and spread, written to a run
// directory that a resume continues and the reports read.
//
// # Run directory
//
// runs/<yyyymmdd-hhmmss>-<profile>/ (or --out) holds:
//
//	manifest.json   the run: versions, host, target, status, resolved profile
//	profile.yaml    the profile's YAML as read (overrides are in the manifest)
//	results.jsonl   one line per finished point (schema below)
//	hlog/           one HdrHistogram log per run: <point id>-<run name>.hlog
//	audit/          with faults or audit: true, per run <point id>-<run name>/:
//	                faults.json, fault-NN-exec.log, audit.json, audit-lost.tsv
//	broker/         embedded targets only: broker-1.log of the in-process
//	                broker (1-broker points); broker-N.log of each broker
//	                process and cluster.log of the supervisor and controller
//	                (multi-broker points), appended across restarts
//
// A line is appended (and synced) when a point finishes, so Ctrl-C or a
// crash loses at most the point in progress; --resume runs the points that
// have no line. Failed points get a line with status "failed" and the
// error; --resume --retry-failed runs them again.
//
// # manifest.json
//
// An object with: schema (1); kbench_version (make sets it to git
// describe); git_commit and git_dirty (from the build's VCS stamp, else
// from the version); go_version, os, arch, cpus, gomaxprocs, cpu_model,
// hostname; created, updated; status ("running", "interrupted" or "done");
// sessions (1 + resumes); target (a description); cluster (the first
// finished run's bench.Manifest: broker_version_guess, api_versions,
// cluster_id, brokers, ...); points, points_done, points_failed; estimated
// and elapsed (Go duration strings); profile (profiles.Profile as JSON:
// name, source, overrides, target, search, slo, repeat, axes, exclude,
// excluded, faults, audit, base and points, each point as in results
// lines).
//
// # results.jsonl
//
// One JSON object per line, one line per point, in the order points
// finished (point.index gives the sweep order). Fields:
//
//	schema      1
//	profile     profile name
//	point       the point's full configuration:
//	  index, id        1-based position; "p001", ...
//	  label            "linger.ms=5/batch.size=64KiB" ("base" without axes)
//	  axes             [{name, value, written}]: the swept settings in axis
//	                   order; value normalised (sizes in bytes, codec names
//	                   lower case, rates as numbers), written as in the profile
//	  brokers          cluster size the point needs (0 = unknown, external)
//	  topic            {name, partitions, replication_factor, configs}
//	  producer         producer properties set by the profile (Kafka names)
//	  consumer         consumer properties set by the profile
//	  workload         {record_size, keys, payload, compressibility, seed}
//	  mode             "e2e" or "produce"
//	  producers, consumers
//	  warmup, duration, interval   Go duration strings
//	  rate             {kind: "fixed"|"unthrottled"|"max-sustainable", per_sec}
//	status      "done" or "failed"
//	error       why a failed point failed
//	started     RFC 3339 time; elapsed_s: the point's wall time
//	slo         {pass, reasons[], producer_limited}: pass when every counted
//	            run met the SLO (latency bounds on the profile's histogram,
//	            error-free, achieved ≥ 99 % of the target, consumer lag ≤
//	            max_lag_s seconds of production); reasons are prefixed with
//	            the run name
//	valid, invalid_reasons   the load generator's own checks on every counted
//	            run (CPU saturation, interruption, ...), prefixed with the run
//	figures     {name: {n, median, min, max, spread_pct}} over the counted runs
//	            (one per repetition): produce_records_per_sec,
//	            produce_mib_per_sec, produce_wire_mib_per_sec,
//	            compression_ratio, consume_records_per_sec,
//	            consume_mib_per_sec, lag_at_end, cpu_cores, cpu_s_per_gb (the
//	            load generator's CPU seconds per 10^9 record bytes produced), and for each of
//	            response, service and e2e: <h>_p50_ms, <h>_p99_ms,
//	            <h>_p99_9_ms, <h>_max_ms; a max-sustainable point adds
//	            max_sustainable_rate and max_sustainable_achieved (one value
//	            per repetition's search); an audited point adds audit_lost,
//	            audit_duplicated and audit_unavailability_s; a frontier point
//	            adds its steady runs' figures prefixed steady_ (steady_response_p99_ms,
//	            ...); a backlog point (workload.backlog) adds
//	            backlog_built_records, backlog_built_mib, backlog_build_s,
//	            drain_time_s (only when it drained), drain_records_per_sec,
//	            drain_mib_per_sec, drain_produce_records_per_sec,
//	            drain_net_records_per_sec and the producers'
//	            <phase>_<h>_p50_ms and <phase>_<h>_p99_ms for phase
//	            before_drain / during_drain and h service / response. The
//	            median of an even count is the mean of the two middle
//	            values (earlier versions wrote the lower middle one);
//	            spread_pct is (max-min)/median × 100.
//	search      max-sustainable only, one per repetition: {found, achieved,
//	            bracket_lo, bracket_hi (0 = no rate failed), bracket_width_pct,
//	            calibration (the unthrottled probe's rate), converged, stop
//	            ("converged", "max_probes", "max_rate_passed",
//	            "min_rate_failed", "calibration_empty"), probes: [{rate (0 =
//	            calibration), achieved, pass, reasons, run}]}
//	runs        every run: {name ("r1", "r2", or "r1-probe03"), repeat,
//	            target_rate (0 = unthrottled), achieved_rate, counted,
//	            figures {name: value}, slo, valid, invalid_reasons, hlog,
//	            faults (with faults: the schedule, each action's events and
//	            the heal, as package inject's Report), audit (with audit:
//	            true, package audit's Report: sent, acknowledged, failed,
//	            readable, lost, duplicated, duplicate_copies,
//	            unacknowledged_present, unavailability_s, partitions,
//	            lost_ids (first 100), ...), phase and scenario (frontier
//	            points: "capacity" for the search's probes, "steady" for the
//	            run at the common rate, "fault" with its scenario's name)}
//	outcomes    frontier points, one per scenario and repetition: {scenario,
//	            repeat, run, rate, acknowledged, lost, duplicated,
//	            unavailability_s, refused (sends that failed: the producer
//	            was told), errors [{code, name, count}]}
//	result      the representative run in full, as bench.Result's JSON
//	            (settings, effective_producer_props, manifest, produce,
//	            consume, latency with base64 HDR histograms, cpu, errors,
//	            intervals, valid): the counted run whose headline figure is
//	            the median, the lower middle one for an even count (fixed:
//	            p99 of the SLO histogram; unthrottled: records/s;
//	            max-sustainable: the rate found)
//	hlog        that run's histogram log, relative to the run directory
//	audit       that run's durability audit (as in runs), when audited
//
// Counted runs: every repetition of a fixed or unthrottled point; for a
// max-sustainable point, per repetition the passing probe at the rate found.
// A frontier point's steady and fault runs are never counted: the point's
// figures are its capacity, and a fault run's latency is the fault's (its
// audit reports it as unavailability).
//
// A tune (kbench tune, package tune) writes the same directory through a
// Session: one point per measurement (m001, m002, ...), the manifest's
// profile listing the points measured so far, plus tune.json.
//
// Readers should ignore fields they do not know; a change that breaks this
// format raises schema.
package sweep
