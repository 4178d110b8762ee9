package profiles

// SchemaIntro, SchemaExample and SchemaOutro make the profile reference
// printed by "kbench profiles schema". The example is a valid profile (a
// test loads it), so the reference cannot drift from the loader.
const SchemaIntro = `A kbench sweep profile is YAML. Unknown fields, wrong types and impossible values are
errors naming the file, line, field and valid values. Every field, with an example value:

`

// SchemaExample is a complete, valid profile using every field.
const SchemaExample = `name: clickstream           # default: the file name; names the run directory and the topic
description: text
target:
  brokers: 3                # embedded cluster size (default 1: an in-process broker; more:
                            #   broker processes); with bootstrap, the real cluster's size if
                            #   you want replication.factor checked against it
  # bootstrap: host:9092,...               # a real cluster instead (or sweep --bootstrap)
  # client_properties: client.properties   # relative to the profile (or --command-config)
  # client: {security.protocol: SASL_SSL}  # inline client properties
topic:
  name: kbench-clickstream  # default kbench-<name>; deleted and recreated when its settings change
  partitions: 20            # default 6
  replication.factor: 3     # default 1 (embedded), the cluster's default (bootstrap)
  configs: {min.insync.replicas: 2, retention.ms: 600000}
producer: {acks: all, enable.idempotence: true, compression.type: zstd, linger.ms: 5, batch.size: 64KiB}
consumer: {fetch.min.bytes: 1}
workload:
  mode: e2e                 # e2e (produce and consume; default) or produce
  record_size: 1KiB         # N, uniform:MIN:MAX, normal:MEAN:STDDEV
  keys: uniform:200000      # none, round-robin[:N], uniform:N, zipf:N:S
  payload: json             # random, json (click events), file:PATH (lines sampled), blob:PATH
                            #   (the whole file is every value); paths relative to the profile
  compressibility: 0.5      # share of each random value that is repeated text
  producers: 4              # default 1
  consumers: 4              # default 1
  warmup: 10s               # per run, not measured
  duration: 30s             # per run, measured (required)
  interval: 1s              # progress and histogram log interval
  # backlog: 1GiB           # backlog and drain (e2e, fixed rate): consumers wait until this much
                            #   is retained unconsumed, then drain it while producers keep the
                            #   rate; results add the drain time and rates (the run ends at the
                            #   drain; duration bounds it). Default: none
  # drain_ratio: 1.0        # with backlog: share of the backlog to drain (0 < r <= 1; default 1)
rate: max-sustainable       # or records/s (5000, 2.5k, 1M), or unthrottled
search:                     # the max-sustainable search
  start: auto               # auto: one unthrottled probe, then start at 0.8x what it achieved
                            #   and never probe above 1.1x it; or a rate
  min: 100                  # default start/64
  max: 1M                   # default start x1000 (or 1.1x the calibration)
  factor: 2                 # bracketing step
  precision: 5%             # stop when (fail - pass) / pass <= this
  max_probes: 10            # runs per search, calibration included
slo:                        # every run is judged; the search finds the highest rate meeting it
  latency: response         # response (from the intended send time), service or e2e
  p50_ms: 5
  p99_ms: 20
  p99_9_ms: 50
  error_free: true          # no failed, unacknowledged or unconsumed record (default true)
  max_lag_s: 1              # consumer lag when producing stops, in seconds of production
                            #   (e2e; default 1); achieved >= 99 % of the target always applies
repeat: 3                   # runs per point; results keep the median and the spread
axes:                       # the sweep is the cartesian product, first axis slowest
  linger.ms: [0, 5, 20]     # any setting: rate, brokers, partitions, replication.factor,
  batch.size: [16KiB, 1MiB] #   min.insync.replicas, topic.<config>, record_size, keys, payload,
  compression: [lz4, zstd:3]  #  compressibility, producers, consumers, compression (codec[:level]),
                            #   a producer property, consumer.<property>
  scale:                    # a group axis: settings that move together
    - {partitions: 4, producers: 1}
    - {partitions: 16, producers: 4}
exclude:                    # drop points matching every entry of a rule
  - {linger.ms: 0, batch.size: [1MiB]}
faults:                     # timed faults in every run, AT after the warmup; all healed when the load
                            #   ends. kill|stop|pause|resume|restart:BROKER, kill-leader:[TOPIC/]P,
                            #   kill-leaders-on:N, delay:BROKER:DUR, bandwidth:BROKER:BYTES/s,
                            #   drop-produce:[BROKER:]FRACTION need the embedded cluster (brokers >= 2);
                            #   exec:COMMAND runs anywhere
  - 10s:kill-leader:0
  - {at: 12s, action: delay, broker: 2, delay: 200ms}
audit: true                 # read every run's records back: lost, duplicated, unavailability
# frontier:                 # instead of faults/audit, with rate: max-sustainable: per point the
#                           #   search (capacity, no faults), one run at the common rate (steady
#                           #   p50/p99) and one audited run per scenario at that rate
#   rate: 2000              # the common rate, records/s
#   scenarios:              # named fault schedules (the faults syntax above; exec:COMMAND against
#                           #   target.bootstrap: --set 'frontier.scenarios=[{name: x, faults: [...]}]')
#     - {name: lagging followers then leader kill, faults: [0s:delay:2:300ms, 0s:delay:3:300ms, 2s:kill-leader:0]}
#     - {name: followers lost one by one, faults: [0s:kill:2, 1s:kill:3]}
tune:                       # kbench tune only (other commands ignore it); its flags override each field
  budget: 15m               # time spent measuring (--budget; default 15m)
  max_runs: 60              # measurements, final confirmations included (--max-runs; default: none)
  noise: 10%                # prior noise of one measurement until repeats measure it (--noise; default 10%)
  max_repeats: 4            # measurements of one candidate to settle a close call (default 4)
  confirm: 3                # final measurements of the pick, the start and Kafka's defaults (default 3)
  space:                    # what the tune searches instead of axes, as --space takes it (one
    - linger.ms=0,5,20      #   setting per item; --space replaces an item or adds one)
    - compression=lz4,zstd:3
    - max.in.flight=1,5
`

// SchemaOutro follows the example.
const SchemaOutro = `
Override any field on the command line: kbench sweep --profile NAME --set workload.duration=5s
--set 'axes.linger.ms=[0,5]' --set topic.configs.retention.ms=60000 (VALUE is YAML).
`
