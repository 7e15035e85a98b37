#!/usr/bin/env bash
# Starts every service in local mode against the private Postgres (see `make run`).
# Ctrl-C (or SIGTERM) stops them all gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://swn:swn@127.0.0.1:55432}
BIN=$(swift build --show-bin-path)

export BUS_MODE=${BUS_MODE:-local}
export BUS_DATABASE_URL=${BUS_DATABASE_URL:-$PG_URL/bus}
export PRODUCT_SERVICE_URL=${PRODUCT_SERVICE_URL:-http://127.0.0.1:8081}
export BASKET_SERVICE_URL=${BASKET_SERVICE_URL:-http://127.0.0.1:8082}
export ORDERING_SERVICE_URL=${ORDERING_SERVICE_URL:-http://127.0.0.1:8083}

pids=()
start() {
  local name=$1; shift
  if [ ! -x "$BIN/$name" ]; then return; fi
  env "$@" "$BIN/$name" &
  pids+=($!)
  echo "run-local: started $name (pid $!)" >&2
}

stop() {
  trap - INT TERM
  echo "run-local: stopping" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop INT TERM

start product-service PORT=8081 DATABASE_URL="$PG_URL/product" SEED_DEMO_CATALOG=true
start basket-service PORT=8082 DATABASE_URL="$PG_URL/basket"
start ordering-service PORT=8083 DATABASE_URL="$PG_URL/ordering"
start identity PORT=9229 DATABASE_URL="$PG_URL/identity"
start gateway PORT=8080

# If any service exits, stop the others.
wait -n || true
stop
