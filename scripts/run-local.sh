#!/usr/bin/env bash
# Starts every service in local mode against the private Postgres (see `make run`). The services,
# their ports and databases come from `bus services` (Shared/Contracts/Services.swift).
# A service that exits is restarted (see supervise); Ctrl-C (or SIGTERM) stops them all gracefully.
# Beside them a mail sink (scripts/mail_sink.py; aiosmtpd is installed from PyPI when missing) takes
# notification-service's e-mails by SMTP on 127.0.0.1:1025 and shows them at http://127.0.0.1:8025/
# (MAIL_SINK_SMTP_PORT, MAIL_SINK_HTTP_PORT). With SMTP_URL set, notification-service sends there
# instead and no sink is started.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL=${PG_URL:-postgres://swn:swn@127.0.0.1:55432}
BIN=$(swift build --show-bin-path)
SERVICES=$("$BIN/bus" services)

export BUS_MODE=${BUS_MODE:-local}

# One database role per service, owning only its database (`bus databases`, as the administrator in
# PG_URL). The passwords are made once and kept in .data/database-passwords (yours alone); each
# process is given its own and no other.
PG_SERVER=${PG_URL#*://}; PG_SERVER=${PG_SERVER#*@}
PASSWORDS=.data/database-passwords
mkdir -p .data; (umask 077; touch "$PASSWORDS")
for database in $("$BIN/bus" services --databases); do
  grep -q "^$database " "$PASSWORDS" || echo "$database $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >> "$PASSWORDS"
done
declare -A password
while read -r database secret; do password[$database]=$secret; done < "$PASSWORDS"
setup=(DATABASE_ADMIN_URL="$PG_URL/postgres")
for database in "${!password[@]}"; do setup+=("${database^^}_DATABASE_PASSWORD=${password[$database]}"); done
env "${setup[@]}" "$BIN/bus" databases >/dev/null
database_url() { echo "postgres://$1:${password[$1]}@$PG_SERVER/$1"; }
export BUS_DATABASE_URL=${BUS_DATABASE_URL:-$(database_url bus)}
export SEED_DEMO_CATALOG=${SEED_DEMO_CATALOG:-true}
# Where each service is, for the gateway and the services that call others (PRODUCT_SERVICE_URL, ...).
while read -r name _ port _; do
  var="${name^^}_SERVICE_URL"
  export "$var"="${!var:-http://127.0.0.1:$port}"
done <<< "$SERVICES"

# The mail sink: where notification-service's e-mails go (unless SMTP_URL says otherwise).
MAIL_SINK_SMTP_PORT=${MAIL_SINK_SMTP_PORT:-1025}
MAIL_SINK_HTTP_PORT=${MAIL_SINK_HTTP_PORT:-8025}
mail_sink=""
if [ -z "${SMTP_URL:-}" ]; then
  if ! python3 -c "import aiosmtpd" 2>/dev/null; then
    echo "run-local: installing aiosmtpd (PyPI) for the mail sink" >&2
    python3 -m pip install -q aiosmtpd >&2 || true
  fi
  if python3 -c "import aiosmtpd" 2>/dev/null; then
    mail_sink=yes
    SMTP_URL=smtp://127.0.0.1:$MAIL_SINK_SMTP_PORT
  else
    echo "run-local: no aiosmtpd, so no mail sink: notification-service only records its e-mails (GET /notification/{userName})" >&2
  fi
fi

# Each process runs under a small supervisor: one that exits (a crash, a start while the database
# was away) is started again after a backoff (1 s doubling to 30 s, back to 1 s after a minute up),
# with one line saying so; the others keep running. Ctrl-C/SIGTERM stops everything gracefully.
# supervise NAME PORT [SETTING=value...] [-- COMMAND...]: the command is $BIN/NAME unless given.
supervise() {
  local executable=$1 port=$2; shift 2
  local settings=() command=("$BIN/$executable")
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; command=("$@"); break; fi
    settings+=("$1"); shift
  done
  local child="" delay=1 started status
  trap 'trap - TERM INT; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    env ${settings[@]+"${settings[@]}"} "${command[@]}" &
    child=$!
    wait "$child" && status=0 || status=$?
    child=""
    if [ $((SECONDS - started)) -ge 60 ]; then delay=1; fi
    echo "run-local: $executable (port $port) exited with status $status; restarting in ${delay}s" >&2
    sleep "$delay" & wait $! || true
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

pids=()
stop() {
  trap - INT TERM
  echo "run-local: stopping" >&2
  kill "${announce:-}" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  exit 0
}
trap stop INT TERM

if [ -n "$mail_sink" ]; then
  supervise mail-sink "$MAIL_SINK_SMTP_PORT" -- python3 scripts/mail_sink.py --smtp-port "$MAIL_SINK_SMTP_PORT" \
    --http-port "$MAIL_SINK_HTTP_PORT" --exit-with-parent &
  pids+=($!)
  echo "run-local: started the mail sink: SMTP on 127.0.0.1:$MAIL_SINK_SMTP_PORT, mail at http://127.0.0.1:$MAIL_SINK_HTTP_PORT/ (supervisor pid $!)" >&2
fi

while read -r name executable port database; do
  settings=(PORT="$port")
  if [ "$database" != "-" ]; then settings+=(DATABASE_URL="$(database_url "$database")"); fi
  # notification-service sends its e-mails to the mail sink (or SMTP_URL); without either it records them only.
  if [ "$name" = notification ] && [ -n "${SMTP_URL:-}" ]; then settings+=(SMTP_URL="$SMTP_URL"); fi
  supervise "$executable" "$port" "${settings[@]}" &
  pids+=($!)
  echo "run-local: started $executable on port $port (supervisor pid $!)" >&2
done <<< "$SERVICES"

# Tell where to go once the gateway answers.
(
  gateway_port=$(awk '$1 == "gateway" {print $3}' <<< "$SERVICES")
  for _ in $(seq 600); do
    if curl -fs "http://127.0.0.1:$gateway_port/ready" >/dev/null 2>&1; then
      mail=""
      if [ -n "$mail_sink" ]; then mail=" · e-mails http://127.0.0.1:$MAIL_SINK_HTTP_PORT/"; fi
      echo "run-local: ready — storefront http://localhost:$gateway_port/ · API http://localhost:$gateway_port/openapi.yaml$mail · make demo" >&2
      exit 0
    fi
    sleep 0.5
  done
) &
announce=$!

# Until Ctrl-C or SIGTERM (the supervisors never return by themselves).
wait "${pids[@]}" || true
stop
