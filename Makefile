# Every entry point of the project. `make demo` and `make test` set up what
# they need on a fresh machine: a Python virtual environment with maturin and
# pytest, and C and Go toolchains (from Debian's packages when missing).

SHELL := /bin/bash
CARGO ?= cargo
GO ?= go
CC ?= cc
CXX ?= c++
PYTHON ?= python3

ROOT := $(abspath .)
VENV := $(ROOT)/.venv
VPY := $(VENV)/bin/python
RELEASE_DIR := $(ROOT)/target/release
SHARED_LIB := $(RELEASE_DIR)/libstockkeeper.so
STATIC_LIB := $(RELEASE_DIR)/libstockkeeper.a
BUILD := $(ROOT)/build

.PHONY: all demo test test-rust test-c test-cpp test-python test-go header check-header \
        lib python-package toolchains clean

all: lib python-package

demo: python-package
	$(VPY) python/examples/flash_sale.py

test: test-rust test-c test-cpp test-python test-go

# Debian's packages for the C side, only when the machine lacks them.
toolchains:
	@command -v $(CC) >/dev/null && command -v $(CXX) >/dev/null && command -v pkg-config >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq build-essential pkg-config)
	@command -v $(GO) >/dev/null || (apt-get update -qq && apt-get install -y -qq golang-go)

lib:
	$(CARGO) build --release --lib

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "maturin>=1.8,<2" "pytest>=8"

python-package: $(VPY)
	PATH="$(VENV)/bin:$$PATH" $(VPY) -m pip install --quiet --no-build-isolation ./python

test-rust:
	$(CARGO) test --all-targets

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

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(BUILD) python/target
