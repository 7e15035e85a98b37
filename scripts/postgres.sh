#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, in the git-ignored .data/ folder.
#   scripts/postgres.sh start   install the server if missing, init the cluster once, start it, create the
#                               role swn (CREATEDB: each service creates its own database at first start;
#                               CREATEROLE: `bus databases` gives each service a role of its own), and TLS
#                               with a private CA (.data/postgres-ca.crt: DATABASE_TLS=verify-full tests),
#                               pg_stat_statements and wal_keep_size for `make bench`'s Postgres accounting
#   scripts/postgres.sh stop    stop it (data stays)
# Settings: PGPORT (default 55432), PGDATA_DIR (default .data/postgres), PG_WAL_KEEP_SIZE (default 0: `make bench` keeps 4GB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGPORT=${PGPORT:-55432}
PGDATA_DIR=${PGDATA_DIR:-$ROOT/.data/postgres}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  echo "$dir"
}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_server() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    echo "postgres.sh: installing the PostgreSQL server from Debian's packages" >&2
    if [ "$(id -u)" != "0" ]; then echo "postgres.sh: need root to apt-get install postgresql" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
}

start() {
  install_server
  local bin; bin=$(pg_bin)
  mkdir -p "$(dirname "$PGDATA_DIR")"
  if [ "$(id -u)" = "0" ]; then
    mkdir -p "$PGDATA_DIR"; chown postgres: "$PGDATA_DIR"; chmod 700 "$PGDATA_DIR"
    if ! runuser -u postgres -- test -w "$PGDATA_DIR"; then
      echo "postgres.sh: user postgres cannot reach $PGDATA_DIR (a parent folder is closed); set PGDATA_DIR" >&2; exit 1
    fi
  fi
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $PGPORT"
      echo "unix_socket_directories = '$PGDATA_DIR'"
      echo "fsync = on"
    } >> "$PGDATA_DIR/postgresql.conf"
    # Password authentication over TCP, as in production; trust only on the private socket.
    echo "host all all 127.0.0.1/32 scram-sha-256" > "$PGDATA_DIR/pg_hba.conf"
    echo "local all all trust" >> "$PGDATA_DIR/pg_hba.conf"
  fi
  # TLS, as on RDS: a private CA (kept beside the cluster) and a certificate for localhost/127.0.0.1.
  if ! grep -q "^ssl = on" "$PGDATA_DIR/postgresql.conf"; then
    make_certificates
    echo "ssl = on" >> "$PGDATA_DIR/postgresql.conf"
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 && as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
  fi
  # The local bus's and the outboxes' rows live for seconds: look for dead ones every 10 s (default 60 s).
  if ! grep -q "^autovacuum_naptime = 10s" "$PGDATA_DIR/postgresql.conf"; then
    echo "autovacuum_naptime = 10s" >> "$PGDATA_DIR/postgresql.conf"
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 && as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" reload >/dev/null
  fi
  # The test suite runs many services side by side, each with its own pool: room for all of them.
  if ! grep -q "^max_connections = 1000" "$PGDATA_DIR/postgresql.conf"; then
    echo "max_connections = 1000" >> "$PGDATA_DIR/postgresql.conf"
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 && as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
  fi
  # `make bench` counts what an order costs Postgres (benchmarks/pgcost.py): statements from
  # pg_stat_statements (nested ones too). Added once; a restart only when one was added.
  # (The WAL each step wrote is read back with pg_waldump, which needs the step's segments still there:
  # PG_WAL_KEEP_SIZE below, set by `make bench` only; kept for the tests, it filled small CI disks.)
  if grep -qx "wal_keep_size = '4GB'" "$PGDATA_DIR/postgresql.conf"; then sed -i "/^wal_keep_size = '4GB'$/d" "$PGDATA_DIR/postgresql.conf"; fi
  local stats=0
  if [ -f "$(dirname "$bin")/lib/pg_stat_statements.so" ]; then
    local setting
    for setting in "shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all"; do
      if ! grep -qxF "$setting" "$PGDATA_DIR/postgresql.conf"; then
        echo "$setting" >> "$PGDATA_DIR/postgresql.conf"
        stats=1
      fi
    done
    if [ "$stats" = 1 ]; then
      as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1 && as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
    fi
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 start >/dev/null
  fi
  local psql=( "$bin/psql" -h "$PGDATA_DIR" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qAt )
  if grep -qxF "shared_preload_libraries = 'pg_stat_statements'" "$PGDATA_DIR/postgresql.conf"; then
    as_postgres "${psql[@]}" -d postgres -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
  fi
  # WAL kept for `make bench`'s pg_waldump (PG_WAL_KEEP_SIZE=4GB there), none otherwise.
  as_postgres "${psql[@]}" -d postgres -c "ALTER SYSTEM SET wal_keep_size = '${PG_WAL_KEEP_SIZE:-0}'" -c "SELECT pg_reload_conf()" >/dev/null
  as_postgres "${psql[@]}" -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'swn') THEN CREATE ROLE swn LOGIN CREATEDB PASSWORD 'swn'; END IF; END \$\$;"
  # Every backend's statements in pg_stat_statements, and pg_stat_* of every database, for swn.
  as_postgres "${psql[@]}" -d postgres -c "SET client_min_messages = warning; GRANT pg_read_all_stats TO swn"
  # DROP DATABASE ... WITH (FORCE) (the tests' clean-up) must be able to end an autovacuum worker.
  as_postgres "${psql[@]}" -d postgres -c "GRANT pg_signal_backend TO swn"
  # Like RDS's master user: may create the services' roles (`bus databases`).
  as_postgres "${psql[@]}" -d postgres -c "ALTER ROLE swn CREATEROLE"
  echo "postgres.sh: PostgreSQL on 127.0.0.1:$PGPORT (user swn/swn), data in $PGDATA_DIR" >&2
}

# A CA and a server certificate signed by it; the CA's certificate is copied to .data/postgres-ca.crt.
make_certificates() {
  command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
  local dir; dir=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=swn-shop local database CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$dir/ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 3650 \
    -extfile "$dir/ext" -out "$dir/server.crt" 2>/dev/null
  cp "$dir/server.crt" "$dir/server.key" "$PGDATA_DIR/"
  cp "$dir/ca.crt" "$(dirname "$PGDATA_DIR")/postgres-ca.crt"
  if [ "$(id -u)" = "0" ]; then chown postgres: "$PGDATA_DIR/server.crt" "$PGDATA_DIR/server.key"; fi
  chmod 600 "$PGDATA_DIR/server.key"
  rm -rf "$dir"
}

stop() {
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && [ -f "$PGDATA_DIR/PG_VERSION" ]; then
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
