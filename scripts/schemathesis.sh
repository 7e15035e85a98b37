#!/usr/bin/env bash
# API fuzzing of the gateway with Schemathesis, against deploy/openapi.yaml as the gateway serves it.
#
#   bash scripts/schemathesis.sh [extra `st run` options...]
#
# Starts every process of `bus services` (identity, the services, the gateway) from SWN_BIN_DIR
# (default: `swift build --show-bin-path`) on free ports, each on fresh databases of the running
# Postgres (`make postgres-start`: PGPORT, default 55432, user swn/swn), signs in `admin` and `swn`
# through identity, then runs every Schemathesis check (fixed seed, deterministic generation, a
# bounded number of cases per operation) once with the admin's token and once with the customer's.
# Exits non-zero when any check fails; every service is stopped on exit.
#
# Settings (environment):
#   SWN_BIN_DIR             where the executables are
#   PGPORT / PG_URL         the Postgres server (PG_URL wins: postgres://swn:swn@127.0.0.1:$PGPORT)
#   SWN_ST_PORTS            fixed ports by process name, e.g. "gateway=8080 identity=9229" (default: free ones)
#   SWN_ST_SEED             Schemathesis seed (default 20261123; Schemathesis reports it unused
#                           under --generation-deterministic, which makes runs repeatable anyway)
#   SWN_ST_MAX_EXAMPLES     cases per operation and phase (default 50)
#   SWN_ST_ROLES            which tokens to run with (default "admin customer")
#   SWN_ST_KEEP=1           keep the logs, reports and databases (they are printed)
#   SWN_ST_HOLD=1           after the runs, keep the services up for poking by hand (URLs and tokens
#                           in $WORK/env) until interrupted; SWN_ST_ROLES= (empty) skips the runs
# The services inherit the rest of the environment (e.g. LOG_LEVEL, rate-limit settings).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
SEED=${SWN_ST_SEED:-20261123}
MAX_EXAMPLES=${SWN_ST_MAX_EXAMPLES:-50}
ROLES=${SWN_ST_ROLES-admin customer}
PGPORT=${PGPORT:-55432}
PG_URL=${PG_URL:-postgres://swn:swn@127.0.0.1:$PGPORT}
PG_URL=${PG_URL%/}
BIN=${SWN_BIN_DIR:-}
if [ -z "$BIN" ]; then BIN=$(swift build --show-bin-path); fi

# What `make test` prints last: the summary below and every message of this script (a failed start-up too).
SUMMARY_FILE=${SWN_TEST_LOG_DIR:-$ROOT/.build/test-logs}/schemathesis-summary.txt
mkdir -p "$(dirname "$SUMMARY_FILE")" && : >"$SUMMARY_FILE"
log() { echo "schemathesis.sh: $*" >&2; echo "schemathesis.sh: $*" >>"$SUMMARY_FILE"; }

# --- tools -------------------------------------------------------------------------------------
if ! python3 -c "import sys, schemathesis; sys.exit(schemathesis.__version__ != '$SCHEMATHESIS_VERSION')" 2>/dev/null; then
  log "installing schemathesis==$SCHEMATHESIS_VERSION"
  python3 -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PSQL" ]; then log "psql not found (scripts/postgres.sh start installs it)"; exit 1; fi
for tool in curl; do command -v $tool >/dev/null || { log "$tool is required"; exit 1; }; done
[ -x "$BIN/bus" ] || { log "$BIN/bus is missing (build first, or set SWN_BIN_DIR)"; exit 1; }
for exe in $("$BIN/bus" services | awk '{print $2}'); do
  [ -x "$BIN/$exe" ] || { log "$BIN/$exe is missing (build first, or set SWN_BIN_DIR)"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/swn-schemathesis.XXXXXX")
RUN_ID=st_$(date +%s)_$$
# The databases to create and drop: the services' list (Shared/Contracts/Services.swift).
DATABASES=$("$BIN/bus" services --databases | tr "\n" " ")
pids=()

psql_admin() { "$PSQL" "$PG_URL/postgres" -v ON_ERROR_STOP=1 -qAt "$@"; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${SWN_ST_KEEP:-0}" = "1" ]; then
    log "kept logs and reports in $WORK, databases ${RUN_ID}_*"
  else
    for db in $DATABASES; do psql_admin -c "DROP DATABASE IF EXISTS ${RUN_ID}_$db WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Postgres: one fresh database per service for this run ----------------------------------------
if ! psql_admin -c "SELECT 1" >/dev/null 2>&1; then
  log "cannot reach Postgres at $PG_URL (start it with: make postgres-start)"; exit 1
fi
for db in $DATABASES; do psql_admin -c "CREATE DATABASE ${RUN_ID}_$db"; done

# --- services: every process of `bus services` (Shared/Contracts/Services.swift) on a free port ----
SERVICES=$("$BIN/bus" services)
declare -A PORT_OF
if [ -n "${SWN_ST_PORTS:-}" ]; then
  # "name=port ..." for the processes whose port is fixed, e.g. SWN_ST_PORTS="gateway=8080 identity=9229".
  for pair in $SWN_ST_PORTS; do PORT_OF[${pair%%=*}]=${pair#*=}; done
fi
while read -r name _ _ _; do
  [ -n "${PORT_OF[$name]:-}" ] && continue
  PORT_OF[$name]=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
done <<< "$SERVICES"
GATEWAY_PORT=${PORT_OF[gateway]}
IDENTITY_PORT=${PORT_OF[identity]}
GATEWAY=http://127.0.0.1:$GATEWAY_PORT
IDENTITY=http://127.0.0.1:$IDENTITY_PORT

export BUS_MODE=local
export BUS_DATABASE_URL=$PG_URL/${RUN_ID}_bus
export COGNITO_ISSUER=http://localhost:$IDENTITY_PORT/local_swn
export COGNITO_CLIENT_ID=swnshoplocalclient
export COGNITO_JWKS_URL=$IDENTITY/local_swn/.well-known/jwks.json
# Where each service is, for the gateway and the services that call others (PRODUCT_SERVICE_URL, ...).
while read -r name _ _ _; do export "${name^^}_SERVICE_URL=http://127.0.0.1:${PORT_OF[$name]}"; done <<< "$SERVICES"

# What a process reads besides its port and database, for this run.
extra_settings() {
  case $1 in
    # Sign-in throttling per client address would refuse the script's own sign-ins on a busy machine
    # (every caller here is 127.0.0.1).
    identity) echo TOKEN_ISSUER="$COGNITO_ISSUER" SIGN_IN_BURST="${SIGN_IN_BURST:-1000}" ;;
    product) echo SEED_DEMO_CATALOG=true ;;
    # Throttling is off for the fuzzing (one client sends far beyond a user's rate); set the gateway's
    # RATE_LIMIT_* variables to run with it.
    gateway) echo OPENAPI_FILE="$ROOT/deploy/openapi.yaml" \
      RATE_LIMIT_USER_PER_SECOND="${RATE_LIMIT_USER_PER_SECOND:-0}" RATE_LIMIT_ADDRESS_PER_SECOND="${RATE_LIMIT_ADDRESS_PER_SECOND:-0}" ;;
  esac
}

start() {
  local name=$1; shift
  env "$@" "$BIN/$name" >"$WORK/$name.log" 2>&1 &
  pids+=($!)
}

wait_ready() {
  local name=$1 port=$2 index=$3
  for _ in $(seq 1 240); do
    if curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/ready"; then return 0; fi
    if ! kill -0 "${pids[$index]}" 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "$name did not become ready on port $port; the end of its log:"
  tail -n 30 "$WORK/$name.log" >&2 || true
  exit 1
}

names=()
while read -r name executable _ database; do
  settings=(PORT="${PORT_OF[$name]}")
  if [ "$database" != "-" ]; then settings+=(DATABASE_URL="$PG_URL/${RUN_ID}_$database"); fi
  # shellcheck disable=SC2207
  settings+=($(extra_settings "$name"))
  start "$executable" "${settings[@]}"
  names+=("$executable:${PORT_OF[$name]}")
done <<< "$SERVICES"
for index in "${!names[@]}"; do
  wait_ready "${names[$index]%%:*}" "${names[$index]##*:}" "$index"
done
log "services up: $(for n in "${names[@]}"; do printf '%s ' "$n"; done); logs in $WORK"

# --- tokens ----------------------------------------------------------------------------------------
sign_in() {
  local body response
  body=$(python3 -c 'import json,sys; print(json.dumps({"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"swnshoplocalclient","AuthParameters":{"USERNAME":sys.argv[1],"PASSWORD":sys.argv[2]}}))' "$1" "$2")
  for _ in $(seq 1 20); do
    response=$(curl -sS -XPOST "$IDENTITY/" -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \
      -H 'Content-Type: application/x-amz-json-1.1' -d "$body" || true)
    if token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["AuthenticationResult"]["IdToken"])' "$response" 2>/dev/null); then
      echo "$token"; return 0
    fi
    sleep 0.5
  done
  log "sign-in of $1 failed: $response"; exit 1
}
ADMIN_TOKEN=$(sign_in admin 'Admin-Passw0rd!')
CUSTOMER_TOKEN=$(sign_in swn 'Swn-Passw0rd!')

