# kbench — see README.md. `make run` and `make test` are the two set-up commands.
GO       ?= go
BIN      := bin/kbench
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/kbench/kbench/internal/cli.Version=$(VERSION)
APT_PKGS := kcat python3-confluent-kafka python3-kafka chromium prometheus
FUZZTIME ?= 10s

.PHONY: build run test test-deps bench fuzz vet clean test-soak fuzz-long test-chaos

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kbench

# The main job: builds and runs the quick sweep profile end to end on the
# embedded 3-broker cluster (about a minute of sweep): a short throughput-
# versus-durability frontier (three durability levels, each its max
# sustainable rate without faults and an audited leader kill with lagging
# followers), written to runs/<time>-quick/; then its report (charts,
# report.md, a self-contained report.html) into that run's report/.
run: build
	./$(BIN) sweep --profile quick
	@dir=$$(ls -td runs/*-quick/ | head -n 1); dir=$${dir%/}; \
		./$(BIN) report "$$dir" && echo "open the report: $$dir/report/report.html"

# Installs what the integration tests need (Debian packages), then runs every test.
test: test-deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

test-deps:
	@if ! command -v kcat >/dev/null 2>&1 || ! /usr/bin/python3 -c 'import confluent_kafka, kafka' >/dev/null 2>&1 || ! test -x /usr/bin/chromium || ! test -x /usr/bin/prometheus; then \
		echo "installing test prerequisites: $(APT_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi
	@command -v kcat >/dev/null && /usr/bin/python3 -c 'import confluent_kafka, kafka' && test -x /usr/bin/chromium && test -x /usr/bin/prometheus \
		|| { echo "test prerequisites missing: $(APT_PKGS)"; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./broker/... ./bench/...

# Broker performance harness: the null-broker ceiling, a store-only ceiling (the
# null broker appending every batch to a file), kbench RF=1, a 3-broker
# RF=3 cluster and kfake (one in-memory broker, nothing replicated) side by side;
# prints the ratio table and the broker's performance targets (throughput
# against the ceiling and kfake, catch-up speed, p99 at half load, allocations
# per request), writes runs/selfbench/selfbench.json and the chart.
# 7 to 8 minutes on 2 cores.
.PHONY: bench-broker
bench-broker: build
	./$(BIN) selfbench --out runs/selfbench

# Generator ceiling: kbench's produce, consume and e2e against a bare franz-go
# loop on the null broker, side by side; prints the ratio table and verdicts and
# writes runs/selfbench-generator/generator.json. About 10 minutes on 2 cores.
.PHONY: bench-generator
bench-generator: build
	./$(BIN) selfbench generator --out runs/selfbench-generator

# Short, bounded run of every fuzz target (FUZZTIME each).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The fuzzing campaign: every fuzz target, FUZZ_LONG_TOTAL executions in all,
# split evenly (-fuzztime Nx), each target's count printed. About 35 minutes
# on 2 cores, half of it profiles' FuzzParse (~1k execs/s); FuzzRequestFrame
# runs ~10-15k execs/s.
FUZZ_LONG_TOTAL ?= 10000000
fuzz-long:
	@targets=$$(for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do echo "$$pkg:$$t"; done; done); \
	n=$$(echo "$$targets" | wc -w); per=$$(( ($(FUZZ_LONG_TOTAL) + n - 1) / n )); total=0; \
	echo "fuzz-long: $$n targets, $$per executions each"; \
	for pt in $$targets; do pkg=$${pt%%:*}; t=$${pt##*:}; start=$$(date +%s); \
		out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${per}x $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		execs=$$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1 | cut -d' ' -f2); \
		echo "$$pkg $$t: $${execs:-0} executions in $$(( $$(date +%s) - start ))s"; total=$$((total + $${execs:-0})); \
	done; \
	echo "fuzz-long: $$total executions in total"; \
	[ $$total -ge $(FUZZ_LONG_TOTAL) ] || { echo "fuzz-long: fewer than $(FUZZ_LONG_TOTAL) executions"; exit 1; }

# Broker soak test (not part of `make test`): 1,000 connections of mixed
# produce/fetch/metadata plus malformed frames for about two minutes.
test-soak:
	$(GO) test -tags soak -run '^TestSoak$$' -count=1 -timeout 5m -v ./broker/

# Random fault suite (not part of `make test`): SEEDS verify runs of
# DURATION each on a fresh embedded 3-broker cluster, the workloads taken
# in turn, under kill / pause / restart / delay / bandwidth faults on
# random brokers, the current leaders and the coordinators. Prints a table
# and fails on any anomaly; CHAOS_KEEP=DIR keeps failed runs' histories.
# 20 seeds of 60 s take about 22 minutes (each seed a minute of load, a
# few seconds of start, heal and drain; a failed heal adds up to a minute).
SEEDS ?= 20
DURATION ?= 60s
WORKLOADS ?= produce,queue,txn
test-chaos:
	KBENCH_CHAOS_KEEP=$(CHAOS_KEEP) $(GO) test -tags chaos -run '^TestChaos$$' -count=1 -timeout 90m -v ./bench/verify/ \
		-args -chaos.seeds=$(SEEDS) -chaos.duration=$(DURATION) -chaos.workloads=$(WORKLOADS)

vet:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

clean:
	rm -rf bin
