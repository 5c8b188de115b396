# Every entry point of the project. `make demo` and `make test` set up what
# they need on a fresh machine: a Python virtual environment with maturin and
# pytest, and C and Go toolchains (from Debian's packages when missing).

SHELL := /bin/bash
CARGO ?= cargo
GO ?= go
# make has defaults of its own for these two, which `?=` would keep.
ifeq ($(origin CC),default)
CC := cc
endif
ifeq ($(origin CXX),default)
CXX := c++
endif
PYTHON ?= python3
# apt-get needs root: through sudo when the user is not, and sudo is there.
SUDO := $(if $(filter 0,$(shell id -u)),,$(if $(shell command -v sudo),sudo))

ROOT := $(abspath .)
VENV := $(ROOT)/.venv
VPY := $(VENV)/bin/python
RELEASE_DIR := $(ROOT)/target/release
SHARED_LIB := $(RELEASE_DIR)/libstockkeeper.so
STATIC_LIB := $(RELEASE_DIR)/libstockkeeper.a
BUILD := $(ROOT)/build

.PHONY: all demo test test-rust test-c test-cpp test-python test-go header check-header \
        lib python-package c-toolchain toolchains bench clean verify verify-linearizability \
        verify-valgrind verify-miri verify-tsan verify-fuzz verify-python-properties verify-loom \
        nightly

all: lib python-package

demo: c-toolchain python-package
	$(VPY) python/examples/flash_sale.py

# The C toolchain comes first: cargo and maturin link with it too.
test: toolchains test-rust verify-loom test-c test-cpp test-python test-go

# Debian's packages for the C side, only when the machine lacks them.
c-toolchain:
	@command -v $(CC) >/dev/null && command -v $(CXX) >/dev/null && command -v pkg-config >/dev/null \
	  || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq build-essential pkg-config)

toolchains: c-toolchain
	@command -v $(GO) >/dev/null || { echo "Go 1.22 or later is needed (https://go.dev/dl);" \
	  "Debian 12's golang-go is too old for the Go package"; exit 1; }

lib:
	$(CARGO) build --release --lib

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "maturin>=1.9.4,<2" "pytest>=8"

python-package: c-toolchain $(VPY)
	PATH="$(VENV)/bin:$$PATH" $(VPY) -m pip install --quiet --no-build-isolation ./python

test-rust: c-toolchain
	$(CARGO) test --all-targets
	$(CARGO) test --doc

# Regenerates include/stockkeeper.h from the sources.
header:
	STOCKKEEPER_WRITE_HEADER=1 $(CARGO) test --test header

test-c: toolchains lib
	$(MAKE) -C tests/c run ROOT=$(ROOT) CC=$(CC)

test-cpp: toolchains lib
	$(MAKE) -C bindings/cpp run ROOT=$(ROOT) CXX=$(CXX)

test-python: python-package
	cd python && $(VPY) -m pytest -q -W error tests

test-go: toolchains lib
	cd bindings/go && CGO_ENABLED=1 $(GO) vet ./... && CGO_ENABLED=1 $(GO) test -count=1 ./...
	# The benchmark-only files: vetted, and their helpers tested.
	cd bindings/go && CGO_ENABLED=1 $(GO) vet -tags $(GO_BENCH_TAG) ./... && \
	  CGO_ENABLED=1 $(GO) test -tags $(GO_BENCH_TAG) -count=1 -run BenchSplit ./...

# The long checks (tests/VERIFICATION.md says what each proves). Each runs
# even when an earlier one failed; the target fails if any did. Miri,
# ThreadSanitizer and cargo-fuzz need a nightly toolchain, installed here and
# never by `make test`; where it cannot be had they say so and are skipped.
LIN_HISTORIES ?= 50000
HYPOTHESIS_EXAMPLES ?= 20000
FUZZ_SECONDS ?= 120
HOST := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
VERIFY_STEPS := verify-linearizability verify-valgrind verify-miri verify-tsan verify-fuzz \
                verify-python-properties verify-loom

verify:
	@failed=""; for step in $(VERIFY_STEPS); do \
	  echo "== $$step"; start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	  echo "== $$step: $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

verify-linearizability:
	STOCKKEEPER_LIN_HISTORIES=$(LIN_HISTORIES) $(CARGO) test --release --test linearizability

verify-valgrind: toolchains lib
	@command -v valgrind >/dev/null \
	  || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq valgrind)
	$(MAKE) -C tests/c run-valgrind ROOT=$(ROOT) CC=$(CC)

# Loom's model checker on the backend's races (src/loom_models.rs), with every
# lock and map of the backend built on loom's (src/sync.rs). `--cfg loom`
# rebuilds every crate, so it builds in a target directory of its own. The
# preemption bound is fixed in the models; each prints how many executions
# it explored.
verify-loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(ROOT)/target/loom $(CARGO) test --release --lib \
	  loom_models -- --nocapture --test-threads 1

# Succeeds with a note when no nightly toolchain can be installed; the steps
# that need it check again and skip.
nightly:
	@rustup toolchain install nightly --profile minimal --component miri,rust-src \
	  || echo "note: no nightly toolchain here; Miri, ThreadSanitizer and fuzzing are skipped"

HAVE_NIGHTLY = rustup run nightly cargo miri --version >/dev/null 2>&1

