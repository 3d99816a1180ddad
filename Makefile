# The two commands: `make run` and `make test`. Everything else is a helper of theirs.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_BIN = .build/release/tessera

.PHONY: all deps build release run test test-ha bench fuzz clean

all: build

deps:
	@scripts/install-deps.sh run

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product tessera

## make run: build, start the private PostgreSQL cluster under .data/, migrate, serve on 127.0.0.1:8080.
run: release
	$(RELEASE_BIN) dev

## make test: every suite against a throwaway PostgreSQL cluster; non-zero on any failure.
test:
	@scripts/install-deps.sh test
	$(SWIFT) build --build-tests
	scripts/with-test-postgres.sh scripts/run-tests.sh

## make test-ha: a Patroni cluster (etcd, three synchronous PostgreSQL nodes, HAProxy, PgBouncer) on
## loopback, two instances behind HAProxy, the primary killed under load, then a switchover.
test-ha:
	@scripts/install-deps.sh ha
	$(SWIFT) build --product tessera
	scripts/ha/run-tests.sh

## make bench: release build, then the benchmarks with their same-run references.
bench:
	@scripts/install-deps.sh bench
	$(SWIFT) build -c release --product tessera
	$(SWIFT) build -c release --product tessera-bench
	scripts/bench.sh

## make fuzz: every libFuzzer target for FUZZ_SECONDS (default 60) on its seed corpus; non-zero on a crash.
fuzz: deps
	scripts/fuzz.sh

clean:
	rm -rf .build
