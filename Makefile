# accord — the two commands of the README, and a few more.
#
#   make run    build and start a local validator network
#   make test   run the whole test suite

# One target directory outside the clone keeps rebuilds short across clones and CI runs.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/accord-target
CARGO ?= cargo
LOCALNET ?= $(CURDIR)/.localnet
FUZZ_TARGET_DIR ?= $(HOME)/.cache/accord-fuzz-target
# The fuzz-smoke loop reads PIPESTATUS.
SHELL := /bin/bash

.PHONY: run test demo dist deps check lint deny fmt fuzz-build fuzz-smoke bench soak bench-deps bench-micro

deps:
	@scripts/install-deps.sh

## The whole test suite: doc tests, then unit, property, integration and CLI tests
## (nextest's summary is the last thing printed).
test: deps
	$(CARGO) test --workspace --doc --quiet
	$(CARGO) nextest run --workspace --profile ci

## Build accord and start a local network: eight validators in two regions under the
## regional quorum rule (each region's validators must agree), one process each on
## loopback; prints every node's RPC URL, then who signs in each region. Ctrl-C stops
## them all. VALIDATORS, REGIONS and LOCALNET override the shape and the home directory.
##
## It builds with the dev profile, the build `make test` makes (the workspace-hack crate
## gives every package the same dependency features), so after either the other compiles
## none of the dependencies again, RocksDB's C++ above all. Dependencies are optimized in
## that profile; an idle local network keeps the same pace as a release build, at more
## CPU (TESTING.md, "Build times"). PROFILE=release builds and runs the release binary.
VALIDATORS ?= 8
REGIONS ?= 2
PROFILE ?= dev
BIN_DIR = $(CARGO_TARGET_DIR)/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
run: deps
	$(CARGO) build --profile $(PROFILE) -p accord-node
	$(BIN_DIR)/accord localnet --validators $(VALIDATORS) --regions $(REGIONS) --home $(LOCALNET)

## Build, start a local network with a deploy agent per region, and narrate one phased
## cross-region change from proposal to receipts (scripts/demo.sh); stops by itself.
demo: deps
	$(CARGO) build --profile $(PROFILE) -p accord-node -p accord-agent
	ACCORD=$(BIN_DIR)/accord AGENT=$(BIN_DIR)/accord-agent scripts/demo.sh

## The binaries an operator installs: accord and accord-agent in release, stripped, with
## their debug symbols apart (NAME.debug, linked by .gnu_debuglink) and SHA256SUMS, in
## DIST (default dist/).
DIST ?= dist
dist: deps
	scripts/dist.sh $(DIST)

check:
	$(CARGO) check --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Licenses, banned crates and dependency sources (deny.toml).
deny:
	@command -v cargo-deny >/dev/null 2>&1 || $(CARGO) install cargo-deny --locked
	$(CARGO) deny check licenses bans sources

fmt:
	$(CARGO) fmt --all

## Instruction counts (callgrind) of block execution, block validation, consensus heights
## and mempool admission against instructions/baseline.json (scripts/instructions.sh);
## fails when one grew more than INSTRUCTIONS_THRESHOLD percent.
.PHONY: instructions instructions-baseline
INSTRUCTIONS_THRESHOLD ?= 20
instructions: deps
	THRESHOLD=$(INSTRUCTIONS_THRESHOLD) scripts/instructions.sh

## Count again and write the counts as the new baseline (commit instructions/baseline.json).
instructions-baseline: deps
	UPDATE=1 scripts/instructions.sh

## Build every fuzz target (nightly + cargo-fuzz).
fuzz-build:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz build --target-dir $(FUZZ_TARGET_DIR)

## Run every fuzz target for FUZZ_SECONDS (default 10) each.
FUZZ_SECONDS ?= 10
fuzz-smoke: fuzz-build
	cd fuzz && for t in $$($(CARGO) +nightly fuzz list); do \
		mkdir -p corpus/$$t seeds/$$t; \
		$(CARGO) +nightly fuzz run --target-dir $(FUZZ_TARGET_DIR) $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' \
			| sed "s/^/$$t: /"; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

## The open-loop benchmark suite on a release network (scripts/bench-suite.sh, about
## 10 min after the build): a sweep of offered rates to saturation (scripts/bench.sh:
## RATES, DURATION, WARMUP), one validator of four killed under load, a validator out for
## 30 s (frozen, then restarted) with and without load. JSON and a chart go to
## $(CARGO_TARGET_DIR)/release/bench/; a section with the targets met or not is appended
## to BENCHMARKS.md (APPEND=0: not).
bench: bench-deps
	$(CARGO) build --release -p accord-node -p accord-benches --bins
	BENCH_COMMAND="make bench" scripts/bench-suite.sh release

## Ten minutes (SOAK_SECONDS) at RATE tx/s, or half of SATURATION, else 1000
## (scripts/soak.sh): per-minute throughput, latency and memory; appended like `make bench`.
soak: bench-deps
	$(CARGO) build --release -p accord-node -p accord-benches --bins
	BENCH_COMMAND="make soak" SCENARIOS=soak scripts/bench-suite.sh release

bench-deps:
	@scripts/install-deps.sh bench

## Criterion benchmarks of the hot paths (types, state, runtime, consensus).
bench-micro:
	$(CARGO) bench -p accord-benches -p accord-state -p accord-runtime -p accord-consensus
