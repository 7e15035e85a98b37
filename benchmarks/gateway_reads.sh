#!/usr/bin/env bash
# Read-path figures through the gateway next to their anchors, in one run:
#   pgbench -S (the floor under any GET), GET /health on product-service (a bare route),
#   GET /product/{id} on product-service and through the gateway (anonymous),
#   GET /basket/swn through the gateway with a customer token (the gateway and basket-service
#   both verify it).
#   bash benchmarks/gateway_reads.sh [BIN_DIR]      (default: the release build)
# Needs the private Postgres of `make postgres-start` (PGPORT, default 55432), wrk and pgbench.
# Gateway throttling is off for the run (RATE_LIMIT_*_PER_SECOND=0): one host is one client address.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-$(swift build -c release --show-bin-path)}
PGPORT=${PGPORT:-55432}
PG=postgres://swn:swn@127.0.0.1:$PGPORT
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
RUN=gr_$$
DBS="product basket ordering bus identity pgbench"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in $DBS; do psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS ${RUN}_$db WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
for db in $DBS; do psql "$PG/postgres" -qc "CREATE DATABASE ${RUN}_$db" >/dev/null; done
pgbench -q -i -s 10 "$PG/${RUN}_pgbench" >/dev/null 2>&1

export LOG_LEVEL=warning BUS_MODE=local BUS_DATABASE_URL=$PG/${RUN}_bus HOST=127.0.0.1
export RATE_LIMIT_USER_PER_SECOND=0 RATE_LIMIT_ADDRESS_PER_SECOND=0 SIGN_IN_BURST=1000
export COGNITO_ISSUER=http://localhost:19229/local_swn COGNITO_JWKS_URL=http://127.0.0.1:19229/local_swn/.well-known/jwks.json
start() { local name=$1; shift; env "$@" "$BIN/$name" >/tmp/$RUN-$name.log 2>&1 & pids+=($!); }
start identity PORT=19229 DATABASE_URL=$PG/${RUN}_identity TOKEN_ISSUER=http://localhost:19229/local_swn
start product-service PORT=18081 DATABASE_URL=$PG/${RUN}_product SEED_DEMO_CATALOG=true
start basket-service PORT=18082 DATABASE_URL=$PG/${RUN}_basket PRODUCT_SERVICE_URL=http://127.0.0.1:18081
start ordering-service PORT=18083 DATABASE_URL=$PG/${RUN}_ordering
start gateway PORT=18080 PRODUCT_SERVICE_URL=http://127.0.0.1:18081 BASKET_SERVICE_URL=http://127.0.0.1:18082 ORDERING_SERVICE_URL=http://127.0.0.1:18083
for port in 19229 18081 18082 18083 18080; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.2; done
done
TOKEN=$(curl -fsS -XPOST http://127.0.0.1:19229/ -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \
  -H 'Content-Type: application/x-amz-json-1.1' \
  -d '{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"swnshoplocalclient","AuthParameters":{"USERNAME":"swn","PASSWORD":"Swn-Passw0rd!"}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["AuthenticationResult"]["IdToken"])')
ID=$(curl -fsS 'http://127.0.0.1:18081/product?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18080/basket/swn

measure() {
  local label=$1; shift
  local out; out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $5}' <<<"$out"); errors=${errors:-0}
  printf '%-48s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n' "$label" "$rps" "$p50" "$p99" "$errors"
}
tps=$(pgbench -S -n -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" "$PG/${RUN}_pgbench" 2>/dev/null | awk '/^tps/ {print $3}')
printf '%-48s %10s tps\n' "pgbench -S, $CONNECTIONS clients" "$tps"
measure "GET /health (product-service)" http://127.0.0.1:18081/health
measure "GET /product/{id} (product-service)" "http://127.0.0.1:18081/product/$ID"
measure "GET /product/{id} (gateway)" "http://127.0.0.1:18080/product/$ID"
measure "GET /basket/swn with token (gateway)" -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18080/basket/swn