# --- Schemathesis configuration ----------------------------------------------------------------------
# Known values to draw from half of the time, so that generated requests also reach real products
# and the demo users' own baskets and orders (not only 403s and unknown-product 422s).
python3 - "$GATEWAY" "$WORK/schemathesis.toml" <<'EOF'
import json, sys, urllib.request
gateway, path = sys.argv[1], sys.argv[2]
page = json.load(urllib.request.urlopen(gateway + "/product?limit=200", timeout=10))
ids = [product["id"] for product in page["items"]]
with open(path, "w") as out:
    out.write(f"""
[cache]
enabled = false

[dictionaries.products]
values = {json.dumps(ids)}

[dictionaries.users]
values = ["swn", "admin"]

[parameters]
"body.items[*].productId" = {{ dictionary = "products", probability = 0.5 }}
"body.userName" = {{ dictionary = "users", probability = 0.5 }}
"path.userName" = {{ dictionary = "users", probability = 0.5 }}
"path.id" = {{ dictionary = "products", probability = 0.3 }}

# A well-formed basket may name a product the catalog does not have: that is the contract's 422.
[[operations]]
include-method = "POST"
include-path = "/basket"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

# A well-formed URL may name an address the webhook policy refuses (loopback, private: 422), which the
# schema cannot tell from a public one.
[[operations]]
include-method = "POST"
include-path = "/webhook"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "422", "429"]

# A well-formed If-Match names a state of the product that has passed (412), and stock set outright without
# one is refused (428): the schema cannot say which ETag is current, nor tie a body field to a header. A
# picture is recognised by its bytes: well-formed binary that is no PNG, JPEG or WebP is a 415, one that
# starts like one but does not parse a 422. (One list for both: Schemathesis matches the path as a prefix.)
[[operations]]
include-method = "PUT"
include-path = "/product/{{id}}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "412", "413", "415", "422", "428", "429"]

# A picture's If-None-Match may name the picture it is (304).
[[operations]]
include-method = "GET"
include-path = "/product/{{id}}/image"
checks.positive_data_acceptance.expected-statuses = ["2xx", "304", "401", "403", "404", "429"]
""")
EOF
export SCHEMATHESIS_HOOKS=schemathesis_hooks
export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"

