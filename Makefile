# swn-shop: `make run` starts everything locally; `make test` runs the whole test suite.
# Both bootstrap a private PostgreSQL cluster in .data/ (installing the server if missing).
SHELL := /bin/bash
PGPORT ?= 55432
export PGPORT
PG_URL := postgres://swn:swn@127.0.0.1:$(PGPORT)
MOTO_SERVER ?= $(shell command -v moto_server || pyenv which moto_server 2>/dev/null)
export MOTO_SERVER
SWIFT_BUILD_FLAGS ?=
# Where scripts/swift-test.sh and scripts/schemathesis.sh keep their logs and the summaries `make test` prints last.
SWN_TEST_LOG_DIR ?= $(CURDIR)/.build/test-logs
export SWN_TEST_LOG_DIR

.PHONY: run test test-tools build postgres-start postgres-stop demo queue chaos replicas soak browser-test browser-test-tools

build:
	swift build $(SWIFT_BUILD_FLAGS)

postgres-start:
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop

## Start every service in the foreground, with a mail sink that shows notification-service's e-mails at
## http://127.0.0.1:8025/ (scripts/mail_sink.py; aiosmtpd installed when missing). Ctrl-C stops them all.
run: postgres-start build
	@PG_URL=$(PG_URL) scripts/run-local.sh

## Build and run all tests against a private Postgres (and moto for the AWS-side peers), then
## schemathesis against the served OpenAPI description and the storefront in Chromium, then stop Postgres.
## swift test runs through scripts/swift-test.sh: a failed test is run once more alone, and the run ends with a
## summary of all three parts (which tests failed, with their issues; a test that passed only alone is named flaky).
test: postgres-start test-tools browser-test-tools
	@set -o pipefail; unit=0; fuzz=0; browser=0; \
	swift build $(SWIFT_BUILD_FLAGS) && \
	SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) SWN_TEST_DATABASE_URL=$(PG_URL)/postgres \
	scripts/swift-test.sh $(SWIFT_BUILD_FLAGS) || unit=$$?; \
	SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) bash scripts/schemathesis.sh || fuzz=$$?; \
	PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) python3 Tests/Browser/storefront_test.py || browser=$$?; \
	scripts/postgres.sh stop; \
	echo "== make test summary: swift test exit $$unit, schemathesis exit $$fuzz, Chromium exit $$browser"; \
	cat $(SWN_TEST_LOG_DIR)/swift-test-summary.txt $(SWN_TEST_LOG_DIR)/schemathesis-summary.txt 2>/dev/null; df -h --output=avail . | tail -1 | sed 's/^ */disk free: /'; \
	[ $$unit = 0 ] && [ $$fuzz = 0 ] && [ $$browser = 0 ]

## The Python peers the tests drive: moto (Cognito, EventBridge, SQS, SES, Step Functions), boto3, awscli, prometheus-client (parses
## /metrics) and opentelemetry-proto (the test OTLP receiver, scripts/otlp_receiver.py).
test-tools:
	@# moto 5.2.6 or later: earlier ones fail a state machine's second StartExecution (getmoto/moto#10077).
	@python3 -c "import moto, boto3, flask, flask_cors, sys; sys.exit(tuple(map(int, moto.__version__.split('.')[:3])) < (5, 2, 6))" 2>/dev/null \
		|| python3 -m pip install -q "moto[server]>=5.2.6" boto3
	@command -v aws >/dev/null || python3 -m pip install -q awscli
	@python3 -c "import prometheus_client" 2>/dev/null || python3 -m pip install -q prometheus-client
	@python3 -c "import opentelemetry.proto" 2>/dev/null || python3 -m pip install -q opentelemetry-proto
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd

## The checkout flow with curl against a running `make run`, step by step.
demo:
	@scripts/demo.sh

## Show what is waiting in the local bus's queues (QUEUE=name to list one queue's messages).
queue:
	@BUS_DATABASE_URL=$(PG_URL)/bus swift run $(SWIFT_BUILD_FLAGS) bus $(if $(QUEUE),messages $(QUEUE),queues)

## The order saga under random SIGKILLs (ORDERS=1000 by default), then its invariants checked; notification-service's
## e-mails go to a mail sink of the run's own (scripts/mail_sink.py: aiosmtpd from PyPI, installed when missing).
chaos: postgres-start
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd
	@swift build $(SWIFT_BUILD_FLAGS) && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) python3 scripts/chaos.py

