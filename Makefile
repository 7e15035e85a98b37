# swn-shop: `make run` starts everything locally; `make test` runs the whole test suite.
# Both bootstrap a private PostgreSQL cluster in .data/ (installing the server if missing).
SHELL := /bin/bash
PGPORT ?= 55432
export PGPORT
PG_URL := postgres://swn:swn@127.0.0.1:$(PGPORT)
SWIFT_BUILD_FLAGS ?=

.PHONY: run test build postgres-start postgres-stop demo queue

build:
	swift build $(SWIFT_BUILD_FLAGS)

postgres-start:
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop

## Start every service in the foreground (Ctrl-C stops them all).
run: postgres-start build
	@PG_URL=$(PG_URL) scripts/run-local.sh

## Build and run all tests against a private Postgres, then stop it.
test: postgres-start
	@set -o pipefail; status=0; \
	swift build $(SWIFT_BUILD_FLAGS) && \
	SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) SWN_TEST_DATABASE_URL=$(PG_URL)/postgres \
	swift test $(SWIFT_BUILD_FLAGS) || status=$$?; \
	scripts/postgres.sh stop; exit $$status

## Show what is waiting in the local bus's queues (QUEUE=name to list one queue's messages).
queue:
	@BUS_DATABASE_URL=$(PG_URL)/bus swift run $(SWIFT_BUILD_FLAGS) bus $(if $(QUEUE),messages $(QUEUE),queues)