# The core's unit tests, then the C ABI driver of the fuzz target on its kept
# and generated inputs: every unsafe block of the boundary under Miri. An
# engine reads the wall clock once, so runs that start one need isolation off.
verify-miri: nightly
	@if ! $(HAVE_NIGHTLY); then echo "skipped: no nightly with Miri"; exit 0; fi; \
	MIRIFLAGS=-Zmiri-disable-isolation CARGO_TARGET_DIR=$(ROOT)/target/miri \
	  $(CARGO) +nightly miri test --lib && \
	MIRIFLAGS=-Zmiri-disable-isolation CARGO_TARGET_DIR=$(ROOT)/target/miri \
	  $(CARGO) +nightly miri test --test fuzz_regressions

# The stress, lifecycle and close-racing tests with every crate, std
# included, built for ThreadSanitizer.
verify-tsan: nightly
	@if ! $(HAVE_NIGHTLY); then echo "skipped: no nightly"; exit 0; fi; \
	RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
	  TSAN_OPTIONS="halt_on_error=1" CARGO_TARGET_DIR=$(ROOT)/target/tsan \
	  $(CARGO) +nightly test -Zbuild-std --target $(HOST) --test stress --test lifecycle \
	    --test atomicity --test close_racing_calls --test observe --test batches

# Crashing inputs land in tests/fuzz/artifacts; copy them to
# tests/fuzz/regressions, where the normal test suite replays them.
verify-fuzz: nightly
	@if ! $(HAVE_NIGHTLY); then echo "skipped: no nightly"; exit 0; fi; \
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked; \
	$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz c_abi -- \
	  -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -print_final_stats=1

# Hypothesis is installed for this check only, never by `make test`.
verify-python-properties: python-package
	$(VPY) -m pip install --quiet "hypothesis>=6"
	cd python && STOCKKEEPER_HYPOTHESIS_EXAMPLES=$(HYPOTHESIS_EXAMPLES) $(VPY) -m pytest -q -W error \
	  tests/test_properties.py

# The benchmark suite, a few minutes on two cores: the Rust core against a
# minimal reference, the C and Go front doors against Rust, InventoryService
# against the original pure-Python service. Each language's figures go to
# build/bench; the report sets each against its baseline from the same run.
BENCH_OUT := $(BUILD)/bench
# The front doors' pairs differ by tens of nanoseconds, less than one run
# drifts from the next on a shared machine: they run this many times more,
# Rust, C and Go in turn, and each door's least disturbed run counts.
FFI_ROUNDS ?= 5
# Builds the Go benchmarks that split a pair's time into the front door's
# code, the crossings into C and the engine (bindings/go/benchsplit.go).
GO_BENCH_TAG := stockkeeper_bench
# The Go benchmarks that run in every round with Rust's and C's.
GO_ROUND_PAIRS := Block(Many)?|BlockConfirm(Bare|LoopedInC|Many|Subscribed)?
GO_ROUND_BENCH := ^Benchmark($(GO_ROUND_PAIRS)|Available|CgoFloor|Cold.*)$$
# More runs of the core's throughput workloads; the report keeps each
# figure's fastest. The mass expiry, whose target is a worst case, runs once.
CORE_ROUNDS ?= 2
# The original pure-Python service, the Python figures' baseline. It is not
# part of the repository; without it those ratios are reported missing.
ORIGINAL ?= $(ROOT)/../shared/reference/original_solution.py

bench: toolchains lib python-package
	mkdir -p $(BENCH_OUT)
	$(CARGO) bench --bench engine > $(BENCH_OUT)/rust.jsonl
	for round in $$(seq $(CORE_ROUNDS)); do \
	  for workload in catalogue load-2 load-ahead load-ahead-2 flash py-scale; do \
	    $(CARGO) bench -q --bench engine -- --only $$workload >> $(BENCH_OUT)/rust.jsonl \
	      || exit 1; \
	  done; \
	done
	$(MAKE) -s --no-print-directory -C tests/c bench ROOT=$(ROOT) CC=$(CC) > $(BENCH_OUT)/c.jsonl
	cd bindings/go && CGO_ENABLED=1 $(GO) test -tags $(GO_BENCH_TAG) -run '^$$' -bench . \
	  -benchtime 1000000x -count 1 > $(BENCH_OUT)/go.txt
	$(VPY) python/benchmarks/bench_service.py --original "$(ORIGINAL)" > $(BENCH_OUT)/python.jsonl
	rm -f $(BENCH_OUT)/ffi.jsonl $(BENCH_OUT)/ffi-go.txt
	for round in $$(seq $(FFI_ROUNDS)); do \
	  $(CARGO) bench -q --bench engine -- --workload ffi-pairs --subject engine \
	    >> $(BENCH_OUT)/ffi.jsonl && \
	  $(CARGO) bench -q --bench engine -- --workload ffi-subscribed --subject engine \
	    >> $(BENCH_OUT)/ffi.jsonl && \
	  $(MAKE) -s --no-print-directory -C tests/c bench ROOT=$(ROOT) CC=$(CC) \
	    >> $(BENCH_OUT)/ffi.jsonl && \
	  (cd bindings/go && CGO_ENABLED=1 $(GO) test -tags $(GO_BENCH_TAG) -run '^$$' \
	    -bench '$(GO_ROUND_BENCH)' \
	    -benchtime 1000000x -count 1) >> $(BENCH_OUT)/ffi-go.txt || exit 1; \
	done
	$(PYTHON) tests/bench/report.py $(BENCH_OUT) tests/bench/RESULTS.md

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(BUILD) python/target