# --- runs --------------------------------------------------------------------------------------------
status=0
summary=()
for role in $ROLES; do
  case $role in
    admin) token=$ADMIN_TOKEN ;;
    customer) token=$CUSTOMER_TOKEN ;;
    *) log "unknown role $role"; exit 2 ;;
  esac
  report=$WORK/report-$role
  command=(python3 -m schemathesis.cli --config-file "$WORK/schemathesis.toml" run "$GATEWAY/openapi.yaml"
    --url "$GATEWAY" --checks all --seed "$SEED" --generation-deterministic
    --max-examples "$MAX_EXAMPLES" --continue-on-failure --workers 1 --request-timeout 20 --no-color
    --header "Authorization: Bearer $token" --report junit --report-junit-path "$report/junit.xml" "$@")
  echo "== schemathesis $SCHEMATHESIS_VERSION as $role (full output only when something fails): ${command[*]/$token/<token>}"
  started=$(date +%s)
  set +e
  "${command[@]}" >"$WORK/schemathesis-$role.log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - started ))
  if [ "$rc" != 0 ]; then sed -e "s/$token/<token>/g" "$WORK/schemathesis-$role.log"; fi
  line=$(python3 - "$report/junit.xml" "$role" "$rc" "$elapsed" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
path, role, rc, elapsed = sys.argv[1:]
try:
    root = ET.parse(path).getroot()
except Exception:
    print(f"{role}: exit {rc}, no JUnit report ({elapsed}s)")
    sys.exit()
total, failing, lines = 0, 0, []
for case in root.iter("testcase"):
    total += 1
    problem = case.find("failure")
    if problem is None:
        problem = case.find("error")
    if problem is None:
        continue
    failing += 1
    text = problem.text or problem.get("message") or ""
    kinds = list(dict.fromkeys(re.findall(r"^- (ST\d+ [^\n]+)$", text, re.M))) or [problem.get("message") or "error"]
    lines.append(f"  {case.get('name')}: " + "; ".join(kinds))
    for curl in list(dict.fromkeys(re.findall(r"^ +(curl .+)$", text, re.M)))[:3]:
        lines.append(f"      {curl[:300]}")
print(f"{role}: {total} operations, {failing} failing, exit {rc} ({elapsed}s)" + "".join("\n" + line for line in lines))
EOF
  )
  summary+=("$line")
  [ "$rc" = 0 ] || status=1
done

if [ "${SWN_ST_HOLD:-0}" = "1" ]; then
  printf 'GATEWAY=%s\nIDENTITY=%s\nADMIN_TOKEN=%s\nCUSTOMER_TOKEN=%s\n' "$GATEWAY" "$IDENTITY" "$ADMIN_TOKEN" "$CUSTOMER_TOKEN" >"$WORK/env"
  log "holding the services up (SWN_ST_HOLD=1): source $WORK/env; Ctrl-C or SIGTERM ends"
  while true; do sleep 1; done
fi

echo
echo "== schemathesis summary (seed $SEED, $MAX_EXAMPLES cases per operation and phase)" | tee -a "$SUMMARY_FILE"
printf '%s\n' "${summary[@]}" | tee -a "$SUMMARY_FILE"
exit "$status"