## The same chaos with two replicas of every service on the same databases and bus, and two gateways
## (REPLICAS=2 GATEWAYS=2; ORDERS=600 by default): checkouts through the gateways, SIGKILLs of any replica and
## now and then of a gateway, Postgres crash-restarts and the outage; then also every replica handled messages
## (its /metrics) and no event took effect twice (order and payment histories, stock reservations).
replicas: postgres-start
	@python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install -q aiosmtpd
	@swift build $(SWIFT_BUILD_FLAGS) && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) \
		REPLICAS=2 GATEWAYS=2 ORDERS=$${ORDERS:-600} python3 scripts/chaos.py

## The storefront in headless Chromium (Selenium): sign-up and sign-in, checkouts that end Delivered and
## Cancelled, a customer's cancel before shipping, a return after delivery, the admin's shipments list,
## another user's order page (403), an admin's price change in a customer's basket; saves
## screenshots of the main pages to docs/screenshots/.
browser-test: postgres-start browser-test-tools
	@swift build $(SWIFT_BUILD_FLAGS) && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build $(SWIFT_BUILD_FLAGS) --show-bin-path) python3 Tests/Browser/storefront_test.py

## Debian's chromium and chromium-driver, and Selenium, when missing.
browser-test-tools:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium

## Memory and table sizes under sustained load (release build, benchmarks/soak.py): 1,000,000 GETs and 120 s of
## checkouts at 30/s; samples every process's RSS and every table's size each 10 s; fails when a process ends more
## than 25 % above its warm RSS or a plumbing table (outbox, bus_messages, order_deadlines) ends the checkouts above
## max(2 × its size after the first third, that + 1 MiB). Prints sizes, growth per 1,000 orders, RSS slopes, saga p50/p99.
## SOAK_MINUTES (checkout minutes, instead of CHECKOUT_SECONDS), CHECKOUT_RATE, GETS (0: no GET phase);
## `SOAK_MINUTES=30 make soak` is the 30-minute soak.
soak: postgres-start
	@swift build -c release && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build -c release --show-bin-path) python3 benchmarks/soak.py

## The release build against its anchors, in one run (benchmarks/bench.py): pgbench -S/-N, reads with wrk, the
## checkout pipeline through the gateway with wrk + Lua at fixed rates and unpaced, CPU per checkout, what each
## completed order costs Postgres (commits by category, WAL, statements, fsyncs: benchmarks/pgcost.py), RSS,
## start-to-ready; prints a table, writes benchmarks/results/bench.json and bench.png (~6 minutes).
## Last, the search step (issue 30): 100,000 products generated straight into a scratch product database, GET
## /product?q= (typos, a filter, a prefix, a mix of 300 queries) and /product/facets through the gateway next to
## pgbench -S, each with product-service's cache on and off, and the plans (auto_explain, as product-service runs
## them): benchmarks/results/search.txt (~4 minutes; --no-search leaves it out).
## BENCH_ARGS=--quick: a 1–2 minute smoke run (bench-quick.json/png); BENCH_ARGS=--checkout-only: no read lines
## (anchors and checkout steps only; with --quick about 2 minutes); BENCH_ARGS=--search-only: pgbench -S and the
## search step only (search.json, search.txt); BENCH_SECONDS, CHECKOUT_SECONDS, BENCH_RATES.
.PHONY: bench bench-tools
bench: bench-tools
	@PG_WAL_KEEP_SIZE=4GB scripts/postgres.sh start
	@swift build -c release && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build -c release --show-bin-path) python3 benchmarks/bench.py $(BENCH_ARGS)

## Where a lone order's time goes (benchmarks/looptrace.py; release build; root, for tcpdump): one checkout step at
## 4/s with the loopback captured, every Postgres message and HTTP request decoded; prints per order the time with a
## Postgres request outstanding and with none, per statement its round trip, and one order's timeline (~2 minutes).
## LOOPTRACE_RATE, LOOPTRACE_SECONDS, LOOPTRACE_ORDER.
.PHONY: looptrace
looptrace: bench-tools
	@scripts/postgres.sh start
	@swift build -c release && PG_URL=$(PG_URL) SWN_BIN_DIR=$$(swift build -c release --show-bin-path) python3 benchmarks/looptrace.py

## wrk from Debian's packages and matplotlib from PyPI, when missing (pgbench comes with the server).
bench-tools:
	@command -v wrk >/dev/null || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq wrk >/dev/null; }
	@python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib

## The real docker-compose.yml and deploy/docker/Dockerfile, unchanged, on podman (installed from Debian's
## packages if missing, with local stand-ins for the public images): `build` and `up --wait` (that is,
## `up --build --wait`, timed apart), the demo through the gateway, a restart that keeps the data, `down -v`
## (scripts/compose-test.sh; prints the timings and image sizes).
.PHONY: compose-test
compose-test:
	@scripts/compose-test.sh
