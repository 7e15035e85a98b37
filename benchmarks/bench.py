#!/usr/bin/env python3
"""`make bench`: the release build against its anchors, in one run on this machine.

Starts identity, product, basket, ordering, payment, shipping (when the build has shipping-service) and
the gateway from SWN_BIN_DIR (a release build) on fresh databases of the Postgres at PG_URL
(`scripts/postgres.sh start`), at the default LOG_LEVEL (info, as users run it) and with the gateway's rate
limits off, then measures, with the load generator, Postgres and the services on the same cores.
shipping-service runs with SHIPPING_DISPATCH_DELAY_MS=0, SHIPPING_DELIVERY_DELAY_MS=0 and SHIPPING_SCAN_MS=20
(BENCH_SHIPPING_SCAN_MS), so that the figures show what the steps past Completed cost, not their configured
waits; an order of a checkout step is at rest when Delivered (or Cancelled). A build without shipping-service
(from before issue 28) runs as before: at rest when Completed, no fulfilment step; --no-shipping does the same
with a newer build (shipping-service stopped before the checkout steps, the OrderCompleted messages nobody reads
deleted from shipping-orders after each step), for before/after runs against an older build.

  anchors   pgbench -S (32 clients, simple and -M prepared) and pgbench -N (16 clients, the write
            anchor) on a scratch database initialised with `pgbench -i -s 10` (dropped afterwards);
  reads     wrk -t2 -c32 --latency: GET /health on product-service (a bare route), GET /product/{id} on
            product-service and through the gateway (answered from product-service's read cache), the same
            on a second product-service with the cache off (PRODUCT_CACHE_TTL_MS=0: Postgres every time),
            GET /product (the list) through the gateway; each with its ratio to pgbench -S;
  checkout  wrk with benchmarks/wrk/checkout.lua through the gateway, one signed-up customer per
            connection alternating POST /basket and POST /basket/checkout (Idempotency-Key, card 4242),
            paced to BENCH_RATES checkouts/s and then unpaced (saturation). After each step it waits
            for the pipeline to drain (every order Delivered, or Completed without shipping-service, or
            Cancelled; the local bus empty) and reads, in the ordering database, checkout→order (the
            order's `Pending` status time − its `order_date`, the checkout's time), checkout→completed
            (`Completed` − `order_date`) and checkout→Delivered (`Delivered` − `order_date`), and
            checks that every accepted checkout (basket's `checkouts` rows of the step) became an order;
  fulfilment  (issue 28; --no-fulfilment leaves it out) each of BENCH_FULFILMENT_RATES (default 25,50) twice,
            back to back, after the checkout steps: with shipping-service (drained when every order is
            Delivered) and with shipping-service stopped, the saga alone (drained when every order is
            Completed; their OrderCompleted messages wait in the shipping-orders queue, which is purged
            before shipping-service starts again). Per order at rest: CPU of every process (shipping and
            Postgres included), commits, WAL, statements and fsyncs (pgcost), by category from the WAL,
            and the difference: what Shipped and Delivered cost; checkout→Delivered and
            Completed→Delivered next to checkout→Completed of the same orders and of the saga alone;
  CPU       utime+stime of every service process and of the private cluster's Postgres processes
            (postmaster and its children that serve this run, plus its background processes) across
            each checkout step and its drain, per order made;
  Postgres  over the same window, per completed order (benchmarks/pgcost.py): the write transactions that
            committed, from the step's WAL read back with pg_waldump, each put in a category by the
            database and tables it wrote (business, outbox relay, bus: store/claim/delete, other), their
            WAL bytes, records and full-page images; fsyncs (pg_stat_wal), statements
            (pg_stat_statements) and the most frequent of them; needs `scripts/postgres.sh start`'s
            pg_stat_statements and wal_keep_size (without them those figures are left out);
  memory    VmRSS of each service after start and after the run; start-to-ready (spawn → /ready 200).
  search    (issue 30; last, on a stack of its own: fresh databases <run>_search_*; --no-search leaves it out,
            --search-only runs only it and pgbench -S) BENCH_SEARCH_PRODUCTS (default 100,000) products written
            straight into product-service's table by benchmarks/search_catalog.sql (one INSERT ... SELECT
            generate_series from word lists, seeded; the trigger fills product_words; VACUUM ANALYZE), then wrk
            -t2 -c32 --timeout 15s through the gateway: GET /product?limit=50 (the reference: a page by name, no
            search), ?q=iphnoe and ?q=samsnug galxy (typos), ?q=phone&category=Smart Phone&maxPrice=500, ?q=sams (a
            prefix), /product/facets?q=phone, and a mix (benchmarks/wrk/search_mix.lua: BENCH_SEARCH_MIX, default
            300, distinct queries made of the catalog's brands, lines and categories, a third with a typo, some
            filtered, cycled through); each line twice, product-service cached (PRODUCT_CACHE_TTL_MS=1000, its
            default: the targets) and restarted uncached (PRODUCT_CACHE_TTL_MS=0: informative); req/s, p50, p99,
            the ratio to pgbench -S of the same run, statements on `products` per request (pg_stat_statements),
            what each query matches. A line after which product-service still runs statements (requests the
            gateway gave up on) restarts product-service before the next. Between the two rounds, the plans as
            product-service runs them: auto_explain (log_analyze, log_buffers) switched on for the product
            database by ALTER DATABASE as a superuser (PG_URL's role if it is one, else postgres over the Unix
            socket in PGDATA_DIR), one request per query with the cache off, each statement and its plan read
            from the server log, the settings reset; benchmarks/results/search.txt (search-quick.txt with
            --quick) holds the table and the plans;

Replicas (left out with --no-replicas and by default with --checkout-only; on 2 cores these show what
replicas cost and that the pipeline stays correct, not a speed-up):

  gateway   GET /product/{id} through four gateways on the same upstreams, interleaved round by round
  variants  (A B D C, B C A D, C D B A, D A C B: BENCH_ROUNDS rounds in a balanced order, each variant after
            every other once), each a fresh process started with the others: one with
            the settings of the stack's gateway (one product replica, limits off), one whose PRODUCT_SERVICE_URL
            lists two product replicas (a second one started on the same database), and two with the shared
            rate limits on (DATABASE_URL: <run>_gateway; anonymous per-address rate/burst
            1,000,000/1,000,000: a lease of 100,000 tokens per statement, and 200,000/10: a lease of one, a
            statement per request, the worst case). Each variant's median req/s and its cost in % of the
            limits-off median; CPU µs per request (gateway, product replicas, Postgres) and rate_take
            statements per request (pg_stat_statements). wrk comes from one address: one hot bucket. The
            two-replica median also goes in the read lines, next to the one-replica gateway line;
  checkout  the checkout pipeline on a stack of its own with one and then with two replicas of
  ×1, ×2    ordering-service, product-service and payment-service (BENCH_REPLICATED; identity and basket one
            each), one gateway given the replica lists, fresh databases each (<run>_x1_*, <run>_x2_*):
            warm-up, BENCH_REPLICA_RATES and unpaced, measured as the steps above (orders made/completed per
            second, checkout→Completed, CPU per completed order with every replica's CPU counted, Postgres
            work); then checks that nothing was applied twice (order_status_history, payment_history), that
            the stock taken equals the committed reservations and their count the Completed orders, and that
            every replica handled messages (bus_messages_handled).

Every service log is scanned for lines at error or critical level (or not JSON) at the end.

Prints one table, writes benchmarks/results/bench.json and draws benchmarks/results/bench.png
(--quick: bench-quick.json / bench-quick.png, so a smoke run does not replace the README's figures;
--checkout-only: no read lines, only the anchors, the checkout steps and the fulfilment step, for quick
before/after runs of the messaging code: bench-checkout.json, or bench-quick.json with --quick, about 2-3 minutes;
--replicas-only: the anchors, GET /product/{id} through the gateway and the replica parts only:
bench-replicas.json; --no-replicas: the run without the replica parts, about 5 minutes shorter: of a full
run of about 9 minutes they take about 3 (gateway variants) + 2 (checkout ×1, ×2); --search-only: pgbench -S
and the search step: search.json and search.txt, about 5 minutes).

Settings (environment): PG_URL, SWN_BIN_DIR, PGDATA_DIR (to find the postmaster; default .data/postgres),
BENCH_SECONDS (each anchor and read line, default 10), CHECKOUT_SECONDS (each checkout step, default 12),
BENCH_RATES (default 25,50,100,250,500,1000; --quick 50,100,500; --quick --checkout-only 25,100), BENCH_CUSTOMERS (checkout connections = customers, default 64),
BENCH_CONNECTIONS (read connections, default 32), DRAIN_TIMEOUT (s, default 180), BENCH_OUT (folder),
BENCH_FULFILMENT_RATES (default 25,50), BENCH_SHIPPING_SCAN_MS (default 20),
BENCH_ROUNDS (rounds of the gateway variants, default 4; --quick 2; 0: no gateway variants), BENCH_REPLICA_RATES (paced rates of
the replica sets, default 50,100; --quick 50), BENCH_REPLICATED (default ordering-service,product-service,
payment-service), BENCH_KEEP_LOGS (keep the service logs; they are kept anyway when something failed), BENCH_SEARCH_PRODUCTS,
BENCH_SEARCH_TIMEOUT (wrk --timeout of the search lines, s, default 15), BENCH_SEARCH_EXPLAIN_TIMEOUT (how long a query's plan
may take to reach the server log, s, default 30), BENCH_SEARCH_MIX (distinct queries of the mix line, default 300).
"""
import argparse
import datetime
import glob
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benchmarks")
if not os.environ.get("SWN_BIN_DIR"):
    release = os.path.join(ROOT, ".build", "release")
    os.environ["SWN_BIN_DIR"] = release if os.path.isdir(release) else subprocess.check_output(
        ["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, text=True).strip()
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import chaos  # noqa: E402  (Stack: the services on fresh databases; psql helpers)
import pgcost  # noqa: E402  (what each step cost Postgres: pg_stat_* deltas, the WAL read back)

RUN = "bench_%d" % int(time.time())
chaos.RUN = RUN  # the databases of this run: bench_<time>_<service>
chaos.SAGA.clear()  # the services' defaults: LOG_LEVEL info, production saga timeouts
PG_URL = chaos.PG_URL
PG_BIN = os.path.dirname(chaos.PSQL) if os.path.isabs(chaos.PSQL) else ""
PGBENCH = os.path.join(PG_BIN, "pgbench") if PG_BIN and os.path.exists(os.path.join(PG_BIN, "pgbench")) else "pgbench"
PGDATA_DIR = os.environ.get("PGDATA_DIR", os.path.join(ROOT, ".data", "postgres"))
pgcost.PSQL, pgcost.PG_URL, pgcost.PGDATA_DIR = chaos.PSQL, PG_URL, PGDATA_DIR
MARK = pgcost.BENCH_MARK + " "  # our own polling, told apart from the services' statements in pg_stat_statements
TICK = os.sysconf("SC_CLK_TCK")
NAMES = {"identity": "identity", "product-service": "product", "basket-service": "basket",
         "ordering-service": "ordering", "payment-service": "payment", "shipping-service": "shipping",
         "notification-service": "notification", "gateway": "gateway"}
# shipping-service (issue 28) runs in every checkout stack when the build has it (a build from before it
# has not: then the pipeline ends at Completed as it always did). Its waits are zero, so that the figures
# show what the steps cost, not the configured delays (defaults: dispatch 2 s, delivery 5 s, scan 250 ms).
SHIPPING_BUILT = os.path.exists(os.path.join(chaos.BIN, "shipping-service"))
SHIPPING = SHIPPING_BUILT  # False with --no-shipping (set in main)
SHIPPING_ENV = {"SHIPPING_DISPATCH_DELAY_MS": "0", "SHIPPING_DELIVERY_DELAY_MS": "0",
                "SHIPPING_SCAN_MS": os.environ.get("BENCH_SHIPPING_SCAN_MS", "20")}
SHIPPING_QUEUE = "shipping-orders"  # ShopQueues.shippingOrders: OrderCompleted and the saga's shipping commands
SAGA_AT_REST = ("Completed", "Cancelled")


def pipeline_settings(shipping):
    """Where an order of the checkout steps comes to rest (every card approves): Delivered with shipping-service,
    Completed without it; Cancelled (a saga step past its deadline) either way. Without shipping-service, nobody
    reads shipping-orders (a build from before issue 28 has no such queue): the drain does not wait for it and
    each step deletes its messages afterwards."""
    return (("Delivered", "Cancelled"), ()) if shipping else (SAGA_AT_REST, (SHIPPING_QUEUE,))


AT_REST, PIPELINE_UNREAD = pipeline_settings(SHIPPING)
# The statuses of an order that completed (OrderLifecycle: Completed and everything after it but Cancelled).
COMPLETED_OR_LATER = ("Completed", "Shipped", "Delivered", "ReturnRequested", "Returned")
SHIPPING_NOTE = ("shipping-service runs in every checkout step with SHIPPING_DISPATCH_DELAY_MS=0, SHIPPING_DELIVERY_DELAY_MS=0, "
                 "SHIPPING_SCAN_MS=%s: an order comes to rest Delivered and the figures show the cost of the fulfilment's steps, "
                 "not the configured waits (defaults: dispatch 2 s, delivery 5 s, scan 250 ms)" % SHIPPING_ENV["SHIPPING_SCAN_MS"])


def say(message):
    print("bench: " + message, file=sys.stderr, flush=True)


def percentiles(values, points=(50, 90, 99)):
    """Nearest-rank percentiles and the maximum, or None for an empty list."""
    if not values:
        return None
    values = sorted(values)
    result = {"p%g" % p: values[max(0, math.ceil(p / 100.0 * len(values)) - 1)] for p in points}
    result["max"] = values[-1]
    result["count"] = len(values)
    return result


# --- processes: CPU and memory ------------------------------------------------------------------

def cpu_seconds(pid, children=False):
    """utime + stime of a process (+ its waited-for children's), in seconds; None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICK


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def postmaster_pid():
    try:
        with open(os.path.join(PGDATA_DIR, "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


def process_title(pid):
    """A process's title (/proc/<pid>/cmdline, NULs as spaces; what `ps` shows for a Postgres child), "" when unreadable."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def postgres_titles(postmaster):
    """postgres_processes with each process's title: {pid: title}, the postmaster first."""
    titles = {postmaster: process_title(postmaster)}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rpartition(")")[2].split()
            if int(fields[1]) != postmaster:
                continue
            pid = int(stat.split("/")[2])
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        client = re.search(r"\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]|::1\(\d+\)", title)
        if RUN in title or (not client and "autovacuum worker" not in title):
            titles[pid] = title
    return titles


def postgres_processes(postmaster):
    """The postmaster and those of its children that belong to this run: background processes
    (checkpointer, WAL writer, ...) and backends or autovacuum workers of this run's databases.
    Backends of other databases (another test run on the same cluster) are left out."""
    return list(postgres_titles(postmaster))


# A backend's title: `postgres: [cluster_name: ]<user> <database> <client> <state>`.
BACKEND_TITLE = re.compile(r"postgres: (?:\S+: )?\S+ (\S+) (?:\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]|[0-9A-Fa-f:]+\(\d+\))(?: |$)")


def postgres_key(title, run=None):
    """What a Postgres process of postgres_titles serves, for the split of its CPU: a backend its database's short
    name (`bus`, `ordering`, ...: the run's prefix `<run>_` taken off; another name as it is), an autovacuum
    worker `autovacuum` (whichever database it vacuums), a parallel worker `parallel:<leader pid>` (resolved to
    its leader's key by postgres_keys), anything else `background` (the postmaster, checkpointer, background
    writer, WAL writer, autovacuum launcher, logical replication launcher, ...)."""
    run = RUN if run is None else run
    if "autovacuum worker" in title:
        return "autovacuum"
    leader = re.search(r"parallel worker for PID (\d+)", title)
    if leader:
        return "parallel:" + leader.group(1)
    backend = BACKEND_TITLE.match(title.strip())
    if not backend:
        return "background"
    database = backend.group(1)
    return database[len(run) + 1:] if database.startswith(run + "_") and len(database) > len(run) + 1 else database


def postgres_keys(titles, run=None):
    """{pid: postgres_key} for the processes of postgres_titles; a parallel worker counts under its leader's key
    (`background` when the leader is not one of them, as for a query of another run)."""
    keys = {pid: postgres_key(title, run) for pid, title in titles.items()}
    for pid, key in keys.items():
        if key.startswith("parallel:"):
            leader = keys.get(int(key.split(":")[1]), "background")
            keys[pid] = "background" if leader.startswith("parallel:") else leader
    return keys


def process_key(service):
    """How the figures name a process: `product`, and a further replica `product#2` (chaos.Stack's labels)."""
    label = getattr(service, "label", service.name)
    return NAMES.get(service.name, service.name) + (label[len(service.name):] if label.startswith(service.name) else "")


POSTGRES_SERVES = "postgres serves"  # a snapshot's {pid: postgres_key} next to its `postgres` {pid: CPU s}


class CpuMeter:
    """CPU seconds per service process and for this run's Postgres processes, between two snapshots."""

    def __init__(self, services):
        self.services = services
        self.postmaster = postmaster_pid()

    def snapshot(self):
        snap = {process_key(s): cpu_seconds(s.process.pid) for s in self.services}
        if self.postmaster:
            titles = postgres_titles(self.postmaster)
            snap["postgres"] = {pid: cpu_seconds(pid) for pid in titles}
            snap[POSTGRES_SERVES] = postgres_keys(titles)  # what each pid serves, under the run name of this moment
        return snap

    @staticmethod
    def difference(before, after):
        """Per process (`product`, `product#2`, ..., `postgres`)."""
        result = {}
        for name, value in after.items():
            if name == POSTGRES_SERVES:
                continue
            if name == "postgres":
                # a process that started in between counts from zero; one that ended is lost (short-lived psql)
                result[name] = sum(v - (before[name].get(pid) or 0.0) for pid, v in value.items() if v is not None)
            elif value is not None and before.get(name) is not None:
                result[name] = value - before[name]
        return result

    @staticmethod
    def postgres_by_database(before, after):
        """difference()'s `postgres`, split by what each process serves (postgres_key): {`bus`: s, `ordering`: s, ...,
        `background`: s, `autovacuum`: s}, the same pids and terms, so that the parts add up to `postgres`; None
        without Postgres figures. The backends live as long as the services' pools (fixed size, no idle timeout),
        but one may start or end inside the window: one that started counts from zero, under its title at the
        end; one that ended is lost with what it used since the first snapshot (as in `postgres`)."""
        if after.get("postgres") is None:
            return None
        keys, keys_before = after.get(POSTGRES_SERVES) or {}, before.get(POSTGRES_SERVES) or {}
        result = {}
        for pid, value in after["postgres"].items():
            if value is not None:
                key = keys.get(pid) or keys_before.get(pid) or "background"
                result[key] = result.get(key, 0.0) + value - (before["postgres"].get(pid) or 0.0)
        return result

    @staticmethod
    def by_service(per_process):
        """Every replica's CPU summed under its service's name (`product#2` counts as `product`)."""
        result = {}
        for name, value in per_process.items():
            service = name.split("#")[0]
            result[service] = result.get(service, 0.0) + value
        return result


# --- the stack ----------------------------------------------------------------------------------

def start_timed(service):
    """Service.start, but timing spawn → /ready 200 with a 5 ms poll. Returns milliseconds."""
    env = dict(os.environ)
    for layer in (chaos.SAGA, service.env, {"PORT": str(service.port), "HOST": "127.0.0.1"}):
        env.update(layer)
    for attempt in range(50):  # "Text file busy": another `swift build` is still writing the executable
        try:
            started = time.monotonic()
            service.process = subprocess.Popen([os.path.join(chaos.BIN, service.name)], env=env, stdout=service.log, stderr=service.log)
            break
        except OSError as error:
            if error.errno != 26 or attempt == 49:
                raise
            time.sleep(0.2)
    deadline = started + 60
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError("%s exited (%s); log: %s" % (service.name, service.process.returncode, service.log.name))
        try:
            with urllib.request.urlopen(service.url + "/ready", timeout=2) as response:
                if response.status == 200:
                    return (time.monotonic() - started) * 1000.0
        except Exception:
            pass
        time.sleep(0.005)
    raise RuntimeError("%s did not become ready (log: %s)" % (service.name, service.log.name))


def psql_rows(database, sql):
    try:
        return chaos.psql(database, sql)
    except subprocess.CalledProcessError:
        return None


# --- anchors: pgbench -----------------------------------------------------------------------------

def pgbench(database, args, seconds, env=None):
    out = subprocess.run([PGBENCH, "-n", "-T", str(seconds)] + args + ["%s/%s" % (PG_URL, database)],
                         capture_output=True, text=True, env=dict(os.environ, **env) if env else None)
    if out.returncode != 0:
        raise RuntimeError("pgbench %s failed: %s" % (" ".join(args), out.stderr.strip()[-500:]))
    tps = re.search(r"^tps = ([\d.]+)", out.stdout, re.M)
    latency = re.search(r"^latency average = ([\d.]+) ms", out.stdout, re.M)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    return {"tps": float(tps.group(1)), "latency_avg_ms": float(latency.group(1)) if latency else None,
            "failed": int(failed.group(1)) if failed else 0, "args": " ".join(args), "seconds": seconds}


ANCHORS = [("pgbench_select", ["-S", "-c", "32", "-j", "2"], "pgbench -S, 32 clients"),
           ("pgbench_select_prepared", ["-S", "-M", "prepared", "-c", "32", "-j", "2"], "pgbench -S -M prepared, 32 clients"),
           ("pgbench_write", ["-N", "-c", "16", "-j", "2"], "pgbench -N, 16 clients (write anchor)")]


def anchors(seconds, keys=None):
    """pgbench on a scratch database; `keys`: only those of ANCHORS (default: all three)."""
    database = RUN + "_pgbench"
    subprocess.run([chaos.PSQL, PG_URL + "/postgres", "-qc", "CREATE DATABASE " + database], check=True, capture_output=True)
    try:
        say("anchors: pgbench -i -s 10")
        subprocess.run([PGBENCH, "-i", "-q", "-s", "10", "%s/%s" % (PG_URL, database)], check=True, capture_output=True)
        result = {}
        for key, args, label in [a for a in ANCHORS if keys is None or a[0] in keys]:
            say("anchors: " + label)
            result[key] = dict(pgbench(database, args, seconds), label=label)
        return result
    finally:
        subprocess.run([chaos.PSQL, PG_URL + "/postgres", "-qc", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % database], capture_output=True)


# --- reads: wrk --------------------------------------------------------------------------------------

def wrk_json(output, tag="BENCH_JSON"):
    for line in output.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise RuntimeError("wrk printed no %s line:\n%s" % (tag, output[-2000:]))


def read_line(label, url, seconds, connections, anchor_tps, probe=None, timeout=None, warm_up=True):
    """One wrk run (after a 1 s warm-up unless `warm_up` is False). `probe` (a ReadProbe): snapshots just
    before and after the measured run; what it makes of them (per request) goes in `counters`. `timeout`:
    wrk's --timeout in seconds (its default, 2 s, counts a slower answer as a socket error, not a latency)."""
    script = os.path.join(HERE, "wrk", "report.lua")
    base = ["wrk", "-t2", "-c%d" % connections, "--latency", "-s", script] + (["--timeout", "%ds" % timeout] if timeout else [])
    if warm_up:
        subprocess.run(base[:3] + ["-d1s", url], capture_output=True)  # warm-up: pools, caches, upstream connections
    before = probe.snapshot() if probe else None
    out = subprocess.run(base + ["-d%ds" % seconds, url], capture_output=True, text=True)
    after = probe.snapshot(end=True) if probe else None
    line = wrk_line(out, label, url, connections, anchor_tps)
    if probe:
        line["counters"] = probe.difference(before, after, line["requests"])
    say("reads: %-40s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d" % (
        label, line["rps"], line["p50_ms"], line["p99_ms"], line["non_2xx"] + line["socket_errors"]))
    return line


def wrk_line(out, label, url, connections, anchor_tps):
    """A finished wrk run (report.lua's JSON on its stdout) as a line: requests, req/s, latencies, errors, the
    ratios to the pgbench anchors."""
    if out.returncode != 0:
        raise RuntimeError("wrk failed on %s: %s" % (url, out.stderr))
    figures = wrk_json(out.stdout)
    duration = figures["duration_us"] / 1e6
    rps = figures["requests"] / duration
    errors = figures["errors"]
    return {"label": label, "url": url, "connections": connections, "seconds": round(duration, 2),
            "requests": figures["requests"], "rps": rps,
            "p50_ms": figures["latency_us"]["p50"] / 1000.0, "p90_ms": figures["latency_us"]["p90"] / 1000.0,
            "p99_ms": figures["latency_us"]["p99"] / 1000.0, "max_ms": figures["latency_us"]["max"] / 1000.0,
            "non_2xx": errors["status"], "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
            "errors": errors,
            "ratio_to_pgbench_select": rps / anchor_tps["pgbench_select"] if anchor_tps.get("pgbench_select") else None,
            "ratio_to_pgbench_select_prepared": rps / anchor_tps["pgbench_select_prepared"] if anchor_tps.get("pgbench_select_prepared") else None}


# --- checkout: wrk + checkout.lua ---------------------------------------------------------------------

def orders_since(since):
    """(order_date, Pending at, Completed at, status[/cancellation reason], Delivered at, StockReserved at) of the
    orders whose checkout came after `since` (the times in seconds since the epoch; Completed, Delivered and
    StockReserved None when not reached)."""
    rows = chaos.psql("ordering", MARK + """
        SELECT extract(epoch FROM o.order_date),
               extract(epoch FROM coalesce(min(h.changed_at) FILTER (WHERE h.status = 'Pending'), o.created_at)),
               extract(epoch FROM min(h.changed_at) FILTER (WHERE h.status = 'Completed')),
               o.status || coalesce('/' || o.cancellation_reason, ''),
               extract(epoch FROM min(h.changed_at) FILTER (WHERE h.status = 'Delivered')),
               extract(epoch FROM min(h.changed_at) FILTER (WHERE h.status = 'StockReserved'))
        FROM orders o LEFT JOIN order_status_history h ON h.order_id = o.order_id
        WHERE o.order_date >= to_timestamp(%.6f)
        GROUP BY o.order_id""" % since)
    return [(float(a), float(b), float(c) if c else None, status, float(d) if d else None, float(r) if r else None)
            for a, b, c, status, d, r in rows]


# The saga's hops of a completed order, from its status history: (label, from, to) with each an index in
# orders_since's tuples (0 order_date, 1 Pending, 2 Completed, 5 StockReserved). Paid splits nothing: the
# saga writes Paid and Completed in one statement (the payment's answer).
HOPS = [("checkout→Pending", 0, 1),  # basket's CheckoutAccepted to ordering: one bus hop and the order's creation
        ("Pending→StockReserved", 1, 5),  # ReserveStock to product-service and StockReserved back: two hops
        ("StockReserved→Completed", 5, 2)]  # ProcessPayment to payment-service and its answer back: two hops


def order_hops(orders):
    """{hop label: {"p50", "p99"} in ms} over the orders that reached Completed (the selection of
    checkout_to_completed_ms; nearest rank as `percentiles`); a hop none of them has both ends of is left
    out; None without a completed order."""
    completed = [order for order in orders if order[2]]
    hops = {}
    for label, start, end in HOPS:
        found = percentiles([(order[end] - order[start]) * 1000.0 for order in completed
                             if order[start] is not None and order[end] is not None], (50, 99))
        if found:
            hops[label] = {"p50": found["p50"], "p99": found["p99"]}
    return hops or None


def hops_text(hops):
    """`checkout→Pending 5/11, Pending→StockReserved 7/15, ...`: a step's hops_ms, p50/p99 in ms."""
    return ", ".join("%s %s/%s" % (label, fmt(v["p50"], "%.0f"), fmt(v["p99"], "%.0f")) for label, v in hops.items())


def accepted_checkouts(key):
    rows = psql_rows("basket", MARK + "SELECT count(*) FROM checkouts WHERE idempotency_key LIKE '%s-%%'" % key)
    return int(rows[0][0]) if rows else None


def wait_drained(since, key, timeout, at_rest=AT_REST):
    """Until every accepted checkout of the step is an order and every order is at rest (`at_rest`: Delivered
    or Cancelled with shipping-service, Completed or Cancelled without it). The accepted count is read again
    each time: checkouts that were in flight when wrk stopped still commit after it exits. Returns (drained,
    seconds, accepted checkouts or None)."""
    started = time.monotonic()
    accepted = accepted_checkouts(key)
    statuses = ", ".join("'%s'" % status for status in at_rest)
    while True:
        time.sleep(0.5)  # one psql (a process and a backend) per poll: little CPU taken from the pipeline
        counts = chaos.psql("ordering", MARK + """SELECT count(*), count(*) FILTER (WHERE status NOT IN (%s))
                                            FROM orders WHERE order_date >= to_timestamp(%.6f)""" % (statuses, since))[0]
        orders, open_orders = int(counts[0]), int(counts[1])
        waited = time.monotonic() - started
        if open_orders == 0 and (accepted is None or orders >= accepted):
            accepted = accepted_checkouts(key)
            if accepted is None and waited > 3 or accepted is not None and orders >= accepted:
                return True, waited, accepted
        if waited > timeout:
            return False, waited, accepted_checkouts(key)


def wait_bus_empty(timeout, ignore_queues=()):
    """Until the local bus holds no message outside the dead-letter queues (the compensations of cancelled
    orders, late replies) and `ignore_queues` (a queue nobody reads in this step), so that a step does not
    inherit the last one's work. Best effort: skipped when the table cannot be read. Returns the seconds waited."""
    started = time.monotonic()
    ignored = "".join(" AND queue <> '%s'" % queue for queue in ignore_queues)
    while time.monotonic() - started < timeout:
        rows = psql_rows("bus", MARK + "SELECT count(*) FROM bus_messages WHERE queue NOT LIKE '%-dlq'" + ignored)
        if not rows or int(rows[0][0]) == 0:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def checkout_step(name, rate, seconds, gateway_url, customers, tokens_file, products, meter, drain_timeout, measure_postgres=True,
                  at_rest=None, unread_queues=None):
    """One paced (or, rate 0, unpaced) wrk run of `seconds`, then the drain: every accepted checkout an order,
    every order in a status of `at_rest`, the bus empty but for `unread_queues` (queues nobody reads in this
    step: their messages are deleted after the step's window). The CPU and Postgres windows take in the drain.
    Defaults: the pipeline's (AT_REST, PIPELINE_UNREAD)."""
    at_rest = AT_REST if at_rest is None else at_rest
    unread_queues = PIPELINE_UNREAD if unread_queues is None else unread_queues
    key = "%s-%s" % (RUN, re.sub(r"\W", "", name.replace("/s", "ps")))
    env = dict(os.environ, BENCH_TOKENS=tokens_file, BENCH_PRODUCTS=",".join(products), BENCH_RATE=str(rate or 0),
               BENCH_CONNECTIONS=str(customers), BENCH_KEY=key)
    script = os.path.join(HERE, "wrk", "checkout.lua")
    cpu_before = meter.snapshot()
    busy_before, window_start = machine_busy(), time.monotonic()
    pg_before = pgcost.snapshot(RUN) if measure_postgres else None  # the same window as the CPU meter's
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    since = time.time()
    out = subprocess.run(["wrk", "-t%d" % customers, "-c%d" % customers, "-d%ds" % seconds, "--timeout", "10s", "-s", script, gateway_url],
                         env=env, capture_output=True, text=True)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0 or "BENCH_JSON" not in out.stdout:
        raise RuntimeError("wrk (checkout) failed: %s\n%s" % (out.stderr[-2000:], out.stdout[-2000:]))
    summary = wrk_json(out.stdout)
    threads = [json.loads(line[len("BENCH_THREAD "):]) for line in out.stdout.splitlines() if line.startswith("BENCH_THREAD ")]
    if out.stderr.strip():
        say("wrk: " + out.stderr.strip()[-500:])
    duration = summary["duration_us"] / 1e6
    client_errors = {}
    for thread in threads:
        for label, count in thread["errors"].items():
            client_errors[label] = client_errors.get(label, 0) + count
    socket_errors = {k: v for k, v in summary["errors"].items() if k != "status" and v}
    accepted_client = sum(t["checkout_ok"] for t in threads)
    drained, drain_seconds, accepted = wait_drained(since, key, drain_timeout, at_rest)
    settle_seconds = wait_bus_empty(max(10.0, drain_timeout - drain_seconds), unread_queues)
    cpu_after = meter.snapshot()
    cpu_per_process = CpuMeter.difference(cpu_before, cpu_after)
    cpu = CpuMeter.by_service(cpu_per_process)  # every replica of a service counted
    pg_cpu = CpuMeter.postgres_by_database(cpu_before, cpu_after)  # `postgres` above, by database served
    busy_after, window = machine_busy(), time.monotonic() - window_start
    pg_after = pgcost.snapshot(RUN) if measure_postgres else None
    orders = orders_since(since)
    to_order = [(pending - date) * 1000.0 for date, pending, _, _, _, *_ in orders]
    to_completed = [(completed - date) * 1000.0 for date, _, completed, _, _, *_ in orders if completed]
    to_delivered = [(delivered - date) * 1000.0 for date, _, _, _, delivered, *_ in orders if delivered]
    completed_to_delivered = [(delivered - completed) * 1000.0 for _, _, completed, _, delivered, *_ in orders if delivered and completed]
    # rates over the span in which orders were made (first to last Pending) and completed
    first_pending = min((pending for _, pending, _, _, _, *_ in orders), default=since)
    last_pending = max((pending for _, pending, _, _, _, *_ in orders), default=first_pending)
    first_completed = min((completed for _, _, completed, _, _, *_ in orders if completed), default=since)
    last_completed = max((completed for _, _, completed, _, _, *_ in orders if completed), default=first_completed)
    made = len(orders)
    by_status = {}
    for _, _, _, status, _, *_ in orders:
        by_status[status] = by_status.get(status, 0) + 1
    wrk_cpu = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
    step = {
        "name": name, "target_rate": rate, "seconds": round(duration, 2), "connections": customers,
        "started": sum(t["started"] for t in threads),
        "offered_rate": sum(t["started"] for t in threads) / duration,
        "accepted": accepted if accepted is not None else accepted_client, "accepted_client": accepted_client,
        "accepted_rate": (accepted if accepted is not None else accepted_client) / duration,
        "baskets_ok": sum(t["basket_ok"] for t in threads),
        "client_errors": client_errors, "socket_errors": socket_errors,
        "resent": sum(t["resent"] for t in threads),
        "client_basket_ms": percentiles([float(v) for t in threads for v in t["basket_ms"]]),
        "client_checkout_ms": percentiles([float(v) for t in threads for v in t["checkout_ms"]]),
        "orders": made, "orders_by_status": by_status,
        "order_rate": (made - 1) / (last_pending - first_pending) if made > 1 and last_pending > first_pending else None,
        "completed_rate": (len(to_completed) - 1) / (last_completed - first_completed) if len(to_completed) > 1 and last_completed > first_completed else None,
        "checkout_to_order_ms": percentiles(to_order),
        "checkout_to_completed_ms": percentiles(to_completed),
        # with shipping-service: the order's Delivered entry in its history − its order_date, and − its Completed entry
        "checkout_to_delivered_ms": percentiles(to_delivered),
        "completed_to_delivered_ms": percentiles(completed_to_delivered),
        # where checkout→completed goes: the saga's hops of the completed orders (order_hops; None without one)
        "hops_ms": order_hops(orders),
        "at_rest": list(at_rest), "unread_queues": list(unread_queues) or None,
        "drained": drained, "drain_seconds": round(drain_seconds, 1), "bus_settle_seconds": round(settle_seconds, 1),
        "every_checkout_an_order": drained and accepted is not None and made == accepted,
        "cancelled": sum(n for status, n in by_status.items() if status.startswith("Cancelled")),
        "cpu_seconds": cpu, "wrk_cpu_seconds": wrk_cpu,
        "cpu_seconds_by_process": cpu_per_process if any("#" in k for k in cpu_per_process) else None,
        # the machine's busy CPU outside the services, Postgres and wrk over the same window, in % of its cores
        # (bench's own polling counts here: a few %; more: something else ran on the machine)
        "other_cpu_pct": (busy_after - busy_before - sum(cpu.values()) - wrk_cpu) / (window * len(os.sched_getaffinity(0))) * 100
        if None not in (busy_before, busy_after) and window > 0 else None,
        "cpu_ms_per_order": {k: v * 1000.0 / made for k, v in cpu.items()} if made else None,
    }
    if step["cpu_ms_per_order"]:
        step["cpu_ms_per_order"]["all (services + postgres)"] = sum(cpu.values()) * 1000.0 / made
        step["cpu_ms_per_order"]["wrk (load generator)"] = wrk_cpu * 1000.0 / made
    completed = sum(by_status.get(status, 0) for status in COMPLETED_OR_LATER)  # the saga completed (and maybe shipping went on)
    step["completed"] = completed
    step["delivered"] = by_status.get("Delivered", 0)
    step["cpu_ms_per_completed_order"] = dict({k: v * 1000.0 / completed for k, v in cpu.items()},
                                              **{"all (services + postgres)": sum(cpu.values()) * 1000.0 / completed}) if completed else None
    # Postgres's CPU (the `postgres` figure, the same processes) by what each process serves: the database of a backend
    # (`bus`: <run>_bus, `ordering`: <run>_ordering, ...), `autovacuum` (its workers, any database), `background`
    # (postmaster, checkpointer, WAL writer, ...); largest first
    step["cpu_seconds_by_postgres_database"] = dict(sorted(pg_cpu.items(), key=lambda kv: -kv[1])) if pg_cpu is not None else None
    step["postgres_cpu_ms_per_completed_order_by_database"] = {
        k: v * 1000.0 / completed for k, v in step["cpu_seconds_by_postgres_database"].items()} if completed and pg_cpu is not None else None
    # messages of queues nobody read in this step (OrderCompleted without shipping-service), deleted after the window
    step["purged_messages"] = {queue: purge_queue(queue) for queue in unread_queues} or None
    if measure_postgres:
        step["postgres_cost"] = pgcost.cost(pg_before, pg_after, RUN, completed, made, top=int(os.environ.get("BENCH_TOP_STATEMENTS", "20")))
        if step["postgres_cost"] is None:
            say("checkout %s: no Postgres figures (pg_stat_wal / pg_stat_database unreadable)" % name)
        elif step["postgres_cost"]["wal_error"]:
            say("checkout %s: no WAL accounting (%s)" % (name, step["postgres_cost"]["wal_error"]))
    o, c, d = step["checkout_to_order_ms"] or {}, step["checkout_to_completed_ms"] or {}, step["checkout_to_delivered_ms"]
    say("checkout %-10s offered %6.0f/s  accepted %6.0f/s  orders %6s/s  →order p50 %s p99 %s  →completed p50 %s p99 %s%s  %s%s" % (
        name, step["offered_rate"], step["accepted_rate"], fmt(step["order_rate"], "%.0f"),
        fmt(o.get("p50"), "%.0f"), fmt(o.get("p99"), "%.0f"), fmt(c.get("p50"), "%.0f"), fmt(c.get("p99"), "%.0f"),
        "  →delivered p50 %s p99 %s" % (fmt(d.get("p50"), "%.0f"), fmt(d.get("p99"), "%.0f")) if d else "",
        "every checkout an order" if step["every_checkout_an_order"] else "NOT every checkout an order (%d accepted, %d orders%s)" % (
            step["accepted"], made, "" if drained else ", not drained after %.0f s" % drain_seconds),
        ("; errors " + ", ".join("%s ×%d" % kv for kv in sorted(client_errors.items()))) if client_errors else "")
        + ("; %d cancelled" % step["cancelled"] if step["cancelled"] else ""))
    if step["hops_ms"]:
        say("checkout %-10s hops p50/p99 ms: %s" % (name, hops_text(step["hops_ms"])))
    if step["postgres_cpu_ms_per_completed_order_by_database"]:
        say("checkout %-10s Postgres CPU ms per completed order by database: %s" % (
            name, postgres_databases_text(step["postgres_cpu_ms_per_completed_order_by_database"])))
    per = (step.get("postgres_cost") or {}).get("per_completed_order")
    if per:
        say("checkout %-10s per completed order: %s commits (business %s), %s statements, %s KB WAL, %s fsyncs" % (
            name, fmt(per["commits"]), fmt(per["commits_by_group"] and per["commits_by_group"]["business"]),
            fmt(per["statements"], "%.0f"), fmt((per["wal_bytes"] if per["wal_bytes"] is not None else per["wal_bytes_cluster"]) / 1024.0), fmt(per["fsyncs"])))
    return step


# --- fulfilment: past Completed (issue 28) -------------------------------------------------------------
# The same paced rate twice, back to back: with shipping-service (the order goes on to Shipped and Delivered:
# OrderCompleted to shipping-orders, a shipment, dispatch and delivery on its timers, OrderShipped and
# OrderDelivered back to ordering's saga) and with shipping-service stopped (the saga alone: the orders stay
# Completed, their OrderCompleted waits in shipping-orders and is deleted afterwards). The difference per order
# is what the extra steps cost.

FULFILMENT_NOTE = ("each rate twice, back to back: with shipping-service (at rest: Delivered), then with shipping-service stopped "
                   "(the saga alone, at rest: Completed; OrderCompleted is still stored in %s, and deleted from it afterwards, "
                   "so its store counts on both sides); extra = with − alone, per order at rest" % SHIPPING_QUEUE)
PROCESSES = ["gateway", "basket", "ordering", "product", "payment", "shipping", "notification", "identity", "postgres"]
POSTGRES_KEYS = ["commits", "durable_commits", "wal_bytes", "statements", "xact_commit", "fsyncs"]


def stop_unused_shipping(stack):
    """With --no-shipping: shipping-service is started with the others (the gateway is ready only when every
    upstream it knows is) and stopped before any checkout; its CPU and memory then count as none."""
    if stack.shipping and not SHIPPING:
        stack.shipping.stop()
        say("--no-shipping: shipping-service stopped (the gateway still routes with it down)")


def purge_queue(queue, timeout=10.0):
    """Deletes every message of `queue` from the local bus, once ordering's outbox is empty (every event of
    the step published, none to come after the purge). Returns the count deleted (None: the bus was not read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = psql_rows("ordering", MARK + "SELECT count(*) FROM outbox WHERE published_at IS NULL")  # a relay's take commits after its publish
        if not rows or int(rows[0][0]) == 0:
            break
        time.sleep(0.2)
    rows = psql_rows("bus", MARK + "WITH gone AS (DELETE FROM bus_messages WHERE queue = '%s' RETURNING 1) SELECT count(*) FROM gone" % queue)
    return int(rows[0][0]) if rows else None


def per_order_at_rest(step, delivered):
    """CPU ms per order at rest (Delivered with shipping, Completed without), by process and in all; the
    Postgres figures per such order (pgcost's per completed order: the same orders once drained)."""
    done = step["delivered"] if delivered else step["completed"]
    if not done:
        return None, None
    cpu = {k: step["cpu_seconds"].get(k, 0.0) * 1000.0 / done for k in PROCESSES if k in step["cpu_seconds"]}
    cpu["all"] = sum(step["cpu_seconds"].values()) * 1000.0 / done
    cpu["services"] = cpu["all"] - cpu.get("postgres", 0.0)
    per = (step.get("postgres_cost") or {}).get("per_completed_order")
    pg = None
    if per:
        # pgcost divides by the orders that completed; here every one of them is at rest (else not drained)
        scale = step["completed"] / float(done)
        pg = {k: (per[k] * scale if per.get(k) is not None else None) for k in POSTGRES_KEYS}
        if pg["wal_bytes"] is None and per.get("wal_bytes_cluster") is not None:
            pg["wal_bytes_cluster"] = per["wal_bytes_cluster"] * scale
        pg["commits_by_group"] = {g: v * scale for g, v in per["commits_by_group"].items()} if per.get("commits_by_group") else None
    return cpu, pg


def categories_per_order(ship, alone):
    """{category: commits and WAL bytes per order at rest with shipping, alone, and the difference}; None
    without the WAL accounting of both steps."""
    sides = []
    for step, done in ((ship, ship["delivered"]), (alone, alone["completed"])):
        categories = (step.get("postgres_cost") or {}).get("categories")
        if categories is None or not done:
            return None
        sides.append((categories, float(done)))
    (a, na), (b, nb) = sides
    result = {}
    for label in sorted(set(a) | set(b)):
        x, y = a.get(label) or {}, b.get(label) or {}
        entry = {"group": (x or y)["group"]}
        for key in ("commits", "wal_bytes"):
            entry[key + "_with_shipping"] = x.get(key, 0) / na
            entry[key + "_saga_alone"] = y.get(key, 0) / nb
            entry[key + "_extra"] = entry[key + "_with_shipping"] - entry[key + "_saga_alone"]
        result[label] = entry
    return result


def difference(a, b):
    """a − b per key (a key missing on one side counts 0 there; None when either side is unknown)."""
    if a is None or b is None:
        return None
    out = {}
    for key in list(a) + [k for k in b if k not in a]:
        x, y = a.get(key, 0.0), b.get(key, 0.0)
        if isinstance(x, dict) or isinstance(y, dict):
            out[key] = difference(x or {}, y or {}) if x is not None and y is not None else None
        else:
            out[key] = None if x is None or y is None else x - y
    return out


def backends_of(database):
    """Pids of the Postgres backends that serve this run's `database` (their process title names it)."""
    postmaster = postmaster_pid()
    pids = []
    for pid in (postgres_processes(postmaster) if postmaster else [])[1:]:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if " %s_%s " % (RUN, database) in title:
            pids.append(pid)
    return pids


def idle_cost(service, database, seconds=3.0):
    """CPU of `service` and of its database's backends while no order moves (its periodic scans), in ms per second."""
    pids = backends_of(database)
    before = (cpu_seconds(service.process.pid), {pid: cpu_seconds(pid) for pid in pids}, time.monotonic())
    time.sleep(seconds)
    after = (cpu_seconds(service.process.pid), {pid: cpu_seconds(pid) for pid in pids}, time.monotonic())
    window = after[2] - before[2]
    own = (after[0] - before[0]) * 1000.0 / window if None not in (after[0], before[0]) else None
    backends = sum(v - (before[1].get(pid) or 0.0) for pid, v in after[1].items() if v is not None) * 1000.0 / window
    return {"seconds": round(window, 2), "service_cpu_ms_per_s": own, "postgres_cpu_ms_per_s": backends,
            "backends": len(pids), "all_cpu_ms_per_s": (own or 0.0) + backends}


def fulfilment(stack, rates, seconds, customers, tokens_file, products, meter, drain_timeout):
    """Per rate: with shipping-service, then the saga alone (shipping-service stopped, its queue purged and
    the service started again afterwards, warmed up before the next rate's pair)."""
    url = stack.gateway.url
    shipping = stack.shipping
    pairs = []
    started = time.monotonic()
    for index, rate in enumerate(rates):
        if index:  # shipping-service is a fresh process since the last saga-alone step
            checkout_step("warm-up %d" % rate, 25, 2, url, customers, tokens_file, products, meter, drain_timeout, measure_postgres=False)
        ship = checkout_step("%d/s ship" % rate, rate, seconds, url, customers, tokens_file, products, meter, drain_timeout)
        # what shipping-service's scans cost while nothing moves (SHIPPING_SCAN_MS): part of the extra at any rate
        idle = idle_cost(shipping, "shipping")
        idle["ms_per_order_at_rate"] = idle["all_cpu_ms_per_s"] / rate if rate else None
        say("fulfilment %d/s: shipping-service stopped, the saga alone" % rate)
        shipping.stop()
        try:
            alone = checkout_step("%d/s saga" % rate, rate, seconds, url, customers, tokens_file, products, meter, drain_timeout,
                                  at_rest=SAGA_AT_REST, unread_queues=(SHIPPING_QUEUE,))
        finally:
            purge_queue(SHIPPING_QUEUE)  # (the step did; again when it failed) none of its OrderCompleted may reach shipping-service
            restart_ms = start_timed(shipping)
        purged = alone["purged_messages"][SHIPPING_QUEUE]
        cpu_ship, pg_ship = per_order_at_rest(ship, delivered=True)
        cpu_alone, pg_alone = per_order_at_rest(alone, delivered=False)
        checks = {
            "with_shipping_every_order_delivered": ship["drained"] and ship["every_checkout_an_order"] and ship["delivered"] == ship["orders"],
            "saga_alone_every_order_completed": alone["drained"] and alone["every_checkout_an_order"]
            and alone["orders_by_status"].get("Completed", 0) == alone["orders"],
            "purged_equals_completed": purged == alone["completed"],
        }
        pair = {"rate": rate, "with_shipping": ship, "saga_alone": alone, "purged_messages": purged, "shipping_restart_ms": restart_ms,
                "postgres_categories_per_order": categories_per_order(ship, alone), "shipping_idle": idle,
                # both runs offered their rate (else the per-order difference mixes two load levels)
                "rate_reached": all(s["accepted_rate"] >= 0.9 * rate for s in (ship, alone)),
                "cpu_ms_per_order": {"with_shipping": cpu_ship, "saga_alone": cpu_alone, "extra": difference(cpu_ship, cpu_alone)},
                "postgres_per_order": {"with_shipping": pg_ship, "saga_alone": pg_alone, "extra": difference(pg_ship, pg_alone)},
                "checks": checks, "ok": all(checks.values())}
        extra = pair["cpu_ms_per_order"]["extra"] or {}
        d, c = ship["checkout_to_delivered_ms"] or {}, alone["checkout_to_completed_ms"] or {}
        say("fulfilment %d/s: →Delivered p50 %s p99 %s ms (→Completed alone p50 %s p99 %s); extra CPU per order %s ms (shipping %s, Postgres %s)%s" % (
            rate, fmt(d.get("p50"), "%.0f"), fmt(d.get("p99"), "%.0f"), fmt(c.get("p50"), "%.0f"), fmt(c.get("p99"), "%.0f"),
            fmt(extra.get("all"), "%.2f"), fmt(extra.get("shipping"), "%.2f"), fmt(extra.get("postgres"), "%.2f"),
            "" if pair["ok"] else "; CHECKS FAIL: %s" % ", ".join(k for k, v in checks.items() if not v)))
        pairs.append(pair)
    return {"rates": rates, "seconds": seconds, "customers": customers, "shipping_env": dict(SHIPPING_ENV), "queue": SHIPPING_QUEUE,
            "note": FULFILMENT_NOTE, "pairs": pairs, "wall_seconds": round(time.monotonic() - started, 1)}


# --- replicas and shared rate limits ------------------------------------------------------------------
# GET /product/{id} through gateways that differ in one thing each (two product replicas behind one gateway;
# the shared rate limits on), interleaved round by round; then the checkout pipeline with one and with two
# replicas of ordering, product and payment behind one gateway. On two cores, replicas share the same CPUs:
# these figures show what a replica costs and that the pipeline stays correct, not a speed-up.

REPLICATED = [name.strip() for name in os.environ.get("BENCH_REPLICATED", "ordering-service,product-service,payment-service").split(",")
              if name.strip()]
REPLICAS_NOTE = ("on %d cores the replicas share the same CPUs with Postgres and the load generator: these figures show the "
                 "overhead of replicas and that the pipeline stays correct, not a speed-up" % len(os.sched_getaffinity(0)))
HOT_KEY_NOTE = ("every request comes from one address (wrk on 127.0.0.1), so the per-address bucket is one hot key: "
                "one row of rate_buckets, its row lock taken by every lease")


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def lease(rate, burst):
    """Tokens a gateway takes from the shared bucket per statement (SharedRateLimiter.lease)."""
    return max(1, min(int(rate / 10), int(burst / 10)))


def rate_take_calls(database):
    """Top-level calls of the shared rate limiter's statement (SELECT ... FROM rate_take(...)) in `database` so far,
    from pg_stat_statements (the function's own statements, nested, are left out); None without it."""
    rows = psql_rows_any(MARK + "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                         "WHERE d.datname = '%s' AND s.toplevel AND s.query LIKE '%%FROM rate_take(%%'" % database)
    try:
        return int(rows[0][0]) if rows else None
    except (ValueError, IndexError):
        return None


class ReadProbe:
    """CPU of a gateway, of the product replicas behind it, of this run's Postgres processes and of wrk, and
    the calls of rate_take in the gateway's database, around one read line."""

    def __init__(self, gateway, products, database=None):
        self.gateway, self.products, self.database = gateway, products, database
        self.postmaster = postmaster_pid()

    def snapshot(self, end=False):
        # psql is a child process too: read the children's CPU after it at the start and before it at the end
        calls = rate_take_calls(self.database) if self.database and not end else None
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap = {"gateway": cpu_seconds(self.gateway.process.pid), "product": [cpu_seconds(p.process.pid) for p in self.products],
                "postgres": {pid: cpu_seconds(pid) for pid in postgres_processes(self.postmaster)} if self.postmaster else None,
                "wrk": children.ru_utime + children.ru_stime, "rate_take": calls, "machine": machine_busy(), "time": time.monotonic()}
        if self.database and end:
            snap["rate_take"] = rate_take_calls(self.database)
        return snap

    @staticmethod
    def difference(before, after, requests):
        cpu = {"gateway": after["gateway"] - before["gateway"] if None not in (after["gateway"], before["gateway"]) else None,
               "product": sum(a - b for a, b in zip(after["product"], before["product"]) if None not in (a, b)),
               "postgres": sum(v - (before["postgres"].get(pid) or 0.0) for pid, v in after["postgres"].items() if v is not None)
               if after["postgres"] is not None else None,
               "wrk": after["wrk"] - before["wrk"]}
        known = [v for k, v in cpu.items() if k != "wrk" and v is not None]
        per = {"cpu_us_per_request": dict({k: v * 1e6 / requests if v is not None and requests else None for k, v in cpu.items()},
                                          **{"gateway + product + postgres": sum(known) * 1e6 / requests if requests else None}),
               "cpu_seconds": cpu}
        # CPU the machine spent outside these processes (and outside the stack's idle services, which count
        # here too: a few %), in % of all its cores: another build or test on the machine shows here.
        cores = len(os.sched_getaffinity(0)) * (after["time"] - before["time"])
        busy = after["machine"] - before["machine"] if None not in (after["machine"], before["machine"]) else None
        per["machine_busy_pct"] = busy / cores * 100 if busy is not None else None
        per["other_cpu_pct"] = (busy - sum(known) - cpu["wrk"]) / cores * 100 if busy is not None else None
        calls = None if before["rate_take"] is None or after["rate_take"] is None else after["rate_take"] - before["rate_take"]
        per["rate_take_calls"] = calls
        per["rate_take_per_request"] = calls / requests if calls is not None and requests else None
        return per


def williams_order(n, index):
    """Round `index` of a Williams design for n variants: every variant comes first in one of n rounds and
    follows every other variant in exactly one of them (for even n), so that no variant always runs right
    after the same one (the lease-1 variant, for one, leaves Postgres with rate_buckets to clean up)."""
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    return [(v + index) % n for v in first]


def machine_busy():
    """CPU seconds the whole machine has been busy (not idle, not waiting for I/O), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def gateway_variants(stack, product_id, seconds, connections, anchor_tps, rounds):
    """GET /product/{id} through four gateways on the same upstreams, interleaved (A B D C, B C A D, C D B A, D A C B:
    a Williams design, repeated after four rounds):
    one with the settings of the stack's gateway (one product replica, limits off), one whose PRODUCT_SERVICE_URL
    lists two product replicas (the second started for this on the same database), and two with the shared
    rate limits on (DATABASE_URL: <run>_gateway), one with a lease of 100,000 tokens per statement and one
    with a lease of one (a statement per request: the worst case). Each variant's median and its cost against
    the limits-off gateway's median."""
    database = "%s_gateway" % RUN
    shared_env = {"DATABASE_URL": "%s/%s" % (PG_URL, database), "RATE_LIMIT_USER_PER_SECOND": "1000000", "RATE_LIMIT_USER_BURST": "1000000"}
    second = chaos.Service("product-service", chaos.free_port(), dict(stack.product.env, SEED_DEMO_CATALOG="false"), label="product-service#2")
    specs = [
        ("off", "limits off, 1 product replica", {}, None, None),
        ("two_product_replicas", "limits off, 2 product replicas", {"PRODUCT_SERVICE_URL": stack.product.url + "," + second.url}, None, None),
        ("shared", "shared limits, lease %s" % thousands(lease(1000000, 1000000)),
         dict(shared_env, RATE_LIMIT_ADDRESS_PER_SECOND="1000000", RATE_LIMIT_ADDRESS_BURST="1000000"), 1000000, 1000000),
        ("shared_lease_1", "shared limits, lease %d (worst case)" % lease(200000, 10),
         dict(shared_env, RATE_LIMIT_ADDRESS_PER_SECOND="200000", RATE_LIMIT_ADDRESS_BURST="10"), 200000, 10),
    ]
    variants, extra = [], [second]
    for key, label, env, rate, burst in specs:
        # a gateway of its own for each variant, the limits-off one too: all started together, none has served
        # more than the others (the stack's gateway has served the read lines above)
        gateway = chaos.Service("gateway", chaos.free_port(), dict(stack.gateway.env, METRICS_PORT=str(chaos.free_port()), **env), label="gateway-" + key)
        extra.append(gateway)
        variants.append({"key": key, "label": label, "gateway": gateway, "products": [stack.product, second] if key == "two_product_replicas" else [stack.product],
                         "database": database if "DATABASE_URL" in (env or {}) else None,
                         "settings": {k: v for k, v in (env or {}).items() if k != "DATABASE_URL"},
                         "address_rate": rate, "address_burst": burst, "lease": lease(rate, burst) if rate else None})
    started = time.monotonic()
    try:
        for service in extra:
            service.start()
        say("gateway variants: %s; %d rounds of %d s, in a balanced order" % (", ".join(v["key"] for v in variants), rounds, seconds))
        for index in range(rounds):
            for v in [variants[i] for i in williams_order(len(variants), index)]:
                probe = ReadProbe(v["gateway"], v["products"], v["database"])
                v.setdefault("rounds", []).append(read_line("%s (%d)" % (v["key"], index + 1), "%s/product/%s" % (v["gateway"].url, product_id),
                                                            seconds, connections, anchor_tps, probe=probe))
    finally:
        for service in extra:
            service.stop()
    off = None
    out = []
    for v in variants:
        lines = v["rounds"]
        summary = {"key": v["key"], "label": v["label"], "settings": v["settings"], "lease": v["lease"],
                   "product_replicas": len(v["products"]), "shared": v["database"] is not None,
                   "rps_rounds": [line["rps"] for line in lines], "rps_median": median([line["rps"] for line in lines]),
                   "p50_ms_median": median([line["p50_ms"] for line in lines]), "p99_ms_median": median([line["p99_ms"] for line in lines]),
                   "errors": sum(line["non_2xx"] + line["socket_errors"] for line in lines),
                   "non_2xx": sum(line["non_2xx"] for line in lines), "socket_errors": sum(line["socket_errors"] for line in lines),
                   "cpu_us_per_request_median": {k: median([line["counters"]["cpu_us_per_request"][k] for line in lines])
                                                 for k in lines[0]["counters"]["cpu_us_per_request"]},
                   "rate_take_per_request_median": median([line["counters"]["rate_take_per_request"] for line in lines]),
                   "other_cpu_pct_rounds": [line["counters"]["other_cpu_pct"] for line in lines],
                   "lines": lines}
        if v["key"] == "off":
            off = summary
        summary["cost_pct"] = (1 - summary["rps_median"] / off["rps_median"]) * 100 if off and off["rps_median"] else None
        out.append(summary)
    return {"rounds": rounds, "seconds": seconds, "connections": connections, "database": database, "order": [v["key"] for v in variants],
            "note": HOT_KEY_NOTE, "wall_seconds": round(time.monotonic() - started, 1), "variants": out}


def prepare(stack, customers):
    """The demo catalog with a stock of 10,000,000 each (a relative change: no If-Match), the basket told of
    it, and `customers` signed-up customers (their tokens in chaos.WORK/tokens.tsv). Returns (product ids,
    tokens file or None)."""
    admin = stack.admin()
    deadline = time.time() + 30
    while True:
        status, page = chaos.call("GET", stack.product.url + "/product?limit=200")
        if status == 200 and page["items"]:
            break
        if time.time() > deadline:
            raise RuntimeError("no demo catalog (%s)" % status)
        time.sleep(0.2)
    products = []
    for item in page["items"]:
        body = {k: item[k] for k in ["name", "description", "imageFile", "price", "category"] if item.get(k) is not None}
        body["stockDelta"] = 10_000_000 - item["stock"]  # relative: an absolute stock needs If-Match
        status, answer = chaos.call("PUT", "%s/product/%s" % (stack.product.url, item["id"]), body, admin)
        if status != 200:
            raise RuntimeError("PUT /product/%s: %s %s" % (item["id"], status, answer))
        products.append(item["id"])
    while chaos.scalar("basket", "SELECT count(*) FROM catalog_products") < len(products):
        if time.time() > deadline:
            raise RuntimeError("the basket never learned the catalog")
        time.sleep(0.1)
    if not customers:
        return products, None
    say("catalog: %d products with stock 10,000,000; signing up %d customers" % (len(products), customers))
    tokens_file = os.path.join(chaos.WORK, "tokens.tsv")
    with open(tokens_file, "w") as f:
        for name, token in stack.customers("bench", customers):
            f.write("%s\t%s\n" % (name, token))
    return products, tokens_file


def keep_one_replica(stack, name):
    """Leaves one process of `name` in a chaos.Stack made with replicas > 1, and the gateways' lists to match."""
    extra = stack.replicas[name][1:]
    if not extra:
        return
    stack.replicas[name] = stack.replicas[name][:1]
    stack.replicas[name][0].label = name
    stack.services = [s for s in stack.services if s not in extra]
    for service in extra:
        service.log.close()
        os.remove(service.log.name)
    for gateway in stack.gateways:
        for setting, service in [("PRODUCT_SERVICE_URL", "product-service"), ("BASKET_SERVICE_URL", "basket-service"),
                                 ("ORDERING_SERVICE_URL", "ordering-service"), ("PAYMENT_SERVICE_URL", "payment-service"),
                                 ("SHIPPING_SERVICE_URL", "shipping-service")]:
            if service in stack.replicas:
                gateway.env[setting] = ",".join(s.url for s in stack.replicas[service])


def replica_checks(stack, products):
    """After every step of a replica set: nothing applied twice, the stock matches the Completed orders, and
    every replica of a replicated service handled messages."""
    def count(database, sql):
        return int(chaos.psql(database, MARK + sql)[0][0])

    orders = {status: int(n) for status, n in chaos.psql("ordering", MARK + "SELECT status, count(*) FROM orders GROUP BY 1")}
    reservations = {status: int(n) for status, n in chaos.psql("product", MARK + "SELECT status, count(*) FROM stock_reservations GROUP BY 1")}
    committed_units = count("product", """SELECT coalesce(sum((l->>'quantity')::bigint), 0) FROM stock_reservations r,
                                          jsonb_array_elements(r.lines::jsonb) l WHERE r.status = 'committed'""")
    ids = set(p.lower() for p in products)
    stock_taken = sum(10_000_000 - int(stock) for pid, stock in chaos.psql("product", MARK + "SELECT id, stock FROM products") if pid.lower() in ids)
    checks = {
        "orders_by_status": orders,
        "reservations_by_status": reservations,
        "status_twice": count("ordering", "SELECT count(*) FROM (SELECT 1 FROM order_status_history GROUP BY order_id, status HAVING count(*) > 1) t"),
        "payment_status_twice": count("payment", "SELECT count(*) FROM (SELECT 1 FROM payment_history GROUP BY order_id, status HAVING count(*) > 1) t"),
        "stock_taken": stock_taken, "committed_units": committed_units,
    }
    handled = {}
    for service in stack.services:
        if service.name in ("identity", "gateway"):
            continue
        chaos.sample_metrics(service, wait=10)
        handled[process_key(service)] = chaos.counted(service, "bus_messages_handled")
    checks["messages_handled"] = handled
    gateway = stack.gateway
    if chaos.sample_metrics(gateway, wait=10):
        checks["gateway_requests_by_status"] = {k: int(v) for k, v in chaos.counted(gateway, "gateway_requests", by="http_response_status_code").items()}
        checks["gateway_upstream_retries"] = int(chaos.counted(gateway, "gateway_upstream_retries"))
        checks["gateway_upstream_ejections"] = int(chaos.counted(gateway, "gateway_upstream_ejections"))
    replicated = [k for k in handled if "#" in k]
    checks["every_replica_handled_messages"] = all(handled[k] > 0 for k in replicated) if replicated else None
    checks["ok"] = (checks["status_twice"] == 0 and checks["payment_status_twice"] == 0 and stock_taken == committed_units
                    and reservations.get("committed", 0) == sum(orders.get(status, 0) for status in COMPLETED_OR_LATER)
                    and checks["every_replica_handled_messages"] is not False)
    return checks


def replica_set(replicas, rates, seconds, customers, drain_timeout):
    """The checkout pipeline (warm-up, the paced rates, unpaced) on a stack of its own on fresh databases
    (<run>_x<replicas>_*), with `replicas` processes of each service in REPLICATED (one of the others) and one
    gateway given the lists; its rate limits off, READY_REFRESH_MS 500 and its own database whatever the count,
    so that the two sets differ only in the replicas."""
    global RUN
    saved_run, saved_work = RUN, chaos.WORK
    RUN = chaos.RUN = "%s_x%d" % (saved_run, replicas)
    chaos.WORK = os.path.join(saved_work, "x%d" % replicas)
    os.makedirs(chaos.WORK, exist_ok=True)
    started = time.monotonic()
    try:
        stack = chaos.Stack(gateway=True, replicas=replicas, shipping=SHIPPING_BUILT, extra_env=dict({"gateway": {
            "RATE_LIMIT_USER_PER_SECOND": "0", "RATE_LIMIT_ADDRESS_PER_SECOND": "0", "READY_REFRESH_MS": "500",
            "DATABASE_URL": "%s/%s_gateway" % (PG_URL, RUN)}}, **({"shipping": SHIPPING_ENV} if SHIPPING_BUILT else {})))
        for name in list(stack.replicas):
            if name != "gateway" and name not in REPLICATED:
                keep_one_replica(stack, name)
        for service in stack.replicas["product-service"]:
            service.env["SEED_DEMO_CATALOG"] = "false"
        stack.product.env["SEED_DEMO_CATALOG"] = "true"
        say("replicas ×%d: %s (run %s)" % (replicas, ", ".join(process_key(s) for s in stack.services), RUN))
        ok = False
        try:
            for service in stack.services:
                service.start()
            stop_unused_shipping(stack)
            products, tokens_file = prepare(stack, customers)
            meter = CpuMeter(stack.services)
            url = stack.gateway.url
            checkout_step("warm-up", 50, 3, url, customers, tokens_file, products, meter, drain_timeout, measure_postgres=False)
            steps = [checkout_step("%d/s" % rate, rate, seconds, url, customers, tokens_file, products, meter, drain_timeout) for rate in rates]
            steps.append(checkout_step("saturation", 0, seconds, url, customers, tokens_file, products, meter, drain_timeout))
            checks = replica_checks(stack, products)
            ok = True
        finally:
            stack.stop()
            if not ok:
                say("replicas ×%d failed; service logs kept in %s" % (replicas, chaos.WORK))
        say("replicas ×%d: checks %s" % (replicas, "hold" if checks["ok"] else "FAIL: %s" % json.dumps(checks)))
        return {"replicas": replicas, "run": RUN, "processes": [process_key(s) for s in stack.services],
                "replicated": {name: len(group) for name, group in stack.replicas.items()},
                "steps": steps, "checks": checks, "wall_seconds": round(time.monotonic() - started, 1)}
    finally:
        RUN = chaos.RUN = saved_run
        chaos.WORK = saved_work


# --- search (issue 30): a catalog of 100,000 products, GET /product?q= through the gateway -------------------
# On a stack of its own (fresh databases <run>_search_*; the other steps never see the scratch catalog), after
# every other step. benchmarks/search_catalog.sql writes the products straight into product-service's table
# (one INSERT ... SELECT generate_series; its trigger fills product_words), VACUUM ANALYZE; then each query is
# checked once (200, what it found) and every line is measured twice with wrk through the gateway, like the
# read lines: first with product-service as configured by default (PRODUCT_CACHE_TTL_MS=1000: `GET /product`,
# `?q=` and `/product/facets` answered from its memory for up to a second, identical misses coalesced; the
# targets are for this), then with product-service restarted with PRODUCT_CACHE_TTL_MS=0 (every request
# reaches Postgres; informative). The lines: each query of SEARCH_QUERIES over and over, and the mix
# (benchmarks/wrk/search_mix.lua): BENCH_SEARCH_MIX (default 300) distinct queries built from the catalog's
# brands, lines and categories (a third with one typo, some with a category or maxPrice filter), cycled
# through, so that the cache meets the misses it would in use. Before and after each line the product
# database is left to go idle (a request the gateway gave up on may still be running in Postgres); per line,
# the statements product-service ran on `products` per request (pg_stat_statements): what the cache saved.
# Between the two rounds, the plans as product-service runs them, from Postgres' auto_explain: switched on for
# the product database alone (ALTER DATABASE ... SET session_preload_libraries = 'auto_explain',
# auto_explain.log_min_duration = 0, log_analyze, log_buffers, log_format text; as a superuser: PG_URL's role
# when it is one, else `postgres` over the cluster's Unix socket, which scripts/postgres.sh trusts),
# product-service restarted with its cache off so that its new connections load it, one request per query
# through the gateway, each statement's text and plan read back from the server log (pg_read_binary_file:
# pg_current_logfile() with a logging collector, else server.log in the data directory, where
# scripts/postgres.sh's `pg_ctl -l` writes it); then the settings are reset and product-service restarted
# again before the uncached round, so that no line is measured with auto_explain on.

SEARCH_PRODUCTS = int(os.environ.get("BENCH_SEARCH_PRODUCTS", "100000"))
SEARCH_TIMEOUT = int(os.environ.get("BENCH_SEARCH_TIMEOUT", "15"))  # wrk --timeout, s (the gateway gives up at 10 s: UPSTREAM_TIMEOUT_MS)
# s: how long a query's plan may take to reach the server log after its request (auto_explain logs a plan when
# its statement ends); a statement still running then is cancelled and shown without a plan.
SEARCH_PLAN_WAIT = int(os.environ.get("BENCH_SEARCH_EXPLAIN_TIMEOUT", "30"))
SEARCH_MIX = int(os.environ.get("BENCH_SEARCH_MIX", "300"))  # distinct queries of the mix line
SEARCH_CATALOG_SQL = os.path.join(HERE, "search_catalog.sql")
SEARCH_MIX_LUA = os.path.join(HERE, "wrk", "search_mix.lua")
# How product-service runs in the search lines: as configured by default (ProductServiceConfig: 1000 ms; set
# explicitly, so that a PRODUCT_CACHE_TTL_MS of the calling shell changes nothing), which the targets are for;
# and with every cache off (restarted), every request reaching Postgres: informative.
SEARCH_CONFIGS = [("cached", "cached (PRODUCT_CACHE_TTL_MS=1000)", "1000"),
                  ("uncached", "uncached (PRODUCT_CACHE_TTL_MS=0)", "0")]
# key, label, path through the gateway, the filter (what the tsquery and the match count are made of)
SEARCH_QUERIES = [
    # the reference: a page of 50 by name (products_name_id, no search), what the services and the gateway cost for 50 products
    ("page", "GET /product?limit=50 (by name, no search)", "/product?limit=50", None),
    ("typo", "GET /product?q=iphnoe (a typo)", "/product?q=iphnoe", {"words": ["iphnoe"]}),
    ("typos", "GET /product?q=samsnug galxy (two typos)", "/product?q=samsnug%20galxy", {"words": ["samsnug", "galxy"]}),
    ("filtered", "GET /product?q=phone&category=Smart Phone&maxPrice=500", "/product?q=phone&category=Smart%20Phone&maxPrice=500",
     {"words": ["phone"], "category": "Smart Phone", "maxPrice": "500"}),
    ("prefix", "GET /product?q=sams (a prefix)", "/product?q=sams", {"words": ["sams"]}),
    ("facets", "GET /product/facets?q=phone", "/product/facets?q=phone", {"words": ["phone"]}),
]
SEARCH_TARGET = "p99 ≤ 20 ms and ≥ 10 % of pgbench -S"
# auto_explain for the product database while the plans are taken (ALTER DATABASE ... SET; reset afterwards)
AUTO_EXPLAIN = [("session_preload_libraries", "auto_explain"), ("auto_explain.log_min_duration", "0"),
                ("auto_explain.log_analyze", "on"), ("auto_explain.log_buffers", "on"), ("auto_explain.log_format", "text")]
PLANS_TITLE = "EXPLAIN ANALYZE (auto_explain, as product-service runs it)"


def sql_literal(value):
    return "NULL" if value is None else "'%s'" % str(value).replace("'", "''")


def psql_text(database, commands, timeout_s=None):
    """psql's output of `commands` (one -c each) on this run's `database`, as text; None when a statement ran past
    `timeout_s`."""
    env = dict(os.environ, PGOPTIONS="-c statement_timeout=%d" % (timeout_s * 1000)) if timeout_s else None
    arguments = [chaos.PSQL, "%s/%s_%s" % (PG_URL, RUN, database), "-XAtq", "-v", "ON_ERROR_STOP=1"]
    for command in ([commands] if isinstance(commands, str) else commands):
        arguments += ["-c", command]
    out = subprocess.run(arguments, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        if "statement timeout" in out.stderr:
            return None
        raise RuntimeError("psql: %s" % out.stderr.strip()[-500:])
    return out.stdout.rstrip("\n")


def active_statements(database):
    rows = psql_rows_any("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s_%s' AND state = 'active' AND pid <> pg_backend_pid()"
                         % (RUN, database))
    return int(rows[0][0]) if rows else None


def restart_product(stack, kill=False):
    """product-service stopped (SIGTERM; with `kill`, SIGKILL and its database's backends terminated: a backend runs
    its statement to the end even with its client gone) and started again with its `env` (another
    PRODUCT_CACHE_TTL_MS; new connections, which load what ALTER DATABASE set), until the gateway reaches it again."""
    if kill:
        stack.product.kill()
        psql_rows_any("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s_product' "
                      "AND pid <> pg_backend_pid()" % RUN)
        while active_statements("product"):
            time.sleep(0.1)
    else:
        stack.product.stop()
    start_timed(stack.product)
    deadline = time.monotonic() + 30
    while True:  # the gateway sees it again
        try:
            if chaos.call("GET", stack.gateway.url + "/product?limit=1")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway does not reach product-service again after its restart")
        time.sleep(0.1)


def settle_product(stack, wait=3.0):
    """After a measurement: until product-service's database runs no statement. When it still does after `wait`
    seconds, product-service is working through requests the gateway gave up on (504 after UPSTREAM_TIMEOUT_MS;
    nothing cancels them), which would run on into the next measurement: it is killed, its backends terminated
    and it is started again. Returns {"waited_s", "restarted", "statements_running"}."""
    started = time.monotonic()
    running = active_statements("product")
    while running and time.monotonic() - started < wait:
        time.sleep(0.1)
        running = active_statements("product")
    result = {"waited_s": round(time.monotonic() - started, 1), "restarted": False, "statements_running": running}
    if not running:
        return result
    say("search: %d statements still running in %s_product %.0f s after the measurement: product-service restarted" % (running, RUN, wait))
    restart_product(stack, kill=True)
    result["restarted"] = True
    return result


def search_catalog(products):
    """benchmarks/search_catalog.sql on product-service's database; the catalog's sizes."""
    started = time.monotonic()
    out = subprocess.run([chaos.PSQL, "%s/%s_product" % (PG_URL, RUN), "-Xq", "-v", "ON_ERROR_STOP=1", "-v", "products=%d" % products,
                          "-f", SEARCH_CATALOG_SQL], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("search_catalog.sql: %s" % out.stderr.strip()[-800:])
    seconds = time.monotonic() - started
    row = chaos.psql("product", """SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM product_words),
        (SELECT count(DISTINCT category) FROM products), pg_table_size('products'), pg_relation_size('products_search'),
        pg_table_size('product_words') + pg_indexes_size('product_words')""")[0]
    return {"products": int(row[0]), "words": int(row[1]), "categories": int(row[2]), "table_mib": int(row[3]) / 2**20,
            "search_index_mib": int(row[4]) / 2**20, "words_mib": int(row[5]) / 2**20, "generate_seconds": round(seconds, 1)}


def search_words(q):
    """The words product-service searches for in `q` (ProductFilter.words): runs of letters and digits, lowercased,
    each once, the first 8, each cut to 50 characters."""
    words = []
    for word in re.findall(r"[^\W_]+", q.lower()):
        if word[:50] not in words:
            words.append(word[:50])
    return words[:8]


def search_matches(filter_):
    """The tsquery product_search_query makes of the words, and how many products match it (and the filters)."""
    words = "ARRAY[%s]::text[]" % ", ".join(sql_literal(w) for w in filter_["words"])
    conditions = "".join([" AND category = %s" % sql_literal(filter_["category"]) if filter_.get("category") else "",
                          " AND price <= %s::numeric" % sql_literal(filter_["maxPrice"]) if filter_.get("maxPrice") else ""])
    count, tsquery = psql_text("product", "SELECT (SELECT count(*) FROM products WHERE search @@ q%s), q::text FROM "
                                          "(SELECT product_search_query(%s) AS q OFFSET 0) x" % (conditions, words)).split("|", 1)
    return {"tsquery": tsquery, "matches": int(count)}


# --- the mix: many different searches, as a storefront's visitors type them -----------------------------------

def catalog_vocabulary():
    """What benchmarks/search_catalog.sql makes its products of: the categories ({category, noun, lo, hi, features})
    and the brand/line pairs ({category, brand, line, code, top}: names `brand line code<1..top>`)."""
    with open(SEARCH_CATALOG_SQL) as f:
        text = f.read()
    categories = [{"category": c, "noun": noun, "lo": int(lo), "hi": int(hi), "features": re.findall(r"'([^']*)'", features)}
                  for c, noun, lo, hi, _variants, features in re.findall(
                      r"\('([^']+)', '([^']+)', (\d+), (\d+), ARRAY\[([^\]]*)\], ARRAY\[([^\]]*)\], (?:true|false)\)", text)]
    lines = [{"category": c, "brand": brand, "line": line, "code": code, "top": int(top)}
             for c, brand, line, code, top in re.findall(r"\('([^']+)','([^']+)','([^']*)','([^']*)',(\d+)\)", text)]
    if not categories or not lines:
        raise RuntimeError("%s: no categories or brand/line pairs found (its VALUES lists changed shape?)" % SEARCH_CATALOG_SQL)
    return categories, lines


def typo(query, rng):
    """`query` with one typo in one of its longer words: two neighbouring letters swapped, or one dropped (never the
    first letter, which people rarely get wrong); None when no word lends itself."""
    words = query.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return None
    i = rng.choice(candidates)
    word = words[i]
    if rng.random() < 0.5:
        swaps = [j for j in range(1, len(word) - 1) if word[j] != word[j + 1]]
        if not swaps:
            return None
        j = rng.choice(swaps)
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    else:
        j = rng.randrange(1, len(word))
        words[i] = word[:j] + word[j + 1:]
    return " ".join(words)


def search_mix(count, seed=30):
    """`count` distinct searches ({q, category, maxPrice, typo, prefix, path}), made of search_catalog.sql's words,
    seeded: a brand, a line (`iphone`, `galaxy tab`), brand and line, a line and a model number (`iphone 12`), a
    brand and what it makes (`sony headphones`), a category or its noun, an accessory for a phone line (`case
    iphone`), a feature (`noise cancelling`). Every third has one typo (a swapped or dropped letter), one in
    fifteen is a prefix, as typed so far (`sams`); one in five is filtered by its category and one in
    seven by a maxPrice within its category's prices. In a shuffled order: the order search_mix.lua cycles through."""
    rng = random.Random(seed)
    categories, lines = catalog_vocabulary()
    by_category = {c["category"]: c for c in categories}
    phone_lines = [l["line"].lower() for l in lines if l["category"] == "Smart Phone"]

    def base():
        kind = rng.choice(["line", "line", "brand line", "model", "model", "brand noun", "category", "accessory", "feature", "brand"])
        line = rng.choice(lines)
        category = by_category[line["category"]]
        brand, name = line["brand"].lower(), line["line"].lower()
        if kind == "model" and line["top"] > 0:
            q = "%s %s%d" % (name, line["code"].lower().strip(), 1 + rng.randrange(line["top"]))
        elif kind == "accessory":
            accessory = rng.choice([l for l in lines if l["category"] == "Phone Accessories"])
            return "%s %s" % (accessory["line"].lower(), rng.choice(phone_lines)), by_category[accessory["category"]]
        elif kind == "brand noun":
            q = "%s %s" % (brand, category["noun"])
        elif kind == "category":
            q = rng.choice([category["category"].lower(), category["noun"]])
        elif kind == "feature":
            q = re.sub(r"^(an?|the) ", "", rng.choice(category["features"]).lower())
        elif kind == "brand":
            q = brand
        elif kind == "brand line":
            q = "%s %s" % (brand, name)
        else:
            q = name
        return q, category

    mix, seen = [], set()
    for n in range(count):
        wants_typo, wants_prefix = n % 3 == 1, n % 10 == 9 and n % 3 != 1
        wants_category, wants_price = n % 5 == 2, n % 7 == 3
        for _attempt in range(1000):
            q, category = base()
            entry = {"q": q, "category": None, "maxPrice": None, "typo": None, "prefix": False}
            if wants_typo:
                entry["q"] = typo(q, rng)
                if entry["q"] is None:
                    continue
                entry["typo"] = q
            elif wants_prefix:
                first = q.split(" ")[0]
                if len(first) < 5:
                    continue
                entry["q"], entry["prefix"] = first[:rng.choice([3, 4, 4, 5])], True
            if wants_category:
                entry["category"] = category["category"]
            if wants_price:
                prices = [p for p in (25, 50, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000) if category["lo"] < p < category["hi"]]
                entry["maxPrice"] = str(rng.choice(prices or [category["hi"]]))
            identity = (tuple(search_words(entry["q"])), entry["category"], entry["maxPrice"])
            if identity not in seen:
                seen.add(identity)
                break
        else:
            raise RuntimeError("search mix: no new distinct query after 1000 attempts (%d made of %d)" % (len(mix), count))
        parameters = [("q", entry["q"])] + [(k, entry[k]) for k in ("category", "maxPrice") if entry[k]]
        entry["path"] = "/product?" + urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)
        mix.append(entry)
    rng.shuffle(mix)
    return mix


def mix_matches(mix):
    """How many products each search of the mix finds (its words through product_search_query, its filters), up to 51
    (more than a page): one statement for all."""
    rows = ", ".join("(%d, ARRAY[%s]::text[], %s::text, %s::numeric)" % (
        n, ", ".join(sql_literal(w) for w in search_words(e["q"])) or "''", sql_literal(e["category"]), sql_literal(e["maxPrice"]))
        for n, e in enumerate(mix))
    out = psql_text("product", "SELECT n, (SELECT count(*) FROM (SELECT FROM products WHERE search @@ q AND (c IS NULL OR category = c) "
                               "AND (m IS NULL OR price <= m) LIMIT 51) s) FROM (SELECT n, product_search_query(w) AS q, c, m FROM (VALUES %s) "
                               "v(n, w, c, m) OFFSET 0) x ORDER BY n" % rows)
    return [int(line.split("|")[1]) for line in out.splitlines()]


def mix_summary(mix):
    counts = mix_matches(mix)
    for entry, found in zip(mix, counts):
        entry["matches_up_to_51"] = found
    return {"queries": len(mix), "typos": sum(1 for e in mix if e["typo"]), "prefixes": sum(1 for e in mix if e["prefix"]),
            "category": sum(1 for e in mix if e["category"]), "max_price": sum(1 for e in mix if e["maxPrice"]),
            "find_nothing": sum(1 for c in counts if c == 0), "one_page_or_less": sum(1 for c in counts if 0 < c <= 50),
            "more_than_a_page": sum(1 for c in counts if c > 50), "script": os.path.relpath(SEARCH_MIX_LUA, ROOT), "list": mix}


def describe(entry):
    """A search of the mix as one reads it: `samsnug galxy` (typo of `samsung galaxy`), category Smart Phone, ≤ 500."""
    return "`%s`%s%s%s%s" % (entry["q"], " (typo of `%s`)" % entry["typo"] if entry["typo"] else "", " (a prefix)" if entry["prefix"] else "",
                             ", category %s" % entry["category"] if entry["category"] else "", ", ≤ %s" % entry["maxPrice"] if entry["maxPrice"] else "")


# --- the lines: wrk through the gateway ------------------------------------------------------------------------

def statements_run():
    """Calls so far of the top-level statements on `products` in this run's product database (pg_stat_statements, when
    scripts/postgres.sh set it up; else None): product-service's reads of the catalog, not the bench's own."""
    out = subprocess.run([chaos.PSQL, PG_URL + "/postgres", "-XAtq", "-c",
                          "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = "
                          + sql_literal(RUN + "_product") + " AND s.toplevel AND s.query ~ '\\mproducts\\M' AND s.query NOT LIKE "
                          + sql_literal(pgcost.BENCH_MARK + "%")], capture_output=True, text=True)
    return int(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip().isdigit() else None


def search_line(label, url, seconds, connections, anchor_tps, paths_file=None):
    """One search line: wrk -t2 -c`connections` --latency --timeout SEARCH_TIMEOUT s through the gateway after a 1 s
    warm-up (as read_line), with benchmarks/wrk/report.lua on `url`, or (`paths_file`) with search_mix.lua cycling
    through the paths in that file; and the statements product-service ran on `products` per request. The line
    starts once the warm-up's requests are done in Postgres (at most 3 s later), so that their statements are not
    counted in it."""
    script = SEARCH_MIX_LUA if paths_file else os.path.join(HERE, "wrk", "report.lua")
    env = dict(os.environ, BENCH_SEARCH_PATHS=paths_file) if paths_file else None
    base = ["wrk", "-t2", "-c%d" % connections, "--latency", "--timeout", "%ds" % SEARCH_TIMEOUT, "-s", script]
    subprocess.run(base + ["-d1s", url], capture_output=True, env=env)  # warm-up: pools, upstream connections, the cache
    deadline = time.monotonic() + 3
    while active_statements("product") and time.monotonic() < deadline:
        time.sleep(0.05)
    before = statements_run()
    out = subprocess.run(base + ["-d%ds" % seconds, url], capture_output=True, text=True, env=env)
    after = statements_run()
    line = wrk_line(out, label, url, connections, anchor_tps)
    statements = after - before if None not in (before, after) else None
    line.update(statements=statements, statements_per_request=statements / line["requests"] if statements is not None and line["requests"] else None)
    return line


# --- the plans: auto_explain, as product-service runs its statements --------------------------------------------

def superuser_psql():
    """psql's connection arguments for a superuser session on the cluster (ALTER DATABASE ... SET of
    session_preload_libraries and auto_explain.*, and reading the server log, need one): PG_URL's role when it is a
    superuser, else the role `postgres` over the cluster's Unix socket on PG_URL's port (scripts/postgres.sh:
    unix_socket_directories = PGDATA_DIR, `local all all trust`)."""
    port = str(urllib.parse.urlsplit(PG_URL).port or 5432)
    candidates = [[PG_URL + "/postgres"]] + [["-h", d, "-p", port, "-U", "postgres", "-d", "postgres"]
                                             for d in (PGDATA_DIR, "/var/run/postgresql", "/tmp")
                                             if os.path.exists(os.path.join(d, ".s.PGSQL." + port))]
    tried = []
    for candidate in candidates:
        out = subprocess.run([chaos.PSQL, "-XAtqw"] + candidate + ["-c", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == "t":
            return candidate
        tried.append("%s: %s" % (" ".join(candidate).replace(PG_URL, re.sub(r":[^:@/]*@", ":…@", PG_URL)),
                                 "not a superuser" if out.returncode == 0 else out.stderr.strip()[-200:]))
    raise RuntimeError("no superuser session on the cluster (%s; set PGDATA_DIR to the cluster scripts/postgres.sh made)" % "; ".join(tried))


def superuser_sql(connection, commands):
    """psql's output of `commands` (one -c each, one session) as the superuser of `connection` (superuser_psql)."""
    arguments = [chaos.PSQL, "-XAtqw", "-v", "ON_ERROR_STOP=1"] + connection
    for command in ([commands] if isinstance(commands, str) else commands):
        arguments += ["-c", command]
    out = subprocess.run(arguments, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql (superuser): %s" % out.stderr.strip()[-500:])
    return out.stdout.rstrip("\n")


class ServerLog:
    """The cluster's server log, read through a superuser session (pg_read_binary_file, so it works whoever owns the
    file): pg_current_logfile() when a logging collector writes it, else server.log in the data directory (where
    scripts/postgres.sh's and chaos.pg_ctl's `pg_ctl -l` write it)."""

    def __init__(self, connection):
        self.connection = connection
        self.path = superuser_sql(connection, "SELECT coalesce(pg_current_logfile('stderr'), 'server.log')")
        self.where = superuser_sql(connection, "SELECT CASE WHEN %s LIKE '/%%' THEN %s ELSE current_setting('data_directory') || '/' || %s END"
                                   % ((sql_literal(self.path),) * 3))
        if self.size() is None:
            raise RuntimeError("no server log at %s (no logging collector, and no server.log in the data directory: not started by "
                               "scripts/postgres.sh?)" % self.where)

    def size(self):
        out = superuser_sql(self.connection, "SELECT (pg_stat_file(%s, true)).size" % sql_literal(self.path))
        return int(out) if out else None

    def read(self, offset):
        """What was written since `offset`, up to its last complete line."""
        out = superuser_sql(self.connection, "SELECT pg_read_binary_file(%s, %d, greatest((pg_stat_file(%s)).size - %d, 0))"
                            % (sql_literal(self.path), offset, sql_literal(self.path), offset))
        text = bytes.fromhex(out[2:]).decode("utf-8", "replace")
        return text[:text.rfind("\n") + 1]


AUTO_EXPLAIN_ENTRY = re.compile(r"^(?P<prefix>.*?)LOG:\s+duration: (?P<ms>[\d.]+) ms\s+plan:\s*$")
PLAN_ROOT = re.compile(r"^\S.*\(cost=\d")  # a text plan's first node: no indentation, its costs
CATALOG_STATEMENT = re.compile(r"\bproducts\b|product_search_query")


def auto_explain_entries(text):
    """auto_explain's text-format entries in a piece of the server log: [{"duration_ms", "pid", "query", "parameters",
    "plan"}]. An entry is a `LOG:  duration: … ms  plan:` line and the lines after it that begin with a tab (the
    log's continuation lines): `Query Text: …` (the statement, over as many lines as it has), `Query Parameters: …`
    (PostgreSQL 16 and later), then the plan from its first node on."""
    entries, current = [], None
    for raw in text.split("\n"):
        found = AUTO_EXPLAIN_ENTRY.match(raw)
        if found:
            pid = re.search(r"\[(\d+)\]", found.group("prefix"))
            current = {"duration_ms": float(found.group("ms")), "pid": int(pid.group(1)) if pid else None, "lines": []}
            entries.append(current)
        elif current is not None and raw.startswith("\t"):
            current["lines"].append(raw[1:])
        else:
            current = None
    result = []
    for entry in entries:
        lines = entry.pop("lines")
        if not lines or not lines[0].startswith("Query Text: "):
            continue
        root = next((i for i, line in enumerate(lines) if PLAN_ROOT.match(line)), len(lines))
        head = [lines[0][len("Query Text: "):]] + lines[1:root]
        parameters = [line for line in head if line.startswith("Query Parameters: ")]
        result.append(dict(entry, query="\n".join(line for line in head if not line.startswith("Query Parameters: ")).strip("\n"),
                           parameters=parameters[0][len("Query Parameters: "):] if parameters else None,
                           plan="\n".join(lines[root:]).rstrip()))
    return result


def running_statements(cancel=False):
    """The statements running in the product database (their text), cancelled with `cancel`."""
    out = psql_text("product", "SELECT coalesce(json_agg(query), '[]') FROM (SELECT query%s FROM pg_stat_activity WHERE datname = "
                               "current_database() AND state = 'active' AND pid <> pg_backend_pid()) a" % (", pg_cancel_backend(pid)" if cancel else ""))
    return json.loads(out)


def capture_plan(stack, log, label, path):
    """One request for `path` through the gateway (product-service's cache off: it reaches Postgres) and the
    auto_explain entries of product-service's statements on the catalog that it made, read from the server log."""
    deadline = time.monotonic() + SEARCH_PLAN_WAIT
    while active_statements("product") and time.monotonic() < deadline:  # nothing of an earlier request in the window
        time.sleep(0.1)
    start = log.size()
    began = time.monotonic()
    status, _ = chaos.call("GET", stack.gateway.url + path, timeout=SEARCH_TIMEOUT + 5)
    answered_ms = (time.monotonic() - began) * 1000.0
    deadline = began + SEARCH_PLAN_WAIT
    settled = None
    while True:
        statements = [e for e in auto_explain_entries(log.read(start)) if CATALOG_STATEMENT.search(e["query"])]
        running = active_statements("product")
        now = time.monotonic()
        if statements and not running:
            settled = settled or now
            if now - settled >= 0.3:  # a further statement of the same request would have begun by now
                break
        else:
            settled = None
        if now > deadline:
            break
        time.sleep(0.1)
    plan = {"label": label, "path": path, "status": status, "answered_ms": round(answered_ms, 1), "statements": statements}
    if running:
        texts = running_statements(cancel=True)
        plan["running"] = texts
        plan["note"] = ("%d statement(s) still running %d s after the request, cancelled: no plan of them (auto_explain logs a plan "
                        "when its statement ends; BENCH_SEARCH_EXPLAIN_TIMEOUT)" % (len(texts), SEARCH_PLAN_WAIT))
    elif not statements:
        plan["note"] = "no auto_explain entry on `products` in the server log within %d s of the request" % SEARCH_PLAN_WAIT
    return plan


def search_plans(stack):
    """The plans of the statements product-service runs for each query of SEARCH_QUERIES: auto_explain switched on for
    the product database, product-service restarted (with the `env` it has: the caller turned its cache off) so that
    its connections load it, one request per query, the entries read back from the server log; then the settings
    reset (before returning, whatever happened; the caller restarts product-service again). Returns {"method", "log",
    "plans": {key: ...}}, or {"error"} when they could not be switched on."""
    database = "%s_product" % RUN
    try:
        connection = superuser_psql()
        log = ServerLog(connection)
        superuser_sql(connection, ["LOAD 'auto_explain'"] + ["ALTER DATABASE %s SET %s = %s" % (database, name, sql_literal(value))
                                                             for name, value in AUTO_EXPLAIN])
    except RuntimeError as error:
        say("search: no plans: %s" % error)
        return {"error": str(error)}
    role = "postgres over %s" % connection[1] if connection[0] == "-h" else "PG_URL's role"
    plans = {}
    try:
        restart_product(stack)
        for key, label, path, _filter in SEARCH_QUERIES:
            try:
                plans[key] = capture_plan(stack, log, label, path)
            except Exception as error:  # the other queries' plans still
                plans[key] = {"label": label, "path": path, "statements": [], "note": "failed: %s" % error}
            p = plans[key]
            say("search: plan of %s: %s%s" % (key, ", ".join("%.1f ms" % s["duration_ms"] for s in p["statements"]) or "none",
                                              " (%s)" % p["note"] if p.get("note") else ""))
    finally:
        superuser_sql(connection, ["ALTER DATABASE %s RESET %s" % (database, name) for name, _ in AUTO_EXPLAIN])
        left = superuser_sql(connection, "SELECT coalesce(string_agg(c, ', '), '') FROM pg_db_role_setting s JOIN pg_database d ON "
                                         "d.oid = s.setdatabase, unnest(s.setconfig) c WHERE d.datname = %s AND s.setrole = 0 AND "
                                         "(c LIKE 'auto_explain.%%' OR c LIKE 'session_preload_libraries=%%')" % sql_literal(database))
        if left:
            raise RuntimeError("ALTER DATABASE %s RESET left %s" % (database, left))
    return {"method": "auto_explain on %s alone: ALTER DATABASE ... SET %s (as the superuser: %s); product-service restarted with "
                      "PRODUCT_CACHE_TTL_MS=0, one request per query through the gateway (its path gives the values of $1, $2, ...: PostgreSQL "
                      "15 logs none, 16 and later add them as Query Parameters); the entries read from the server log %s; "
                      "the settings reset afterwards and product-service restarted before the uncached lines" % (
                          database, ", ".join("%s = %s" % kv for kv in AUTO_EXPLAIN), role, log.where),
            "log": log.where, "plans": plans}


def search_step(anchor_tps, seconds, connections):
    """The search figures on a stack of their own (fresh databases <run>_search_*): the catalog, each query and the
    mix through the gateway (wrk, `connections`) with product-service's cache on (its default) and then off, and
    between them the plans (auto_explain)."""
    global RUN
    saved_run, saved_work = RUN, chaos.WORK
    RUN = chaos.RUN = saved_run + "_search"
    chaos.WORK = os.path.join(saved_work, "search")
    os.makedirs(chaos.WORK, exist_ok=True)
    started = time.monotonic()
    stack = chaos.Stack(gateway=True, shipping=SHIPPING_BUILT, extra_env={
        "product": {"SEED_DEMO_CATALOG": "false", "PRODUCT_CACHE_TTL_MS": SEARCH_CONFIGS[0][2]},
        "gateway": {"RATE_LIMIT_USER_PER_SECOND": "0", "RATE_LIMIT_ADDRESS_PER_SECOND": "0"}})
    ok = False
    try:
        for service in stack.services:
            start_timed(service)
        say("search: generating %s products in %s_product" % (thousands(SEARCH_PRODUCTS), RUN))
        catalog = search_catalog(SEARCH_PRODUCTS)
        say("search: %s products, %s words in product_words, %d categories, in %.1f s (table %.0f MiB, GIN %.1f MiB, words %.1f MiB)" % (
            thousands(catalog["products"]), thousands(catalog["words"]), catalog["categories"], catalog["generate_seconds"],
            catalog["table_mib"], catalog["search_index_mib"], catalog["words_mib"]))
        mix = mix_summary(search_mix(SEARCH_MIX))
        paths_file = os.path.join(chaos.WORK, "search-mix-paths.txt")
        with open(paths_file, "w") as f:
            f.write("".join(e["path"] + "\n" for e in mix["list"]))
        say("search: the mix: %d distinct queries (%d with a typo, %d prefixes, %d with category, %d with maxPrice); %d find nothing, "
            "%d a page or less, %d more; e.g. %s" % (mix["queries"], mix["typos"], mix["prefixes"], mix["category"], mix["max_price"],
                                                     mix["find_nothing"], mix["one_page_or_less"], mix["more_than_a_page"],
                                                     "; ".join(describe(e) for e in mix["list"][:4])))
        # Each query once: what it finds, and how long its first answer takes (a miss: Postgres).
        checks = {}
        for key, label, path, filter_ in SEARCH_QUERIES:
            matches = search_matches(filter_) if filter_ else {"tsquery": None, "matches": None}
            began = time.monotonic()
            status, answer = chaos.call("GET", stack.gateway.url + path, timeout=60)
            first_ms = (time.monotonic() - began) * 1000.0
            if status != 200 or not isinstance(answer, dict):
                found = {"status": status}  # measured all the same: the wrk line counts what it answers
            elif not path.startswith("/product/facets"):
                found = {"items": len(answer["items"]), "first": [item["name"] for item in answer["items"][:3]], "more": bool(answer.get("nextCursor"))}
            else:
                found = {"categories": answer["categories"][:4], "price": answer["price"]}
            say("search: %s: tsquery %s, %s matches; first answer (%s) in %.0f ms: %s" % (
                key, matches["tsquery"], thousands(matches["matches"]), status, first_ms, json.dumps(found)[:160]))
            checks[key] = dict(matches, first_answer_ms=first_ms, found=found, filter=filter_)
            settle_product(stack)
        measured = [(key, label, stack.gateway.url + path, None) for key, label, path, _filter in SEARCH_QUERIES] + [
            ("mix", "GET /product?q=… (a mix of %d distinct queries)" % mix["queries"], stack.gateway.url + "/product", paths_file)]
        lines, plans = [], None
        for config, config_label, ttl in SEARCH_CONFIGS:
            if stack.product.env["PRODUCT_CACHE_TTL_MS"] != ttl:
                stack.product.env["PRODUCT_CACHE_TTL_MS"] = ttl
                if plans is None:  # the plans with the cache off: every request reaches Postgres
                    plans = search_plans(stack)
                restart_product(stack)  # the new PRODUCT_CACHE_TTL_MS, and connections without auto_explain
            for key, label, url, paths in measured:
                settle_product(stack)
                line = search_line(label, url, seconds, connections, anchor_tps, paths)
                line.update(key=key, config=config, config_label=config_label, after=settle_product(stack),
                            **checks.get(key, {"tsquery": None, "matches": None}))
                say("search: %-56s %-36s %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %d  SQL/request %s" % (
                    label, config_label, search_rps(line), line["p50_ms"], line["p99_ms"], line["non_2xx"] + line["socket_errors"],
                    fmt(line["statements_per_request"], "%.3f")))
                lines.append(line)
        if plans is None:
            stack.product.env["PRODUCT_CACHE_TTL_MS"] = "0"
            plans = search_plans(stack)
        ok = True
    finally:
        stack.stop()
        if not ok:
            say("search failed; service logs kept in %s" % chaos.WORK)
        RUN = chaos.RUN = saved_run
        chaos.WORK = saved_work
    return {"run": saved_run + "_search", "catalog": catalog, "connections": connections, "seconds": seconds,
            "wrk_timeout_s": SEARCH_TIMEOUT, "configurations": [{"key": k, "label": l, "PRODUCT_CACHE_TTL_MS": t} for k, l, t in SEARCH_CONFIGS],
            "mix": mix, "lines": lines, "plans": plans, "wall_seconds": round(time.monotonic() - started, 1)}


def search_rps(line):
    """2xx answers per second of a wrk line (wrk's requests count the 504s too)."""
    return (line["requests"] - line["non_2xx"]) / line["seconds"] if line["seconds"] else 0.0


def search_figures(line, select):
    """`p99 … ms, … % of pgbench -S[, n errors]` of a line."""
    errors = line["non_2xx"] + line["socket_errors"]
    share = search_rps(line) / select if select else None
    return "%s, %s %% of pgbench -S%s" % ("p99 %.1f ms" % line["p99_ms"] if line["requests"] else "no answer within %d s" % line["seconds"],
                                          fmt(share and share * 100, "%.2f"), ", %d errors" % errors if errors else "")


def search_targets(search, anchors_):
    """Issue 30's target for each search line through the gateway, product-service as configured by default (its cache
    on); the same line with the cache off alongside, informative."""
    select = (anchors_.get("pgbench_select") or {}).get("tps")
    uncached = {line["key"]: line for line in search["lines"] if line.get("config") == "uncached"}
    checks = []
    for line in search["lines"]:
        if line["key"] == "page" or line.get("config", "cached") != "cached":
            continue  # the reference (no search); the uncached lines: informative
        errors = line["non_2xx"] + line["socket_errors"]
        share = search_rps(line) / select if select else None
        other = uncached.get(line["key"])
        checks.append({"target": "search %s, %s: %s" % (line["key"], line.get("config", "cached"), SEARCH_TARGET),
                       "measured": "%s%s" % (search_figures(line, select), "; %s, informative: %s" % (
                           other["config_label"], search_figures(other, select)) if other else ""),
                       "met": None if share is None else (line["p99_ms"] <= 20 and share >= 0.10 and errors == 0)})
    return checks


def search_table(search, anchors_, plans=False, targets_=True):
    """The search lines next to pgbench -S (with `targets_`, issue 30's targets; with `plans`, the statements and
    their plans) as text lines."""
    c = search["catalog"]
    configs = search.get("configurations") or []
    lines = ["   search: %s products (%d categories), %s words in product_words; table %.0f MiB, GIN on search %.1f MiB; generated in %.1f s "
             "(benchmarks/search_catalog.sql); wrk -t2 -c%d -d%ds --timeout %ds through the gateway, rate limits off" % (
                 thousands(c["products"]), c["categories"], thousands(c["words"]), c["table_mib"], c["search_index_mib"], c["generate_seconds"],
                 search["connections"], search["seconds"], search["wrk_timeout_s"]),
             "   each line twice: product-service %s" % "; then ".join(
                 "%s%s" % (k["label"], ", as configured by default: the targets" if k["key"] == "cached" else
                           ", restarted, every request reaching Postgres: informative") for k in configs),
             "",
             "   %-56s %-46s %10s %9s %9s %9s %7s %8s %9s" % ("what", "product-service", "req/s", "p50 ms", "p99 ms", "÷ -S", "errors", "SQL/req", "matches")]
    for key in ["pgbench_select", "pgbench_select_prepared"]:
        a = anchors_.get(key)
        if a:
            lines.append("   %-56s %-46s %10s %9s %9s %9s %7d" % (a["label"], "", thousands(a["tps"]), "avg %.2f" % a["latency_avg_ms"], "",
                                                                "%.0f %%" % (a["tps"] / anchors_["pgbench_select"]["tps"] * 100), a["failed"]))
    order = {key: n for n, key in enumerate(dict.fromkeys(line["key"] for line in search["lines"]))}
    ranks = {k["key"]: n for n, k in enumerate(configs)}
    previous = None
    for line in sorted(search["lines"], key=lambda l: (order[l["key"]], ranks.get(l.get("config"), 0))):  # each query cached, then uncached
        answered, mark = line["requests"] > 0, "*" if line["non_2xx"] else ""
        rps = search_rps(line)
        informative = line.get("config") == "uncached"
        lines.append("   %-56s %-46s %10s %9s %9s %9s %7d %8s %9s" % (
            line["label"] if line["key"] != previous else "", line.get("config_label", "") + (", informative" if informative else ""),
            fmt(rps, "%.1f") if rps < 100 else thousands(rps),
            "%.2f%s" % (line["p50_ms"], mark) if answered else "—", "%.2f%s" % (line["p99_ms"], mark) if answered else "—",
            fmt(rps / anchors_["pgbench_select"]["tps"] * 100 if anchors_.get("pgbench_select") else None, "%.2f %%"),
            line["non_2xx"] + line["socket_errors"], fmt(line.get("statements_per_request"), "%.3f"),
            thousands(line["matches"]) if line.get("matches") is not None else ""))
        previous = line["key"]
    lines.append("   (req/s: 2xx answers per second; * : the latencies include the errors, 504s from the gateway after UPSTREAM_TIMEOUT_MS = 10 s;"
                 " — : no answer within the line;")
    lines.append("    SQL/req: product-service's statements on `products` per request, from pg_stat_statements (top level; one still running at the"
                 " end of the line is not counted): 1 = every request reached Postgres, 0 = every answer came from its memory)")
    mix = search.get("mix")
    if mix:
        lines.append("   the mix: %s cycles through %d distinct queries (each wrk thread from a point of its own), made of search_catalog.sql's"
                     " brands, lines and categories:" % (mix["script"], mix["queries"]))
        lines.append("     %d with one typo (a swapped or dropped letter), %d prefixes, %d with a category, %d with a maxPrice; %d find nothing,"
                     " %d a page or less, %d more than a page; e.g. %s" % (
                         mix["typos"], mix["prefixes"], mix["category"], mix["max_price"], mix["find_nothing"], mix["one_page_or_less"],
                         mix["more_than_a_page"], "; ".join(describe(e) for e in mix["list"][:5])))
    backlog = [(l["key"], l.get("config", ""), l["after"]["statements_running"]) for l in search["lines"] if l["after"]["restarted"]]
    if backlog:
        lines.append("   (product-service still ran statements 3 s after the line, for requests the gateway had given up on: restarted, its"
                     " backends terminated, before the next: %s)" % ", ".join("%s %s %d" % kv for kv in backlog))
    lines.append("")
    lines.append("   the words as product_search_query makes them a tsquery:")
    for line in search["lines"]:
        if line.get("tsquery") is not None and line.get("config", "cached") == "cached":
            lines.append("     %-10s %s  →  %s matches" % (line["key"], line["tsquery"], thousands(line["matches"])))
    if targets_:
        checks = search_targets(search, anchors_)
        width = max([len(t["target"]) for t in checks] + [10])
        lines.append("")
        lines.append("   targets (issue 30), for product-service as configured by default, %s; the uncached figures alongside, informative:" % (
            configs[0]["label"] if configs else "cached"))
        for t in checks:
            lines.append("   %s %-*s %s" % ({True: "✓", False: "✗"}.get(t["met"], "–"), width, t["target"], t["measured"]))
    if plans:
        lines.extend(plans_text(search.get("plans")))
    return lines


def plans_text(result):
    """One block per query: its request, each statement product-service ran for it (SQL text, as Postgres received
    it) and the plan auto_explain logged."""
    lines = [""]
    if not result:
        return lines + ["   %s: none (the search step ended before them)" % PLANS_TITLE]
    if result.get("error"):
        return lines + ["   %s: not captured (%s)" % (PLANS_TITLE, result["error"])]
    lines.append("   %s:" % PLANS_TITLE)
    parts = result["method"].split("; ")
    lines.extend("     %s%s" % (part, ";" if n < len(parts) - 1 else "") for n, part in enumerate(parts))
    for key, p in result["plans"].items():
        statements = p["statements"]
        lines.append("")
        lines.append("   == %s: %s" % (p["label"], PLANS_TITLE))
        lines.append("      GET %s through the gateway, product-service with PRODUCT_CACHE_TTL_MS=0: %s in %s ms; %d statement%s on the catalog%s" % (
            p["path"], p.get("status", "—"), fmt(p.get("answered_ms"), "%.0f"), len(statements), "" if len(statements) == 1 else "s",
            "; %s" % p["note"] if p.get("note") else ""))
        for n, s in enumerate(statements):
            lines.append("")
            lines.append("      -- statement %d of %d: %.1f ms (backend %s)%s" % (n + 1, len(statements), s["duration_ms"], s["pid"] or "?",
                                                                                 ", parameters: %s" % s["parameters"] if s["parameters"] else ""))
            lines.extend("      " + l for l in s["query"].splitlines())
            lines.append("")
            lines.extend("   " + l for l in s["plan"].splitlines())
        for text in p.get("running") or []:
            lines.append("")
            lines.append("      -- still running, cancelled (no plan):")
            lines.extend("      " + l for l in text.splitlines())
    return lines


def write_search_text(result, search, path):
    m = result["machine"]
    head = ["== swn-shop bench: search, %s, commit %s, run %s%s" % (result["date"], m["git_commit"], search["run"],
                                                                 " (QUICK run)" if result["settings"]["quick"] else ""),
            "   machine: %d × %s, %s MiB, Linux %s; PostgreSQL %s; %s; services: release build in %s (built %s), LOG_LEVEL %s" % (
                m["nproc"], m["cpu_model"], thousands(m["memory_mib"]), m["kernel"], m["postgres"], m["wrk"], m["bin_dir"],
                m["binaries_built"], os.environ.get("LOG_LEVEL", "info (default)")), ""]
    with open(path, "w") as f:
        f.write("\n".join(head + search_table(search, result["anchors"], plans=True)) + "\n")


def log_problems(directory):
    """Per service log (the JSON lines the services write): lines at error or critical level, and lines that are
    not JSON (a crash's message); with the first few of them."""
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.log"), recursive=True)):
        counts, examples = {}, []
        try:
            with open(path, errors="replace") as f:
                for raw in f:
                    raw = raw.strip()
                    if not raw:
                        continue
                    try:
                        entry = json.loads(raw)
                        level = entry.get("level", "?") if isinstance(entry, dict) else "not json"
                    except ValueError:
                        entry, level = None, "not json"
                    if level in ("error", "critical", "not json"):
                        counts[level] = counts.get(level, 0) + 1
                        if len(examples) < 3:
                            examples.append(raw[:300])
        except OSError:
            continue
        if counts:
            found[os.path.relpath(path, directory)] = {"counts": counts, "examples": examples}
    return found


# --- output ---------------------------------------------------------------------------------------

def fmt(value, pattern="%.1f", missing="—"):
    return missing if value is None else pattern % value


def thousands(value):
    return "—" if value is None else "{:,.0f}".format(value)


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo") as f:
            memory = int(next(line for line in f if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        pass
    version = (psql_rows_any("SHOW server_version") or [["?"]])[0][0]
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip())
    binary = os.path.join(chaos.BIN, "gateway")
    return {"nproc": len(os.sched_getaffinity(0)), "cpus_online": os.cpu_count(), "cpu_model": model, "memory_mib": memory,
            "kernel": platform.release(), "postgres": version, "wrk": wrk_version, "python": platform.python_version(),
            "git_commit": commit + ("+dirty" if dirty else ""), "bin_dir": chaos.BIN,
            "binaries_built": datetime.datetime.fromtimestamp(os.path.getmtime(binary)).isoformat(timespec="seconds") if os.path.exists(binary) else None,
            "load_average_at_start": os.getloadavg()}


def psql_rows_any(sql):
    try:
        out = subprocess.check_output([chaos.PSQL, PG_URL + "/postgres", "-Atc", sql], text=True)
        return [line.split("|") for line in out.strip().splitlines()]
    except subprocess.CalledProcessError:
        return None


def targets(result):
    """Issues 13's and 26's targets, checked against this run. `met` is None when this run did not
    measure it (no such step)."""
    reads = {line["key"]: line for line in result["reads"]}
    steps = result["checkout"]["steps"] if result.get("checkout") else None
    checks = []
    gw = reads.get("product_gateway")
    if gw and gw["ratio_to_pgbench_select"] is not None:
        checks.append(("GET /product/{id} through the gateway ≥ 25 % of pgbench -S, p99 ≤ 10 ms",
                       "%.1f %%, p99 %.1f ms" % (gw["ratio_to_pgbench_select"] * 100, gw["p99_ms"]),
                       gw["ratio_to_pgbench_select"] >= 0.25 and gw["p99_ms"] <= 10))
    direct = reads.get("product_direct")
    if direct and direct["ratio_to_pgbench_select"] is not None:
        checks.append(("GET /product/{id} on product-service ≥ 50 % of pgbench -S", "%.1f %%" % (direct["ratio_to_pgbench_select"] * 100),
                       direct["ratio_to_pgbench_select"] >= 0.5))
    if steps is not None:
        sustained = max([min(s["accepted_rate"], s["order_rate"] or 0, s["completed_rate"] or 0) for s in steps
                         if s["every_checkout_an_order"] and not s["cancelled"]] or [0])
        checks.append(("≥ 1,000 checkouts/s sustained end to end (every one an order, none cancelled)", "%.0f/s" % sustained, sustained >= 1000))
        at500 = next((s for s in steps if s["target_rate"] == 500), None)
        if at500 and at500["checkout_to_order_ms"]:
            p99 = at500["checkout_to_order_ms"]["p99"]
            checks.append(("checkout→order p99 ≤ 50 ms at 500 checkouts/s", "%.0f ms at %.0f/s accepted" % (p99, at500["accepted_rate"]),
                           p99 <= 50 and at500["every_checkout_an_order"] and at500["accepted_rate"] >= 450))
    idle = [s["rss_after_start_mib"] for s in result["services"].values() if s.get("rss_after_start_mib")]
    if idle:
        checks.append(("idle RSS ≤ 25 MiB per service", "%.0f–%.0f MiB" % (min(idle), max(idle)), max(idle) <= 25))
    if steps is not None:
        checks.extend(targets_issue_26(result, steps, sustained))
    checks.extend(targets_replicas(result))
    return [{"target": t, "measured": m, "met": ok} for t, m, ok in checks] + (
        search_targets(result["search"], result["anchors"]) if (result.get("search") or {}).get("lines") else [])


def targets_replicas(result):
    """The shared rate limits' cost on the read path, and the checkout pipeline's correctness with replicas."""
    checks = []
    variants = {v["key"]: v for v in (result.get("gateway_variants") or {}).get("variants", [])}
    shared = variants.get("shared")
    if shared and shared["cost_pct"] is not None:
        checks.append(("shared rate limits cost GET /product/{id} through the gateway ≤ 5 %",
                       "%.1f %% (median of %d interleaved rounds; lease %s; worst case, lease 1: %s %%)" % (
                           shared["cost_pct"], len(shared["rps_rounds"]), thousands(shared["lease"]),
                           fmt((variants.get("shared_lease_1") or {}).get("cost_pct"), "%.1f")),
                       shared["cost_pct"] <= 5 and shared["errors"] == 0))
    for s in (result.get("checkout_replicas") or {}).get("sets", []):
        target = "checkout with replicas ×%d: every checkout an order, none cancelled, nothing applied twice" % s["replicas"]
        if s.get("error"):
            checks.append((target, "— (failed: %s)" % s["error"][:80], False))
            continue
        c = s["checks"]
        every = all(step["every_checkout_an_order"] and not step["cancelled"] for step in s["steps"])
        checks.append((target, "%s; status twice %d, payment twice %d; stock taken %s = committed %s%s" % (
            "every step" if every else "NOT every step", c["status_twice"], c["payment_status_twice"], thousands(c["stock_taken"]),
            thousands(c["committed_units"]), "" if c["every_replica_handled_messages"] is None else
            "; every replica handled messages" if c["every_replica_handled_messages"] else "; a replica handled NO message"), every and c["ok"]))
    return checks


def targets_issue_26(result, steps, sustained):
    """What one completed order costs (at saturation: the longest stretch of steady load) and the latency
    against the write anchor (pgbench -N of the same run)."""
    checks = []
    sat = next((s for s in steps if s["name"] == "saturation"), None)
    per = ((sat or {}).get("postgres_cost") or {}).get("per_completed_order")
    if per and per["durable_commits"] is not None:
        business = per["commits_by_group"]["business"]
        if pgcost.ASYNCHRONOUS:
            how = "of %.1f business commits and the rest, those not known to be asynchronous (%s are)" % (business, ", ".join(sorted(pgcost.ASYNCHRONOUS)))
        else:
            how = "business %.1f; every category counted durable for now" % business
        checks.append(("durable commits per completed order ≤ 10", "%.1f at saturation (%s)" % (per["durable_commits"], how),
                       per["durable_commits"] <= 10))
    else:
        checks.append(("durable commits per completed order ≤ 10", "— (no WAL accounting at saturation)", None))
    if per:
        wal, whose = (per["wal_bytes"], "the run's databases") if per["wal_bytes"] is not None else (per["wal_bytes_cluster"], "whole cluster: no pg_waldump")
        checks.append(("WAL per completed order ≤ 10 KB", "%.1f KB at saturation (%s)" % (wal / 1024.0, whose), wal <= 10 * 1024))
    else:
        checks.append(("WAL per completed order ≤ 10 KB", "— (no Postgres figures at saturation)", None))
    cpu = (sat or {}).get("cpu_ms_per_completed_order")
    if cpu:
        checks.append(("CPU per completed order, all processes ≤ 6 ms", "%.2f ms at saturation (services %.2f + Postgres %s)" % (
            cpu["all (services + postgres)"], cpu["all (services + postgres)"] - (cpu.get("postgres") or 0.0), fmt(cpu.get("postgres"), "%.2f")),
            cpu["all (services + postgres)"] <= 6))
    write = (result.get("anchors") or {}).get("pgbench_write")
    if write:
        share = sustained / write["tps"]
        checks.append(("sustained completed orders/s ≥ 5 % of pgbench -N in the same run", "%.0f/s = %.1f %% of %.0f tps" % (
            sustained, share * 100, write["tps"]), share >= 0.05))
        half = 0.025 * write["tps"]
        paced = [s for s in steps if s["target_rate"]]
        near = min(paced, key=lambda s: abs(s["target_rate"] - half), default=None)
        target = "checkout→Completed p99 ≤ 100 ms at half that rate"
        if near and near["checkout_to_completed_ms"]:
            p99 = near["checkout_to_completed_ms"]["p99"]
            checks.append((target, "%.0f ms at the %s step (closest to 2.5 %% of pgbench -N = %.0f/s)" % (p99, near["name"], half),
                           p99 <= 100 and near["every_checkout_an_order"]))
        else:
            checks.append((target, "— (no paced step; 2.5 %% of pgbench -N = %.0f/s)" % half, None))
    at25 = next((s for s in steps if s["target_rate"] == 25), None)
    if at25 and at25["checkout_to_completed_ms"]:
        p50 = at25["checkout_to_completed_ms"]["p50"]
        checks.append(("at 25/s checkout→Completed p50 ≤ 15 ms", "%.1f ms" % p50, p50 <= 15 and at25["every_checkout_an_order"]))
    else:
        checks.append(("at 25/s checkout→Completed p50 ≤ 15 ms", "— (no 25/s step in BENCH_RATES)", None))
    return checks


def table(result):
    lines = []
    m = result["machine"]
    lines.append("== swn-shop bench, %s, commit %s, %s%s" % (result["date"], m["git_commit"], "QUICK run" if result["settings"]["quick"] else "full run",
                                                          ", checkout only (no read lines)" if result["settings"].get("checkout_only") else
                                                          ", replica parts only" if result["settings"].get("replicas_only") else ""))
    lines.append("   machine: %d × %s, %s MiB, Linux %s; PostgreSQL %s; %s; load average at start %.2f" % (
        m["nproc"], m["cpu_model"], thousands(m["memory_mib"]), m["kernel"], m["postgres"], m["wrk"], m["load_average_at_start"][0]))
    lines.append("   services: release build in %s (built %s), LOG_LEVEL %s, gateway rate limits off%s" % (
        m["bin_dir"], m["binaries_built"], os.environ.get("LOG_LEVEL", "info (default)"),
        " (but in the shared-limit gateway variants)" if result.get("gateway_variants") else ""))
    if result["settings"].get("shipping"):
        lines.append("   shipping-service: %s" % ", ".join("%s=%s" % kv for kv in sorted(result["settings"]["shipping_env"].items())) +
                     " in every checkout step (the cost of the steps past Completed, not the configured waits); at rest: Delivered or Cancelled")
    elif result["settings"].get("shipping") is False:
        lines.append("   " + ("shipping-service stopped before the checkout steps (--no-shipping): the pipeline ends at Completed"
                             " (OrderCompleted deleted from %s after each step)" % SHIPPING_QUEUE if result["settings"].get("shipping_built")
                             else "no shipping-service in this build: the pipeline ends at Completed"))
    lines.append("")
    lines.append("   %-46s %10s %9s %9s %9s %9s" % ("what", "req/s", "p50 ms", "p99 ms", "÷ -S", "errors"))
    a = result["anchors"]
    for key in ["pgbench_select", "pgbench_select_prepared", "pgbench_write"]:
        if key in a:
            lines.append("   %-46s %10s %9s %9s %9s %9d" % (a[key]["label"], thousands(a[key]["tps"]), "avg %.2f" % a[key]["latency_avg_ms"],
                                                        "", "%.0f %%" % (a[key]["tps"] / a["pgbench_select"]["tps"] * 100) if key != "pgbench_write" else "", a[key]["failed"]))
    for line in result["reads"]:
        lines.append("   %-46s %10s %9.2f %9.2f %9s %9d" % (line["label"], thousands(line["rps"]), line["p50_ms"], line["p99_ms"],
                                                          fmt(line["ratio_to_pgbench_select"] and line["ratio_to_pgbench_select"] * 100, "%.1f %%"),
                                                          line["non_2xx"] + line["socket_errors"]))
    if any(line.get("rounds") for line in result["reads"]):
        lines.append("   (2 product replicas: one gateway with PRODUCT_SERVICE_URL = both, the median of the rounds below, interleaved with the other variants)")
    lines.append("")
    if result.get("checkout"):
        lines.extend(checkout_table(result["checkout"]))
    if result.get("fulfilment"):
        lines.extend(fulfilment_table(result["fulfilment"]))
    lines.extend(replicas_table(result))
    if (result.get("search") or {}).get("lines"):
        lines.append("")
        lines.extend(search_table(result["search"], result["anchors"], targets_=False))  # its targets: with the others below
        lines.append("   (the plans: %s)" % os.path.join("benchmarks", "results", ("search-quick" if result["settings"]["quick"] else "search") + ".txt"))
    elif (result.get("search") or {}).get("error"):
        lines.append("")
        lines.append("   search: FAILED (%s)" % result["search"]["error"][:200])
    lines.append("")
    lines.append("   %-10s %14s %14s %14s" % ("service", "start→ready ms", "RSS idle MiB", "RSS after MiB"))
    for name, s in result["services"].items():
        lines.append("   %-10s %14.0f %14s %14s" % (name, s["ready_ms"], fmt(s.get("rss_after_start_mib"), "%.1f"), fmt(s.get("rss_after_run_mib"), "%.1f")))
    lines.append("")
    lines.append("   targets (issues 13, 26 and 30; – = not measured in this run):")
    for t in result["targets"]:
        lines.append("   %s %-78s %s" % ({True: "✓", False: "✗"}.get(t["met"], "–"), t["target"], t["measured"]))
    lines.append("   (load average at the end %.2f; * = not drained within DRAIN_TIMEOUT)" % result["machine"]["load_average_at_end"][0])
    return "\n".join(lines)


def replicas_table(result):
    """The gateway variants (interleaved medians, cost against limits off) and the checkout pipeline with one
    and with two replicas; then what the services logged at error level."""
    lines = []
    gv = result.get("gateway_variants")
    if gv:
        lines.append("")
        lines.append("   GET /product/{id} through gateway variants A-D, interleaved × %d rounds of %d s (orders %s), wrk -t2 -c%d;"
                     " median req/s and its cost against limits off" % (
            gv["rounds"], gv["seconds"], " ".join("".join("ABCD"[i] for i in williams_order(len(gv["order"]), r)) for r in range(gv["rounds"])),
            gv["connections"]))
        lines.append("   %-40s %-26s %9s %7s %6s %6s %6s | %-31s | %9s | %s" % (
            "variant", "req/s per round", "median", "cost", "p50", "p99", "errors", "CPU µs per request (medians)", "rate_take", "other CPU"))
        lines.append("   %-40s %-26s %9s %7s %6s %6s %6s | %7s %7s %7s %7s | %9s | %s" % (
            "", "", "req/s", "", "ms", "ms", "", "gateway", "product", "PG", "all", "/request", "% per round"))
        for letter, v in zip("ABCDEFGH", gv["variants"]):
            cpu = v["cpu_us_per_request_median"]
            lines.append("   %-40s %-26s %9s %7s %6.2f %6.2f %6d | %7s %7s %7s %7s | %9s | %s" % (
                (letter + " " + v["label"])[:40], " ".join(thousands(r) for r in v["rps_rounds"])[:26], thousands(v["rps_median"]),
                "—" if v["key"] == "off" else fmt(v["cost_pct"], "%+.1f %%"), v["p50_ms_median"], v["p99_ms_median"], v["errors"],
                fmt(cpu.get("gateway"), "%.0f"), fmt(cpu.get("product"), "%.0f"), fmt(cpu.get("postgres"), "%.0f"),
                fmt(cpu.get("gateway + product + postgres"), "%.0f"), fmt(v["rate_take_per_request_median"], "%.4f"),
                " ".join(fmt(o, "%.0f") for o in v["other_cpu_pct_rounds"])))
        shared = [v for v in gv["variants"] if v["shared"]]
        if shared:
            lines.append("   (shared: DATABASE_URL %s, RATE_LIMIT_ADDRESS_PER_SECOND/BURST %s; lease = max(1, min(rate/10, burst/10)) tokens per rate_take;" % (
                gv["database"], ", ".join("%s/%s" % (v["settings"]["RATE_LIMIT_ADDRESS_PER_SECOND"], v["settings"]["RATE_LIMIT_ADDRESS_BURST"]) for v in shared)))
            lines.append("    %s; cost = 1 − median ÷ the limits-off median; rate_take/request from pg_stat_statements;" % gv["note"])
        lines.append("    other CPU: the machine's busy CPU outside gateway, product, Postgres and wrk, in %% of its %d cores (the stack's idle services:"
                     " a few %%; more: something else ran)" % len(os.sched_getaffinity(0)))
    cr = result.get("checkout_replicas")
    if cr:
        lines.append("")
        lines.append("   checkout pipeline with one and with two replicas of %s (one gateway given the lists; fresh databases each; %d customers)" % (
            ", ".join(NAMES.get(n, n) for n in cr["replicated"]), cr["customers"]))
        lines.append("   note: " + cr["note"])
        lines.append("   (other CPU %: the machine's busy CPU outside the services, Postgres and wrk over the step and its drain, in % of its cores;"
                     " bench's polling is a few %, more means something else ran)")
        lines.append("   %-4s %-10s %7s %8s %7s %7s | %-13s | %-13s | %-7s %5s | %-29s | %5s  %s" % (
            "set", "step", "offered", "accepted", "orders", "compl.", "→order ms", "→Completed ms", "all", "canc.", "CPU ms per completed order",
            "other", "client"))
        lines.append("   %-4s %-10s %7s %8s %7s %7s | %6s %6s | %6s %6s | %-7s %5s | %9s %9s %9s | %5s  %s" % (
            "", "", "/s", "/s", "/s", "/s", "p50", "p99", "p50", "p99", "orders?", "", "all", "services", "postgres", "CPU %", "errors"))
        for rs in cr["sets"]:
            if rs.get("error"):
                lines.append("   ×%-3d failed: %s" % (rs["replicas"], rs["error"][:200]))
                continue
            for s in rs["steps"]:
                o, c = s["checkout_to_order_ms"] or {}, s["checkout_to_completed_ms"] or {}
                cpu = s["cpu_ms_per_completed_order"] or {}
                errors = dict(s["client_errors"])
                errors.update({"socket " + k: v for k, v in s["socket_errors"].items()})
                every = cpu.get("all (services + postgres)")
                lines.append("   ×%-3d %-10s %7.0f %8.0f %7s %7s | %6s %6s | %6s %6s | %-7s %5d | %9s %9s %9s | %5s  %s" % (
                    rs["replicas"], "unpaced" if s["name"] == "saturation" else s["name"], s["offered_rate"], s["accepted_rate"],
                    fmt(s["order_rate"], "%.0f"), fmt(s["completed_rate"], "%.0f"),
                    fmt(o.get("p50"), "%.0f"), fmt(o.get("p99"), "%.0f"), fmt(c.get("p50"), "%.0f"), fmt(c.get("p99"), "%.0f"),
                    ("yes" if s["every_checkout_an_order"] else "NO") + ("" if s["drained"] else "*"), s["cancelled"],
                    fmt(every, "%.2f"), fmt(every - cpu["postgres"] if every is not None and cpu.get("postgres") is not None else None, "%.2f"),
                    fmt(cpu.get("postgres"), "%.2f"), fmt(s.get("other_cpu_pct"), "%.0f"), ", ".join("%s ×%d" % kv for kv in sorted(errors.items())) or "0"))
        for rs in cr["sets"]:
            if rs.get("error"):
                continue
            c = rs["checks"]
            lines.append("   ×%d checks %s: (order, status) twice %d, payment twice %d; stock taken %s, committed units %s; reservations %s; orders %s" % (
                rs["replicas"], "hold" if c["ok"] else "FAIL", c["status_twice"], c["payment_status_twice"], thousands(c["stock_taken"]),
                thousands(c["committed_units"]), ", ".join("%s %d" % kv for kv in sorted(c["reservations_by_status"].items())),
                ", ".join("%s %d" % kv for kv in sorted(c["orders_by_status"].items()))))
            lines.append("      messages handled: %s; gateway: upstream retries %s, ejections %s" % (
                ", ".join("%s %.0f" % kv for kv in c["messages_handled"].items()), c.get("gateway_upstream_retries", "—"),
                c.get("gateway_upstream_ejections", "—")))
        by_process = [(rs["replicas"], s) for rs in cr["sets"] if not rs.get("error") for s in rs["steps"] if s.get("cpu_seconds_by_process")]
        if by_process:
            lines.append("   CPU ms per completed order by process (×2):")
            keys = [k for k in by_process[0][1]["cpu_seconds_by_process"] if k != "postgres"]
            lines.append("   %-10s " % "step" + " ".join("%10s" % k for k in keys))
            for replicas, s in by_process:
                done = s["completed"] or 1
                lines.append("   %-10s " % ("unpaced" if s["name"] == "saturation" else s["name"]) +
                             " ".join("%10.2f" % (s["cpu_seconds_by_process"].get(k, 0.0) * 1000.0 / done) for k in keys))
        lines.extend(postgres_database_table([("×%d %s" % (rs["replicas"], "unpaced" if s["name"] == "saturation" else s["name"]), s)
                                              for rs in cr["sets"] if not rs.get("error") for s in rs["steps"]]))
    logs = result.get("service_logs")
    if logs:
        lines.append("")
        lines.append("   service logs with lines at error/critical level (or not JSON):")
        for path, found in logs.items():
            lines.append("   %-40s %s; first: %s" % (path, ", ".join("%s ×%d" % kv for kv in sorted(found["counts"].items())),
                                                   found["examples"][0][:200] if found["examples"] else ""))
    elif logs is not None:
        lines.append("")
        lines.append("   service logs: no line at error or critical level")
    return lines


def postgres_databases_text(per):
    """`bus 3.10, ordering 2.00, ...`: a step's postgres_cpu_ms_per_completed_order_by_database, largest first."""
    return ", ".join("%s %.2f" % kv for kv in sorted(per.items(), key=lambda kv: -kv[1]))


def postgres_database_table(rows):
    """Postgres CPU ms per completed order by database (a step's postgres_cpu_ms_per_completed_order_by_database) for
    rows of (label, step): a column per key, largest first over the rows, then their sum (the `postgres` column)."""
    rows = [(label, s) for label, s in rows if s.get("postgres_cpu_ms_per_completed_order_by_database")]
    if not rows:
        return []
    totals = {}
    for _, s in rows:
        for k, v in s["postgres_cpu_ms_per_completed_order_by_database"].items():
            totals[k] = totals.get(k, 0.0) + v
    keys = sorted(totals, key=lambda k: -totals[k])
    widths = [max(5, len(k)) for k in keys]
    lines = ["", "   Postgres CPU ms per completed order by database (<run>_<name>; background: postmaster, checkpointer,"
                 " WAL writer, ...)",
             "   %-10s " % "step" + " ".join("%*s" % (w, k) for w, k in zip(widths, keys)) + " %8s" % "postgres"]
    for label, s in rows:
        per = s["postgres_cpu_ms_per_completed_order_by_database"]
        lines.append("   %-10s " % label + " ".join("%*s" % (w, fmt(per.get(k), "%.2f")) for w, k in zip(widths, keys)) +
                     " %8s" % fmt((s.get("cpu_ms_per_completed_order") or {}).get("postgres"), "%.2f"))
    return lines


def checkout_table(ck):
    lines = []
    lines.append("   checkout pipeline through the gateway: %d customers, one wrk connection each; POST /basket + POST /basket/checkout per checkout" % ck["customers"])
    shipped = any(s.get("checkout_to_delivered_ms") for s in ck["steps"])
    if shipped:
        lines.append("   " + SHIPPING_NOTE + "; the drain waits for every order Delivered (or Cancelled), CPU and Postgres include the fulfilment")
    lines.append("   %-10s %7s %8s %7s %7s | %-20s | %-20s |%s %-7s %9s  %s" % (
        "step", "offered", "accepted", "orders", "compl.", "checkout→order ms", "checkout→completed", " %-13s |" % "→Delivered" if shipped else "",
        "all", "cancelled", "client"))
    lines.append("   %-10s %7s %8s %7s %7s | %6s %6s %6s | %6s %6s %6s |%s %-7s %9s  %s" % (
        "", "/s", "/s", "/s", "/s", "p50", "p90", "p99", "p50", "p90", "p99", " %6s %6s |" % ("p50", "p99") if shipped else "", "orders?", "", "errors"))
    for s in ck["steps"]:
        o, c, d = s["checkout_to_order_ms"] or {}, s["checkout_to_completed_ms"] or {}, s.get("checkout_to_delivered_ms") or {}
        errors = dict(s["client_errors"])
        errors.update({"socket " + k: v for k, v in s["socket_errors"].items()})
        lines.append("   %-10s %7.0f %8.0f %7s %7s | %6s %6s %6s | %6s %6s %6s |%s %-7s %9d  %s" % (
            s["name"], s["offered_rate"], s["accepted_rate"], fmt(s["order_rate"], "%.0f"), fmt(s["completed_rate"], "%.0f"),
            fmt(o.get("p50"), "%.0f"), fmt(o.get("p90"), "%.0f"), fmt(o.get("p99"), "%.0f"),
            fmt(c.get("p50"), "%.0f"), fmt(c.get("p90"), "%.0f"), fmt(c.get("p99"), "%.0f"),
            " %6s %6s |" % (fmt(d.get("p50"), "%.0f"), fmt(d.get("p99"), "%.0f")) if shipped else "",
            ("yes" if s["every_checkout_an_order"] else "NO") + ("" if s["drained"] else "*"), s["cancelled"],
            ", ".join("%s ×%d" % kv for kv in sorted(errors.items())) or "0"))
    lines.extend(hops_table(ck["steps"]))
    best = ck["highest_rate_p99_within_50ms"]
    cancelled = {}
    for s in ck["steps"]:
        for status, n in s["orders_by_status"].items():
            if status.startswith("Cancelled"):
                cancelled[status] = cancelled.get(status, 0) + n
    if cancelled:
        lines.append("   cancelled orders (all cards approve; a cancellation is a saga step past its deadline): " +
                     ", ".join("%s ×%d" % kv for kv in sorted(cancelled.items())))
    lines.append("   highest tested rate with checkout→order p99 ≤ 50 ms (accepted ≥ 90 %% of it, every checkout an order, none cancelled): %s" % (
        "none" if best is None else "%.0f checkouts/s%s" % (best["rate"], " (saturation)" if best["step"] == "saturation" else "")))
    sat = next((s for s in ck["steps"] if s["name"] == "saturation"), None)
    if sat:
        lines.append("   saturation: %.0f checkouts/s accepted, orders made at %s/s, completed at %s/s; client p50/p99 POST /basket %s/%s ms, checkout %s/%s ms" % (
            sat["accepted_rate"], fmt(sat["order_rate"], "%.0f"), fmt(sat["completed_rate"], "%.0f"),
            fmt((sat["client_basket_ms"] or {}).get("p50"), "%.1f"), fmt((sat["client_basket_ms"] or {}).get("p99"), "%.1f"),
            fmt((sat["client_checkout_ms"] or {}).get("p50"), "%.1f"), fmt((sat["client_checkout_ms"] or {}).get("p99"), "%.1f")))
    # Every process that used CPU in a step (notification-service runs with --no-shipping too: its CPU is in "all").
    processes = [p for p in PROCESSES if any((s["cpu_ms_per_order"] or {}).get(p) for s in ck["steps"])]
    lines.append("")
    lines.append("   CPU ms per order, by process (the step and its drain: fill, checkout, relay, order, saga; idle work included)")
    lines.append("   %-10s %7s " % ("step", "orders") + " ".join("%8s" % p for p in processes) + " %8s %8s" % ("all", "wrk"))
    for s in ck["steps"]:
        per = s["cpu_ms_per_order"]
        if per:
            lines.append("   %-10s %7d " % (s["name"], s["orders"]) + " ".join("%8s" % fmt(per.get(p), "%.2f") for p in processes) +
                         " %8.2f %8.2f" % (per["all (services + postgres)"], per["wrk (load generator)"]))
    lines.extend(postgres_database_table([(s["name"], s) for s in ck["steps"]]))
    lines.extend(postgres_table(ck["steps"]))
    return lines


def hops_table(steps):
    """A step's hops_ms, one line each: a column per hop (p50/p99 ms) that some step has."""
    steps = [s for s in steps if s.get("hops_ms")]
    if not steps:
        return []
    labels = [label for label, _, _ in HOPS if any(label in s["hops_ms"] for s in steps)]
    lines = ["   checkout→completed by hop, p50/p99 ms over the completed orders (from the status history)",
             "   %-10s" % "step" + "".join("  %*s" % (len(label), label) for label in labels)]
    for s in steps:
        hops = s["hops_ms"]
        lines.append("   %-10s" % s["name"] + "".join("  %*s" % (len(label), "%s/%s" % (
            fmt(hops[label]["p50"], "%.0f"), fmt(hops[label]["p99"], "%.0f")) if label in hops else "—") for label in labels))
    return lines


def fulfilment_table(f):
    """Per rate: with shipping-service, the saga alone, and the difference per order at rest."""
    lines = ["", "   fulfilment past Completed (issue 28): what Shipped and Delivered cost per order, at a steady rate, next to the saga alone"]
    lines.append("   (%s;" % f["note"])
    lines.append("    shipping-service: %s; CPU: every process, Postgres included, over the step and its drain;"
                 " Postgres: the run's commits and WAL from pg_waldump, statements from pg_stat_statements)" % (
                     ", ".join("%s=%s" % kv for kv in sorted(f["shipping_env"].items()))))
    lines.append("   %-5s %-13s %7s %8s %6s %-11s | %-13s | %-13s | %-13s | %-25s | %s" % (
        "rate", "run", "offered", "accepted", "orders", "at rest", "→Completed ms", "→Delivered ms", "Compl.→Deliv.", "CPU ms per order at rest",
        "Postgres per order at rest"))
    lines.append("   %-5s %-13s %7s %8s %6s %-11s | %6s %6s | %6s %6s | %6s %6s | %7s %8s %8s | %7s %7s %7s %6s %6s" % (
        "", "", "/s", "/s", "", "", "p50", "p99", "p50", "p99", "p50", "p99", "all", "services", "postgres",
        "commits", "durable", "WAL KB", "stmts", "fsyncs"))
    for p in f["pairs"]:
        for label, key in (("with shipping", "with_shipping"), ("saga alone", "saga_alone")):
            s = p[key]
            c, d, cd = s["checkout_to_completed_ms"] or {}, s["checkout_to_delivered_ms"] or {}, s["completed_to_delivered_ms"] or {}
            cpu, pg = p["cpu_ms_per_order"][key] or {}, p["postgres_per_order"][key] or {}
            rest = ", ".join("%s %d" % (status[:5], n) for status, n in sorted(s["orders_by_status"].items())) + ("" if s["drained"] else "*")
            lines.append("   %-5s %-13s %7.0f %8.0f %6d %-11s | %6s %6s | %6s %6s | %6s %6s | %7s %8s %8s | %7s %7s %7s %6s %6s" % (
                "%d/s" % p["rate"], label, s["offered_rate"], s["accepted_rate"], s["orders"], rest[:11],
                fmt(c.get("p50"), "%.0f"), fmt(c.get("p99"), "%.0f"), fmt(d.get("p50"), "%.0f"), fmt(d.get("p99"), "%.0f"),
                fmt(cd.get("p50"), "%.0f"), fmt(cd.get("p99"), "%.0f"),
                fmt(cpu.get("all"), "%.2f"), fmt(cpu.get("services"), "%.2f"), fmt(cpu.get("postgres"), "%.2f"),
                fmt(pg.get("commits"), "%.1f"), fmt(pg.get("durable_commits"), "%.1f"),
                fmt(pg["wal_bytes"] / 1024.0, "%.1f") if pg.get("wal_bytes") is not None else
                fmt(pg["wal_bytes_cluster"] / 1024.0, "%.1f") + "*" if pg.get("wal_bytes_cluster") is not None else "—",
                fmt(pg.get("statements"), "%.0f"), fmt(pg.get("fsyncs"), "%.1f")))
        cpu, pg = p["cpu_ms_per_order"]["extra"] or {}, p["postgres_per_order"]["extra"] or {}
        lines.append("   %-5s %-13s %7s %8s %6s %-11s | %6s %6s | %6s %6s | %6s %6s | %7s %8s %8s | %7s %7s %7s %6s %6s" % (
            "%d/s" % p["rate"], "extra", "", "", "", "", "", "", "", "", "", "",
            fmt(cpu.get("all"), "%+.2f"), fmt(cpu.get("services"), "%+.2f"), fmt(cpu.get("postgres"), "%+.2f"),
            fmt(pg.get("commits"), "%+.1f"), fmt(pg.get("durable_commits"), "%+.1f"),
            fmt(pg["wal_bytes"] / 1024.0, "%+.1f") if pg.get("wal_bytes") is not None else "—",
            fmt(pg.get("statements"), "%+.0f"), fmt(pg.get("fsyncs"), "%+.1f")))
        idle = p.get("shipping_idle")
        if idle:
            lines.append("   %-5s shipping-service idle (its scans, SHIPPING_SCAN_MS=%s): %s ms CPU per s + its Postgres backends %s ms per s"
                         " = %s ms per order at %d/s, included in the extra" % (
                             "", f["shipping_env"].get("SHIPPING_SCAN_MS"), fmt(idle["service_cpu_ms_per_s"], "%.1f"),
                             fmt(idle["postgres_cpu_ms_per_s"], "%.1f"), fmt(idle["ms_per_order_at_rate"], "%.2f"), p["rate"]))
        if not p.get("rate_reached", True):
            lines.append("   %-5s NOTE: a run accepted less than 90 %% of %d/s (the machine saturated): the difference mixes two load levels" % ("", p["rate"]))
        if not p["ok"]:
            lines.append("   %-5s CHECKS FAIL: %s (purged %s messages from %s)" % (
                "", ", ".join(k for k, v in p["checks"].items() if not v), p["purged_messages"], f["queue"]))
    lines.append("   (at rest: the orders' statuses when drained, * = not drained within DRAIN_TIMEOUT; →Delivered: the Delivered entry of"
                 " order_status_history − order_date; WAL * = whole cluster: no pg_waldump)")
    lines.append("")
    lines.append("   CPU ms per order at rest, by process (extra = with shipping − saga alone)")
    lines.append("   %-5s %-13s " % ("rate", "run") + " ".join("%8s" % k for k in PROCESSES) + " %8s" % "all")
    for p in f["pairs"]:
        for label, key in (("with shipping", "with_shipping"), ("saga alone", "saga_alone"), ("extra", "extra")):
            cpu = p["cpu_ms_per_order"][key]
            if cpu:
                sign = "%+.2f" if key == "extra" else "%.2f"
                lines.append("   %-5s %-13s " % ("%d/s" % p["rate"], label) + " ".join("%8s" % fmt(cpu.get(k), sign) for k in PROCESSES) +
                             " %8s" % fmt(cpu.get("all"), sign))
    groups = [(p, p["postgres_per_order"]["extra"]) for p in f["pairs"] if (p["postgres_per_order"]["extra"] or {}).get("commits_by_group")]
    if groups:
        lines.append("   extra commits per order by group: " + "; ".join("%d/s %s" % (p["rate"], ", ".join(
            "%s %+.1f" % (g, v) for g, v in extra["commits_by_group"].items() if v is not None and abs(v) >= 0.05) or "none") for p, extra in groups))
    for p in f["pairs"]:
        categories = p.get("postgres_categories_per_order")
        if not categories:
            continue
        lines.append("")
        lines.append("   %d/s: where the commits and the WAL of an order at rest go, with shipping and the saga alone (from the WAL)" % p["rate"])
        lines.append("   %-52s %8s %8s %8s | %9s %9s %9s" % ("category", "commits", "", "", "WAL bytes", "", ""))
        lines.append("   %-52s %8s %8s %8s | %9s %9s %9s" % ("", "shipping", "alone", "extra", "shipping", "alone", "extra"))
        order = {g: i for i, g in enumerate(pgcost.GROUPS)}
        for label, c in sorted(categories.items(), key=lambda kv: (order.get(kv[1]["group"], 9), -abs(kv[1]["commits_extra"]), kv[0])):
            lines.append("   %-52s %8.2f %8.2f %+8.2f | %9.0f %9.0f %+9.0f" % (
                label[:52], c["commits_with_shipping"], c["commits_saga_alone"], c["commits_extra"],
                c["wal_bytes_with_shipping"], c["wal_bytes_saga_alone"], c["wal_bytes_extra"]))
    return lines


def wal_by_relation_table(rows, categories, least=20.0):
    """The WAL per completed order of each category by table, relation and record kind (pgcost's
    wal_by_relation per completed order): rows of at least `least` bytes, under their category's total;
    nothing when the step has none."""
    if not rows:
        return []
    order = {g: i for i, g in enumerate(pgcost.GROUPS)}
    rank = {label: (order.get(b["group"], 9), -b["commits"], label) for label, b in categories.items()}
    by_category = {}
    for r in rows:
        by_category.setdefault(r["category"], []).append(r)
    lines = ["", "   WAL per completed order by table and record kind (rows of %.0f bytes or more; relation: the table"
                 " or its index)" % least,
             "   %-20s %-38s %-24s %9s %8s" % ("category / table", "relation", "record kind", "bytes", "records")]
    for label in sorted(by_category, key=lambda k: rank.get(k, (9, 0, k))):
        entries = by_category[label]
        lines.append("   %-84s %9.0f %8.2f" % (label[:84], sum(r["bytes"] for r in entries), sum(r["records"] for r in entries)))
        shown = [r for r in entries if r["bytes"] >= least]
        for r in sorted(shown, key=lambda r: -r["bytes"]):
            lines.append("     %-18s %-38s %-24s %9.0f %8.2f" % (r["table"][:18], r["relation"][:38], r["kind"][:24], r["bytes"], r["records"]))
        rest = [r for r in entries if r["bytes"] < least]
        if rest and shown:
            lines.append("     %-81s %9.0f %8.2f" % ("(%d smaller row%s)" % (len(rest), "" if len(rest) == 1 else "s"),
                                                     sum(r["bytes"] for r in rest), sum(r["records"] for r in rest)))
    return lines


def postgres_table(steps):
    """The Postgres work per completed order, one row per step; then, for the saturation step and the
    lowest-rate step, where the commits and the WAL go and the most frequent statements."""
    costs = [(s, s.get("postgres_cost")) for s in steps]
    if not any(c for _, c in costs):
        return []
    lines = ["", "   Postgres work per completed order (the step and its drain, as above; commits and WAL from the WAL itself,"
                 " read back with pg_waldump; statements from pg_stat_statements; fsyncs from pg_stat_wal)"]
    lines.append("   %-10s %6s %7s %8s %6s %6s %6s %6s %7s %7s %6s %6s %7s %7s" % (
        "step", "compl.", "commits", "business", "relay", "bus", "other", "xacts", "stmts", "WAL KB", "FPIs", "fsyncs", "PG CPU", "all CPU"))
    lines.append("   %-10s %6s %7s %8s %6s %6s %6s %6s %7s %7s %6s %6s %7s %7s" % (
        "", "orders", "", "", "", "", "", "(all)", "", "", "", "", "ms", "ms"))
    for s, c in costs:
        per = c and c["per_completed_order"]
        if not per:
            lines.append("   %-10s %6s  (no Postgres figures%s)" % (s["name"], s.get("completed", "—"), "" if c else ": snapshot failed"))
            continue
        groups = per["commits_by_group"] or {}
        cpu = s.get("cpu_ms_per_completed_order") or {}
        lines.append("   %-10s %6d %7s %8s %6s %6s %6s %6s %7s %7s %6s %6s %7s %7s" % (
            s["name"], c["completed_orders"], fmt(per["commits"]), fmt(groups.get("business")), fmt(groups.get("outbox relay")),
            fmt(groups.get("bus")), fmt(groups.get("other")), fmt(per["xact_commit"], "%.0f"), fmt(per["statements"], "%.0f"),
            fmt(per["wal_bytes"] / 1024.0) if per["wal_bytes"] is not None else fmt(per["wal_bytes_cluster"] / 1024.0) + "*",
            fmt(per["fpis"], "%.2f"), fmt(per["fsyncs"]), fmt(cpu.get("postgres"), "%.2f"),
            fmt(cpu.get("all (services + postgres)"), "%.2f")))
    lines.append("   (commits: the run's write transactions that committed, by what they wrote, every category counted durable%s;"
                 " xacts: pg_stat_database's commits, read-only ones included; stmts: top-level statements, BEGIN/COMMIT included,"
                 " bench's own polling left out; WAL, FPIs: the run's databases only (* = whole cluster: no pg_waldump);"
                 " fsyncs: the whole cluster's)" % (" except " + ", ".join(sorted(pgcost.ASYNCHRONOUS)) if pgcost.ASYNCHRONOUS else " for now"))
    fixed = [s for s, c in costs if s["target_rate"] and c and c["per_completed_order"]]
    detail = [s for s, c in costs if s["name"] == "saturation" and c and c["per_completed_order"]]
    if fixed:
        lowest = min(fixed, key=lambda s: s["target_rate"])
        if lowest not in detail:
            detail.append(lowest)
    for s in detail:
        c = s["postgres_cost"]
        per = c["per_completed_order"]
        lines.append("")
        lines.append("   %s step: where each completed order's commits and WAL go (%d completed of %d orders made, %.0f s window)" % (
            s["name"], c["completed_orders"], c["orders_made"], c["window_seconds"]))
        if c["categories"] is None:
            lines.append("   (no WAL accounting: %s)" % c["wal_error"])
        else:
            n = c["completed_orders"]
            lines.append("   %-52s %8s %9s %8s %6s  %s" % ("category", "commits", "WAL bytes", "records", "FPIs", "tables written"))
            order = {g: i for i, g in enumerate(pgcost.GROUPS)}
            for label, b in sorted(c["categories"].items(), key=lambda kv: (order[kv[1]["group"]], -kv[1]["commits"], kv[0])):
                lines.append("   %-52s %8.2f %9.0f %8.1f %6.2f  %s" % (
                    label[:52], b["commits"] / n, b["wal_bytes"] / n, b["records"] / n, b["fpis"] / n, ", ".join(b["tables"]) or "—"))
            lines.append("   %-52s %8.2f %9.0f %8.1f %6.2f" % ("the run", per["commits"], per["wal_bytes"], per["wal_records"], per["fpis"]))
            outside = sorted(c["totals"]["outside_run_wal_bytes"].items(), key=lambda kv: -kv[1])
            lines.append("   %-52s %8s %9.0f %8s %6s  %s" % ("outside the run (other databases, checkpoints)", "", per["wal_bytes_outside_run"], "", "",
                                                           ", ".join("%s %.0f" % (k, v / n) for k, v in outside[:4]) or "—"))
            lines.append("   %-52s %8s %9.0f %8.1f %6.2f  (LSN difference %.0f: + page headers; pg_stat_wal %s)" % (
                "whole cluster", "", per["wal_bytes_waldump"], per["wal_records_waldump"], per["fpis_waldump"], per["wal_bytes_cluster"],
                fmt(per["wal_bytes_pg_stat_wal"], "%.0f")))
            lines.extend(wal_by_relation_table(per.get("wal_by_relation"), c["categories"]))
        top = c["top_statements"]
        if top is None:
            lines.append("   (no pg_stat_statements: top statements unknown)")
        else:
            lines.append("   top 12 statements by calls per completed order (of %s top-level + %s nested per completed order):" % (
                fmt(per["statements"]), fmt(per["nested_statements"])))
            lines.append("   %8s %-9s %8s %7s  %s" % ("calls", "database", "ms/call", "rows", "statement"))
            for t in top[:12]:
                lines.append("   %8.2f %-9s %8.3f %7.1f  %s%s" % (t["calls_per_completed_order"] or 0, t["db"], t["ms_per_call"], t["rows_per_call"],
                                                                 "" if t["toplevel"] else "(nested) ", t["query"]))
    return lines


def plot(result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is missing (python3 -m pip install matplotlib): no plot")
        return False
    steps = [s for s in result["checkout"]["steps"] if s["checkout_to_order_ms"]]
    if not steps:
        return False
    fixed = [s for s in steps if s["target_rate"]]
    sat = [s for s in steps if not s["target_rate"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    position = {s["name"]: i for i, s in enumerate(steps)}  # one slot per step, in the order run

    series = [("checkout_to_order_ms", "p50", "checkout→order p50", "tab:blue", "-", "o"),
              ("checkout_to_order_ms", "p99", "checkout→order p99", "tab:blue", "--", "s"),
              ("checkout_to_completed_ms", "p50", "checkout→completed p50", "tab:orange", "-", "o"),
              ("checkout_to_completed_ms", "p99", "checkout→completed p99", "tab:orange", "--", "s")]
    for key, p, label, color, linestyle, marker in series:
        points = [(position[s["name"]], s[key][p]) for s in fixed if s[key]]
        if points:
            left.plot([a for a, _ in points], [b for _, b in points], linestyle=linestyle, marker=marker, color=color, label=label)
        for s in sat:
            if s[key]:
                left.plot([position[s["name"]]], [s[key][p]], marker="*" if p == "p50" else "P", markersize=11, color=color, linestyle="none")
    for s in steps:
        if s.get("cancelled"):
            left.annotate("%d cancelled" % s["cancelled"], (position[s["name"]], s["checkout_to_order_ms"]["p99"]),
                          textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7, color="firebrick")
    left.set_xticks(range(len(steps)))
    left.set_xticklabels(["%s\noffered\n%.0f/s\naccepted" % ("%d/s" % s["target_rate"] if s["target_rate"] else "unpaced", s["accepted_rate"])
                          for s in steps], fontsize=7)
    left.set_xlim(-0.4, len(steps) - 0.6)
    left.axhline(50, color="red", linewidth=1, linestyle=":", label="50 ms")
    left.set_yscale("log")
    left.set_xlabel("step: checkouts/s offered (wrk + Lua, paced per connection) and accepted")
    left.set_ylabel("ms, server-side (ordering database)")
    left.set_title("checkout latency against rate", fontsize=10)
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=5, frameon=False)
    names = ["unpaced" if s["name"] == "saturation" else s["name"] for s in steps]
    positions = range(len(steps))
    right.bar([p - 0.27 for p in positions], [s["accepted_rate"] for s in steps], width=0.27, label="checkouts accepted/s")
    right.bar(list(positions), [s["order_rate"] or 0 for s in steps], width=0.27, label="orders made/s")
    right.bar([p + 0.27 for p in positions], [s["completed_rate"] or 0 for s in steps], width=0.27, label="orders completed/s")
    right.set_xticks(list(positions))
    right.set_xticklabels(names, fontsize=8)
    right.set_xlabel("step (offered checkouts/s)")
    right.set_title("throughput per step", fontsize=10)
    right.grid(True, axis="y", alpha=0.3)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    m = result["machine"]
    fig.suptitle("swn-shop, release build, %d × %s, PostgreSQL %s, commit %s, %s" % (
        m["nproc"], m["cpu_model"], m["postgres"], m["git_commit"], result["date"][:10]), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return True


# --- main -------------------------------------------------------------------------------------------

def search_only_run(result, seconds, connections, out_dir, stem, wall):
    """--search-only: pgbench -S (simple and prepared) and the search step; search.json and search.txt."""
    failures = []
    say("run %s (--search-only); service logs in %s" % (RUN, chaos.WORK))
    result["anchors"] = anchors(seconds, keys=("pgbench_select", "pgbench_select_prepared"))
    anchor_tps = {k: v["tps"] for k, v in result["anchors"].items()}
    try:
        result["search"] = search_step(anchor_tps, seconds, connections)
    except Exception as error:
        say("search: %s" % error)
        result["search"] = {"error": str(error)}
        failures.append("search: %s" % error)
    result["service_logs"] = log_problems(chaos.WORK)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    result["targets"] = search_targets(result["search"], result["anchors"]) if result["search"].get("lines") else []
    result["wall_seconds"] = round(time.monotonic() - wall, 1)
    os.makedirs(out_dir, exist_ok=True)
    json_path, text_path = os.path.join(out_dir, stem + ".json"), os.path.join(out_dir, stem + ".txt")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")
    if result["search"].get("lines"):
        write_search_text(result, result["search"], text_path)
        with open(text_path) as f:
            print(f.read(), end="")
    print("   wrote %s%s (%.0f s in all)" % (os.path.relpath(json_path, ROOT), " and " + os.path.relpath(text_path, ROOT)
                                           if result["search"].get("lines") else "", result["wall_seconds"]))
    for name, problem in (result["service_logs"] or {}).items():
        say("%s logged %s, e.g. %s" % (name, ", ".join("%d at %s" % (n, level) for level, n in problem["counts"].items()), problem["examples"][0][:200]))
    return finish(failures)


def finish(failures):
    """The end of a run: the service logs kept (when something failed, or BENCH_KEEP_LOGS) or removed; the exit status."""
    if failures or os.environ.get("BENCH_KEEP_LOGS"):
        say("service logs kept in " + chaos.WORK)
        for failure in failures:
            say("FAILED: " + failure)
    else:
        shutil.rmtree(chaos.WORK, ignore_errors=True)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 3–4 minute smoke run (3 s lines, 2 rates + saturation of 5 s; the replica parts shorter)")
    parser.add_argument("--checkout-only", action="store_true",
                        help="no read lines: the anchors (pgbench -S, -N), the checkout steps and the fulfilment step only, for before/after runs of the messaging code"
                             " (no replica parts unless --replicas)")
    parser.add_argument("--replicas", action="store_true", help="the replica parts with --checkout-only too")
    parser.add_argument("--no-replicas", action="store_true",
                        help="leave out the replica parts (gateway variants: two product replicas, shared rate limits; checkout with ×1 and ×2 "
                             "replicas): the run as it was before them, about 5 of its 9 minutes shorter")
    parser.add_argument("--no-shipping", action="store_true",
                        help="the checkout steps without shipping-service, as before issue 28 (orders at rest when Completed, their"
                             " OrderCompleted deleted from shipping-orders after each step): before/after runs against an older build;"
                             " no fulfilment step")
    parser.add_argument("--no-fulfilment", action="store_true",
                        help="leave out the fulfilment step (each of BENCH_FULFILMENT_RATES with shipping-service and with it stopped;"
                             " shipping-service still runs in the checkout steps)")
    parser.add_argument("--replicas-only", action="store_true",
                        help="only the anchors, GET /product/{id} through the gateway and the replica parts (bench-replicas.json)")
    parser.add_argument("--search-only", action="store_true",
                        help="only pgbench -S (simple and prepared) and the search step (issue 30: %s products, GET /product?q= and "
                             "/product/facets and a mix of queries through the gateway, cached and uncached, the plans from auto_explain): search.json and search.txt" % "{:,}".format(SEARCH_PRODUCTS))
    parser.add_argument("--no-search", action="store_true", help="leave out the search step (run last in a full run, on a stack of its own)")
    args = parser.parse_args()
    global SHIPPING, AT_REST, PIPELINE_UNREAD
    SHIPPING = SHIPPING_BUILT and not args.no_shipping
    AT_REST, PIPELINE_UNREAD = pipeline_settings(SHIPPING)
    quick = args.quick
    checkout_only = args.checkout_only
    replicas_only = args.replicas_only
    with_replicas = not args.no_replicas and (replicas_only or args.replicas or not checkout_only)
    if replicas_only and (checkout_only or args.no_replicas):
        sys.exit("bench: --replicas-only goes with neither --checkout-only nor --no-replicas")
    search_only = args.search_only
    if search_only and (checkout_only or replicas_only or args.no_search):
        sys.exit("bench: --search-only goes with none of --checkout-only, --replicas-only, --no-search")
    with_search = search_only or not (args.no_search or checkout_only or replicas_only)
    seconds = int(os.environ.get("BENCH_SECONDS", "3" if quick else "10"))
    checkout_seconds = int(os.environ.get("CHECKOUT_SECONDS", "5" if quick else "12"))
    # --quick --checkout-only: the two paced rates issue 26's latency targets name (25/s, and about half of 5 % of pgbench -N)
    default_rates = ("25,100" if checkout_only else "50,100,500") if quick else "25,50,100,250,500,1000"
    rates = [int(r) for r in os.environ.get("BENCH_RATES", default_rates).split(",") if r.strip()]
    replica_rates = [int(r) for r in os.environ.get("BENCH_REPLICA_RATES", "50" if quick else "50,100").split(",") if r.strip()]
    fulfilment_rates = [int(r) for r in os.environ.get("BENCH_FULFILMENT_RATES", "25,50").split(",") if r.strip()]
    with_fulfilment = SHIPPING and not args.no_fulfilment and not replicas_only and bool(fulfilment_rates)
    rounds = int(os.environ.get("BENCH_ROUNDS", "2" if quick else "4"))
    customers = int(os.environ.get("BENCH_CUSTOMERS", "64"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "32"))
    drain_timeout = float(os.environ.get("DRAIN_TIMEOUT", "180"))
    out_dir = os.environ.get("BENCH_OUT", os.path.join(HERE, "results"))
    stem = "bench-quick" if quick else "bench-checkout" if checkout_only else "bench-replicas" if replicas_only else "bench"
    search_stem = "search-quick" if quick else "search"
    for tool in ["wrk", PGBENCH, chaos.PSQL]:
        if not shutil.which(tool):
            sys.exit("bench: %s is missing (Debian: apt-get install wrk postgresql-client; pgbench comes with the server)" % tool)
    for name in NAMES:
        if name != "shipping-service" and not os.path.exists(os.path.join(chaos.BIN, name)):
            sys.exit("bench: %s is not in %s (swift build -c release)" % (name, chaos.BIN))
    if not SHIPPING_BUILT:
        say("no shipping-service in %s (a build from before issue 28): the pipeline ends at Completed, no fulfilment step" % chaos.BIN)
    elif not SHIPPING:
        say("--no-shipping: the pipeline ends at Completed (shipping-orders emptied after each step), no fulfilment step")

    wall = time.monotonic()
    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "run": RUN, "machine": machine_info(),
              "settings": {"quick": quick, "checkout_only": checkout_only, "replicas_only": replicas_only, "replicas": with_replicas,
                           "seconds": seconds, "checkout_seconds": checkout_seconds, "rates": rates,
                           "customers": customers, "read_connections": connections, "log_level": os.environ.get("LOG_LEVEL", "info"),
                           "drain_timeout": drain_timeout, "shipping": SHIPPING, "shipping_built": SHIPPING_BUILT, "at_rest": list(AT_REST),
                           "shipping_env": dict(SHIPPING_ENV) if SHIPPING else None,
                           "fulfilment_rates": fulfilment_rates if with_fulfilment else None,
                           "search_products": SEARCH_PRODUCTS if with_search else None}}
    if search_only:
        return search_only_run(result, seconds, connections, out_dir, search_stem, wall)
    if with_replicas:
        result["settings"].update({"replica_rates": replica_rates, "gateway_variant_rounds": rounds, "replicated": REPLICATED})
    say("run %s; service logs in %s" % (RUN, chaos.WORK))
    stack = chaos.Stack(gateway=True, shipping=SHIPPING_BUILT, extra_env=dict({
        "product": {"SEED_DEMO_CATALOG": "true"},
        "gateway": {"RATE_LIMIT_USER_PER_SECOND": "0", "RATE_LIMIT_ADDRESS_PER_SECOND": "0"}},
        **({"shipping": SHIPPING_ENV} if SHIPPING_BUILT else {})))
    services = stack.services
    ok = False
    failures = []
    try:
        ready = {}
        if stack.mail_sink:  # notification-service's SMTP peer (not one of the shop's processes: its CPU is not counted)
            stack.mail_sink.start()
        for service in services:
            ready[NAMES[service.name]] = start_timed(service)
        say("services ready: " + ", ".join("%s %.0f ms" % kv for kv in ready.items()))
        stop_unused_shipping(stack)
        time.sleep(3)
        idle = {NAMES[s.name]: rss_mib(s.process.pid) for s in services}

        products, tokens_file = prepare(stack, 0 if replicas_only else customers)

        result["anchors"] = anchors(seconds)
        anchor_tps = {k: v["tps"] for k, v in result["anchors"].items()}

        product_id = products[0]
        reads = []
        lines = [] if checkout_only else [
            ("health", "GET /health, product-service", stack.product.url + "/health"),
            ("product_direct", "GET /product/{id}, product-service", "%s/product/%s" % (stack.product.url, product_id)),
            ("product_gateway", "GET /product/{id}, through the gateway", "%s/product/%s" % (stack.gateway.url, product_id)),
            ("list_gateway", "GET /product (list of %d), through the gateway" % len(products), stack.gateway.url + "/product")]
        for key, label, url in lines:
            if not replicas_only or key == "product_gateway":
                reads.append(dict(read_line(label, url, seconds, connections, anchor_tps), key=key))
        # The same read with product-service's cache off (another replica on the same database, only for
        # this line): what a read costs when it goes to Postgres every time.
        if not checkout_only and not replicas_only:
            uncached = chaos.Service("product-service", chaos.free_port(),
                                     dict(stack.product.env, PRODUCT_CACHE_TTL_MS="0", SEED_DEMO_CATALOG="false"))
            uncached.start()
            try:
                reads.append(dict(read_line("GET /product/{id}, product-service, cache off", "%s/product/%s" % (uncached.url, product_id),
                                            seconds, connections, anchor_tps), key="product_direct_uncached"))
            finally:
                uncached.stop()
        # Gateways that differ from the one above in one thing each, interleaved: two product replicas; the
        # shared rate limits on (a lease of 100,000, and of one token: a statement per request).
        if with_replicas and not checkout_only and rounds > 0:
            variants = result["gateway_variants"] = gateway_variants(stack, product_id, seconds, connections, anchor_tps, rounds)
            two = next(v for v in variants["variants"] if v["key"] == "two_product_replicas")
            line = {"key": "product_gateway_2_replicas", "label": "GET /product/{id}, gateway, 2 product replicas",
                    "connections": connections, "rounds": rounds, "rps": two["rps_median"], "p50_ms": two["p50_ms_median"],
                    "p99_ms": two["p99_ms_median"], "non_2xx": two["non_2xx"], "socket_errors": two["socket_errors"],
                    "ratio_to_pgbench_select": two["rps_median"] / anchor_tps["pgbench_select"],
                    "ratio_to_pgbench_select_prepared": two["rps_median"] / anchor_tps["pgbench_select_prepared"],
                    "note": "median of %d interleaved rounds (gateway variants)" % rounds}
            at = next((i + 1 for i, r in enumerate(reads) if r["key"] == "product_gateway"), len(reads))
            reads.insert(at, line)
        result["reads"] = reads

        if not replicas_only:
            meter = CpuMeter(services)
            if not meter.postmaster:
                say("no postmaster.pid in %s: Postgres CPU is left out (set PGDATA_DIR)" % PGDATA_DIR)
            say("checkout: warm-up")
            checkout_step("warm-up", 50, 3, stack.gateway.url, customers, tokens_file, products, meter, drain_timeout, measure_postgres=False)
            steps = []
            for rate in rates:
                steps.append(checkout_step("%d/s" % rate, rate, checkout_seconds, stack.gateway.url, customers, tokens_file, products, meter, drain_timeout))
            steps.append(checkout_step("saturation", 0, checkout_seconds, stack.gateway.url, customers, tokens_file, products, meter, drain_timeout))
            qualifying = [s for s in steps if s["checkout_to_order_ms"] and s["checkout_to_order_ms"]["p99"] <= 50 and s["every_checkout_an_order"]
                          and not s["cancelled"] and (not s["target_rate"] or s["accepted_rate"] >= 0.9 * s["target_rate"])]
            best = max(qualifying, key=lambda s: s["target_rate"] or s["accepted_rate"], default=None)
            if with_fulfilment:
                result["fulfilment"] = fulfilment(stack, fulfilment_rates, checkout_seconds, customers, tokens_file, products, meter, drain_timeout)
                failures.extend("fulfilment at %d/s: %s" % (p["rate"], ", ".join(k for k, v in p["checks"].items() if not v))
                                for p in result["fulfilment"]["pairs"] if not p["ok"])
            result["checkout"] = {"customers": customers, "steps": steps,
                                  "highest_rate_p99_within_50ms": None if best is None else {
                                      "rate": best["target_rate"] or best["accepted_rate"], "step": best["name"],
                                      "p99_ms": best["checkout_to_order_ms"]["p99"]}}

        time.sleep(5)
        after = {NAMES[s.name]: rss_mib(s.process.pid) for s in services}
        result["services"] = {name: {"ready_ms": ready[name], "rss_after_start_mib": idle[name], "rss_after_run_mib": after[name]}
                              for name in ready}
        if result.get("fulfilment") and "shipping" in result["services"]:
            result["services"]["shipping"]["restarted_in_fulfilment_step"] = True  # its RSS after the run is a later process's
        ok = True
    finally:
        stack.stop()
        if not ok:
            say("failed; service logs kept in " + chaos.WORK)

    # The checkout pipeline with one and with two replicas of ordering, product and payment, each on a stack of
    # its own (the one above is stopped: its idle work would share the cores).
    if with_replicas:
        started = time.monotonic()
        sets = []
        for replicas in (1, 2):
            try:
                sets.append(replica_set(replicas, replica_rates, checkout_seconds, customers, drain_timeout))
            except Exception as error:  # the figures so far are still written
                say("replicas ×%d: %s" % (replicas, error))
                sets.append({"replicas": replicas, "error": str(error)})
                failures.append("checkout with replicas ×%d: %s" % (replicas, error))
        result["checkout_replicas"] = {"replicated": REPLICATED, "rates": replica_rates, "customers": customers, "seconds": checkout_seconds,
                                       "note": REPLICAS_NOTE, "sets": sets, "wall_seconds": round(time.monotonic() - started, 1)}
        failures.extend("checkout with replicas ×%d: checks do not hold" % s["replicas"] for s in sets if s.get("checks") and not s["checks"]["ok"])
    # Search (issue 30) last, on a stack of its own: its 100,000 products are in no other step's database.
    if with_search:
        try:
            result["search"] = search_step(anchor_tps, seconds, connections)
        except Exception as error:  # the figures so far are still written
            say("search: %s" % error)
            result["search"] = {"error": str(error)}
            failures.append("search: %s" % error)
    result["service_logs"] = log_problems(chaos.WORK)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    result["targets"] = targets(result)
    result["wall_seconds"] = round(time.monotonic() - wall, 1)
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, stem + ".json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")
    png_path = os.path.join(out_dir, stem + ".png")
    drew = plot(result, png_path) if result.get("checkout") else False
    if (result.get("search") or {}).get("lines"):
        write_search_text(result, result["search"], os.path.join(out_dir, search_stem + ".txt"))
    print(table(result))
    print("   wrote %s%s (%.0f s in all)" % (os.path.relpath(json_path, ROOT), " and " + os.path.relpath(png_path, ROOT) if drew else "", result["wall_seconds"]))
    return finish(failures)


if __name__ == "__main__":
    sys.exit(main())
