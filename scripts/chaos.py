#!/usr/bin/env python3
"""`make chaos`: the order saga under SIGKILLs, then its invariants checked in the databases.

Starts identity, product, basket, ordering and payment (local bus) on fresh databases, signs up
customers, and places ORDERS orders (default 1000) from WORKERS threads with a mix of test cards and
quantities close to the stock, while a chaos thread SIGKILLs a random service every few seconds and
restarts it. Checkouts that fail while basket-service is down are retried with the same
Idempotency-Key. Afterwards, with every service up again, it waits for the sagas to finish and checks:

  - every accepted checkout became exactly one order, and every order is Completed or Cancelled;
  - for every product: stock = start - sum of the quantities of its Completed orders;
  - no stock below zero; no reservation left open;
  - every approved charge belongs to a Completed order; every Completed order has an approved charge;
    every charge of a Cancelled order was refunded (or never approved).

The chaos also crash-restarts Postgres (`pg_ctl -m immediate restart`, PG_RESTARTS times, default 2, spread
over the run), and a watcher fails the run when any process exits without having been killed by the test.
Then an outage: Postgres stopped for OUTAGE_SECONDS (default 30) under load: every process must stay up,
answer 503 with Retry-After promptly (GET /product/{id}, /ready), exit within its grace period on SIGTERM,
and serve again within seconds of the database's return; the checkouts of that phase join the invariants.

Replicas mode (`make replicas`: REPLICAS=2 GATEWAYS=2): REPLICAS processes of every service on the same
databases and bus (each its own port) and GATEWAYS gateways, each given every replica's URL (round-robin,
ejection, READY_REFRESH_MS=500) and the run's `<RUN>_gateway` database (rate limits shared by the gateways,
left on at their defaults: a 429 is retried after a pause, never a failure). The workers check out through the
gateways, alternating per call (a gateway whose connection failed is avoided for a second: the call goes to the
other). The chaos SIGKILLs any replica of product, basket, ordering and payment, and sometimes a gateway (never
two processes at once, so one gateway always serves); the Postgres crash-restarts and the outage stay as they are
(the outage's SIGTERM hits the first payment replica). A product whose price changes twice a second keeps
catalog events flowing to the basket replicas (basket-service reads only `basket-catalog`: product created,
price changed, deleted). Besides the invariants above it checks that every replica of ordering, payment,
product and basket handled messages (`bus_messages_handled` from each replica's /metrics, read every few
seconds, before each kill and at the end, summed over the replica's lifetimes), that no order has a status
twice in `order_status_history` nor a payment in `payment_history`, and that no reservation was applied twice
(every committed reservation's order Completed and the reverse, and for every product start - stock = the
units of its committed reservations); it prints replicas, kills per replica, requests per gateway
(`gateway_requests`) and messages handled per replica.

Prints the figures and exits 1 when an invariant does not hold.
Settings: PG_URL (default postgres://swn:swn@127.0.0.1:$PGPORT), SWN_BIN_DIR, ORDERS, WORKERS, SEED,
PG_RESTARTS, OUTAGE_SECONDS, PGDATA_DIR (the cluster scripts/postgres.sh made, default .data/postgres),
REPLICAS (default 1: one process per service, no gateway), GATEWAYS (default 2 with REPLICAS > 1, else 0).
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("PG_URL", "postgres://swn:swn@127.0.0.1:%s" % os.environ.get("PGPORT", "55432"))
BIN = os.environ.get("SWN_BIN_DIR") or subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
ORDERS = int(os.environ.get("ORDERS", "1000"))
WORKERS = int(os.environ.get("WORKERS", "12"))
SEED = int(os.environ.get("SEED", "20261123"))
PG_RESTARTS = int(os.environ.get("PG_RESTARTS", "2"))
OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "30"))
REPLICAS = max(1, int(os.environ.get("REPLICAS", "1")))
GATEWAYS = int(os.environ.get("GATEWAYS") or (2 if REPLICAS > 1 else 0))
REPLICAS_MODE = REPLICAS > 1 or GATEWAYS > 0  # checkouts through the gateways, replica figures and checks
PGDATA = os.environ.get("PGDATA_DIR") or os.path.join(ROOT, ".data", "postgres")
RUN = "chaos_%d" % int(time.time())
WORK = tempfile.mkdtemp(prefix="swn-chaos-")
random.seed(SEED)

CARDS = [("4242424242424242", 70), ("4000000000000002", 10), ("4000000000009995", 10), ("4000000000000077", 5), ("5555555555554444", 5)]
SAGA = {
    "ORDER_STEP_TIMEOUT_MS": "4000", "ORDER_PAYMENT_TIMEOUT_MS": "2500", "ORDER_TIMEOUT_SCAN_MS": "200",
    "PAYMENT_SLOW_DELAY_MS": "3500", "PAYMENT_SCAN_MS": "200", "RETRY_BASE_DELAY_MS": "200", "RETRY_MAX_DELAY_MS": "2000",
    "QUEUE_VISIBILITY_TIMEOUT_MS": "3000", "QUEUE_MAX_RECEIVE_COUNT": "50", "LOG_LEVEL": "warning",
}


def log(message):
    print("chaos: " + message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PSQL = next((p for p in ["/usr/bin/psql"] + sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/psql"))[::-1] if os.path.exists(p)), "psql")


def psql(database, sql):
    out = subprocess.check_output([PSQL, "%s/%s_%s" % (PG_URL, RUN, database), "-Atc", sql], text=True)
    return [line.split("|") for line in out.strip().splitlines() if line]


PG_CTL = next(iter(sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/pg_ctl"))[::-1]), "pg_ctl")


def pg_ctl(*args):
    """pg_ctl on the private cluster, as its owner (postgres when we are root)."""
    command = [PG_CTL, "-D", PGDATA, "-w", "-t", "60", "-l", os.path.join(PGDATA, "server.log")] + list(args)
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--"] + command
    subprocess.check_call(command, stdout=subprocess.DEVNULL)


def scalar(database, sql):
    rows = psql(database, sql)
    return int(rows[0][0]) if rows and rows[0][0] != "" else 0


class Service:
    def __init__(self, name, port, env, label=None):
        """`name`: the executable; `label`: how the run names this process (a replica: `product-service#2`)."""
        self.name, self.port, self.env, self.process, self.kills = name, port, env, None, 0
        self.label = label or name
        self.log = open(os.path.join(WORK, self.label.replace("#", "-") + ".log"), "ab")
        # Counters read from this process's /metrics, per process id (a restarted process counts from zero):
        # {pid: {(counter family, labels): largest value seen}}; see `sample_metrics`.
        self.samples = {}
        # Held while the test stops or starts the process itself; the watcher leaves it alone then.
        self.lock = threading.RLock()
        self.unexpected_exits = []
        self.stopped_by_test = False

    def check_exited(self):
        """When the process ended without the test stopping it: records it and starts it again."""
        with self.lock:
            if self.process is None or self.stopped_by_test or self.process.poll() is None:
                return
            status = self.process.returncode
            self.unexpected_exits.append(status)
            log("%s exited by itself with status %s; starting it again" % (self.label, status))
            self.start()

    def start(self):
        with self.lock:
            self._start()

    def _start(self):
        self.stopped_by_test = False
        env = dict(os.environ)
        for layer in (SAGA, self.env, {"PORT": str(self.port), "HOST": "127.0.0.1"}):  # later layers win
            env.update(layer)
        for attempt in range(30):
            try:
                self.process = subprocess.Popen([os.path.join(BIN, self.name)], env=env, stdout=self.log, stderr=self.log)
                break
            except OSError as error:
                # "Text file busy" or missing: a `swift build` is relinking the executable; wait for it.
                if error.errno not in (26, 2) or attempt == 29:
                    raise
                log("%s: %s; retrying in 5 s" % (self.label, error))
                time.sleep(5)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.port, timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("%s did not become ready (log: %s)" % (self.label, self.log.name))

    def kill(self):
        with self.lock:
            self.stopped_by_test = True
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def terminate(self):
        """SIGTERM; returns the seconds until the process ended (None after 30 s, when it is killed)."""
        with self.lock:
            self.stopped_by_test = True
            started = time.time()
            self.process.terminate()
            try:
                self.process.wait(30)
                return time.time() - started
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None

    def stop(self):
        with self.lock:
            self._stop()

    def _stop(self):
        self.stopped_by_test = True
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


class Throttled(Exception):
    """A 429 from a gateway: retried after a pause."""


def call(method, url, body=None, token=None, headers=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, None


def cognito(identity, action, body):
    request = urllib.request.Request(identity.url + "/", data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    request.add_header("X-Amz-Target", "AWSCognitoIdentityProviderService." + action)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class Stack:
    """identity, product, basket, ordering, payment (and the gateway) on fresh databases of this run.

    With `replicas` > 1, that many processes of every service on the same databases and bus (each its own
    port): `self.replicas["product-service"]` lists them, and `self.product` etc. are the first ones. With
    `gateways` (default: 1 when `gateway`, else 0), that many gateways (`self.gateways`; `self.gateway` is the
    first). `self.services` is every process, first replicas in the order identity, product, basket,
    ordering, payment, then the gateways: with one replica and one gateway, exactly the stack it always was."""

    ATTRIBUTES = {"identity": "identity", "product": "product-service", "basket": "basket-service",
                  "ordering": "ordering-service", "payment": "payment-service", "gateway": "gateway"}

    def __init__(self, gateway=False, extra_env=None, replicas=1, gateways=None):
        """`extra_env`: more environment per service, by attribute name
        (`{"product": {"SEED_DEMO_CATALOG": "true"}, "gateway": {...}}`), applied over the defaults (to every
        replica of that service)."""
        gateways = gateways if gateways is not None else (1 if gateway else 0)
        # Several replicas or gateways: the gateways take lists of replicas, refresh their view every 500 ms,
        # share their rate limits through a database of their own and keep them on (at their defaults).
        shared = replicas > 1 or gateways > 1
        ports = {name: [free_port() for _ in range(replicas)] for name in ["identity", "product-service", "basket-service",
                                                                         "ordering-service", "payment-service"]}
        # Every identity replica issues tokens as the first one (one issuer, one pool, keys in their database).
        issuer = "http://127.0.0.1:%d/local_swn" % ports["identity"][0]
        common = {"BUS_MODE": "local", "BUS_DATABASE_URL": "%s/%s_bus" % (PG_URL, RUN), "COGNITO_ISSUER": issuer,
                  "COGNITO_CLIENT_ID": "swnshoplocalclient", "COGNITO_JWKS_URL": issuer + "/.well-known/jwks.json"}

        def database(name):
            return "%s/%s_%s" % (PG_URL, RUN, name)

        def url(port):
            return "http://127.0.0.1:%d" % port

        def group(name, env):
            return [Service(name, port, dict(env), label=name if replicas == 1 else "%s#%d" % (name, index + 1))
                    for index, port in enumerate(ports[name])]

        self.replicas = {
            "identity": group("identity", dict(common, DATABASE_URL=database("identity"), TOKEN_ISSUER=issuer,
                                               SIGN_IN_BURST="100000", PASSWORD_HASH_COST="1024")),
            "product-service": group("product-service", dict(common, DATABASE_URL=database("product"))),
            # basket-service's PRODUCT_SERVICE_URL takes one URL only (no list of replicas): the first product replica.
            "basket-service": group("basket-service", dict(common, DATABASE_URL=database("basket"),
                                                           PRODUCT_SERVICE_URL=url(ports["product-service"][0]))),
            "ordering-service": group("ordering-service", dict(common, DATABASE_URL=database("ordering"))),
            "payment-service": group("payment-service", dict(common, DATABASE_URL=database("payment"))),
        }
        self.identity, self.product, self.basket, self.ordering, self.payment = (
            self.replicas[name][0] for name in ["identity", "product-service", "basket-service", "ordering-service", "payment-service"])
        self.services = [service for group_ in self.replicas.values() for service in group_]
        self.gateways = []
        for index in range(gateways):
            lists = {setting: ",".join(url(port) for port in ports[name]) for setting, name in [
                ("PRODUCT_SERVICE_URL", "product-service"), ("BASKET_SERVICE_URL", "basket-service"),
                ("ORDERING_SERVICE_URL", "ordering-service"), ("PAYMENT_SERVICE_URL", "payment-service")]}
            if shared:
                env = dict(common, READY_REFRESH_MS="500", DATABASE_URL=database("gateway"), **lists)
            else:
                env = dict(common, RATE_LIMIT_USER_PER_SECOND="0", RATE_LIMIT_ADDRESS_PER_SECOND="0", **lists)
            service = Service("gateway", free_port(), env, label="gateway" if gateways == 1 else "gateway#%d" % (index + 1))
            # The gateway's /metrics are on an internal port of their own (never its public one).
            service.metrics_port = free_port()
            service.env["METRICS_PORT"] = str(service.metrics_port)
            self.gateways.append(service)
        self.replicas["gateway"] = self.gateways
        self.gateway = self.gateways[0] if self.gateways else None
        self.services += self.gateways
        for name, env in (extra_env or {}).items():
            if not isinstance(getattr(self, name, None), Service) or name not in self.ATTRIBUTES:
                raise ValueError("extra_env: no service %r in this stack" % name)
            for service in self.replicas[self.ATTRIBUTES[name]]:
                service.env.update(env)

    def start(self):
        for service in self.services:
            service.start()

    def sign_in(self, name, password):
        return cognito(self.identity, "InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "swnshoplocalclient",
                                                       "AuthParameters": {"USERNAME": name, "PASSWORD": password}})["AuthenticationResult"]["IdToken"]

    def admin(self):
        return self.sign_in("admin", "Admin-Passw0rd!")

    def customers(self, prefix, count):
        """Signs up `count` customers; returns [(name, id token)]."""
        users = []
        for index in range(count):
            name, password = "%s%d" % (prefix, index), "%s-Passw0rd!%d" % (prefix.capitalize(), index)
            cognito(self.identity, "SignUp", {"ClientId": "swnshoplocalclient", "Username": name, "Password": password})
            users.append((name, self.sign_in(name, password)))
        return users

    def stop(self):
        for service in self.services:
            service.stop()
        for database in ["identity", "product", "basket", "ordering", "payment", "bus", "gateway"]:
            subprocess.call([PSQL, "%s/postgres" % PG_URL, "-qc", "DROP DATABASE IF EXISTS %s_%s WITH (FORCE)" % (RUN, database)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- counters from /metrics (Prometheus text) ---------------------------------------------------------------

def metric_samples(text, family):
    """{labels text: value} of the samples of counter `family` (named `family` or `family_total`)."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(family):
            continue
        match = re.match(r"^(%s(?:_total)?)(\{[^}]*\})?\s+(\S+)" % re.escape(family), line)
        if match:
            try:
                samples[match.group(2) or ""] = samples.get(match.group(2) or "", 0.0) + float(match.group(3))
            except ValueError:
                pass
    return samples


def label(labels, name):
    match = re.search(r'%s="([^"]*)"' % re.escape(name), labels)
    return match.group(1) if match else ""


def sample_metrics(service, wait=0.1):
    """Reads the process's counters (a gateway: `gateway_requests`, `gateway_upstream_retries` and
    `gateway_upstream_ejections` on its METRICS_PORT; a service: `bus_messages_handled` on its own port) and
    keeps, per process id and sample, the largest value seen. Skips a process the test is stopping or
    starting (its lock held) or that does not answer."""
    if not service.lock.acquire(timeout=wait):
        return False
    try:
        process = service.process
        if process is None or process.poll() is not None:
            return False
        if service.name == "gateway":
            url, families = "http://127.0.0.1:%d/metrics" % service.metrics_port, ["gateway_requests", "gateway_upstream_retries",
                                                                                   "gateway_upstream_ejections"]
        else:
            url, families = service.url + "/metrics", ["bus_messages_handled"]
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                text = response.read().decode(errors="replace")
        except Exception:
            return False
        seen = service.samples.setdefault(process.pid, {})
        for family in families:
            for labels, value in metric_samples(text, family).items():
                seen[(family, labels)] = max(seen.get((family, labels), 0.0), value)
        return True
    finally:
        service.lock.release()


def counted(service, family, by=None):
    """Counter `family` summed over the process's lifetimes; with `by` (a label), {label value: sum}."""
    totals = {}
    for seen in service.samples.values():
        for (name, labels), value in seen.items():
            if name == family:
                group_ = label(labels, by) if by else ""
                totals[group_] = totals.get(group_, 0.0) + value
    return totals if by else totals.get("", 0.0)


def outage_phase(stack, tokens, worker, lock, accepted, failures, before_stop=None):
    """Postgres stopped for OUTAGE_SECONDS while checkouts keep coming: every process must stay up, answer
    503 with Retry-After at once, end within its grace period on SIGTERM, and serve again soon after the
    database is back. Returns a line of figures; appends to `failures`. `before_stop(service)`: called
    before the SIGTERM (replicas mode: reads its counters)."""
    product, payment = stack.product, stack.payment
    product_id = psql("product", "SELECT id FROM products ORDER BY name LIMIT 1")[0][0]
    stop_load = threading.Event()
    numbers = iter(range(ORDERS, ORDERS * 10))  # more orders, with keys of their own
    load = [threading.Thread(target=worker, args=(name, token, stop_load, numbers)) for name, token in tokens[:4]]
    for thread in load:
        thread.start()
    time.sleep(2)
    answers, slowest, no_retry_after = {}, 0.0, 0
    pg_ctl("-m", "immediate", "stop")
    down_at = time.time()
    log("Postgres stopped for %.0f s" % OUTAGE_SECONDS)
    term_seconds = None
    while time.time() - down_at < OUTAGE_SECONDS:
        for url in [product.url + "/product/" + product_id] + [s.url + "/ready" for s in stack.services if s.process.poll() is None]:
            begun = time.time()
            request = urllib.request.Request(url)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except urllib.error.HTTPError as error:
                status, retry_after = error.code, error.headers.get("Retry-After")
            except Exception:
                status, retry_after = "no answer", None
            took = time.time() - begun
            answers[status] = answers.get(status, 0) + 1
            if time.time() - down_at > 1:  # the first second: connections still finding out
                slowest = max(slowest, took)
                if "/product/" in url and status == 503 and not retry_after:
                    no_retry_after += 1
        if term_seconds is None and time.time() - down_at > OUTAGE_SECONDS / 2:
            # SIGTERM while the database is unreachable: the process still ends within its grace period.
            if before_stop:
                before_stop(payment)
            term_seconds = payment.terminate() or float("inf")
            log("%s ended %.2f s after SIGTERM with the database down" % (payment.label, term_seconds))
        time.sleep(0.2)
    pg_ctl("start")
    up_at = time.time()
    payment.start()  # its own start waits for /ready
    serving = None
    while time.time() - up_at < 60:
        ready = all(call("GET", s.url + "/ready", timeout=2)[0] == 200 for s in stack.services)
        if ready and call("GET", product.url + "/product/" + product_id, timeout=2)[0] == 200:
            serving = time.time() - up_at
            break
        time.sleep(0.1)
    time.sleep(3)
    stop_load.set()
    for thread in load:
        thread.join()
    if serving is None or serving > 15:
        failures.append("not serving again within 15 s of Postgres's return (%s)" % serving)
    if slowest > 1.0:
        failures.append("an answer during the outage took %.2f s (promptly: under 1 s)" % slowest)
    if no_retry_after:
        failures.append("%d 503 answers without Retry-After" % no_retry_after)
    if 200 in answers and answers.get(503, 0) == 0:
        failures.append("no 503 during the outage: %s" % answers)
    if term_seconds is None or term_seconds > 10:
        failures.append("%s did not end within 10 s of SIGTERM during the outage (%s)" % (payment.label, term_seconds))
    return "answers %s, slowest %.3f s; SIGTERM → exit in %.2f s; every service ready and serving %.1f s after Postgres came back" % (
        ", ".join("%s ×%d" % (k, v) for k, v in sorted(answers.items(), key=str)), slowest, term_seconds or -1, serving or -1)


def replicas_checks(stack, products, status_of, failures):
    """Replicas mode, once the sagas settled: every consuming replica handled messages; no event took
    effect twice (an order's or a payment's status twice in its history, a reservation applied twice).
    Appends to `failures`; returns the lines of figures to print."""
    consumers = ["product-service", "basket-service", "ordering-service", "payment-service"]
    for service in stack.services:
        if service.name in consumers + ["gateway"]:
            if not sample_metrics(service, wait=10):
                log("could not read the metrics of %s at the end" % service.label)
    lines = ["replicas: %s; gateways %d (READY_REFRESH_MS 500, rate limits shared in %s_gateway)" % (
        ", ".join("%s %d" % (name, len(group)) for name, group in stack.replicas.items() if name != "gateway"), len(stack.gateways), RUN)]
    lines.append("kills per replica: " + ", ".join("%s %d" % (s.label, s.kills) for s in stack.services if s.name != "identity"))
    for gateway in stack.gateways:
        by_status = counted(gateway, "gateway_requests", by="http_response_status_code")
        lines.append("requests through %s (gateway_requests): %d (%s); retried on another replica %d, replicas ejected %d" % (
            gateway.label, sum(by_status.values()), ", ".join("%s ×%d" % (code, n) for code, n in sorted(by_status.items())),
            counted(gateway, "gateway_upstream_retries"), counted(gateway, "gateway_upstream_ejections")))
    for name in consumers:
        parts = []
        for service in stack.replicas[name]:
            by_queue = counted(service, "bus_messages_handled", by="queue")
            total = sum(by_queue.values())
            parts.append("%s %d (%s)" % (service.label, total, ", ".join("%s %d" % kv for kv in sorted(by_queue.items())) or "-"))
            if total <= 0:
                failures.append("%s handled no message over the run (bus_messages_handled)" % service.label)
        lines.append("messages handled: " + "; ".join(parts))

    # No event published twice in effect.
    twice = psql("ordering", "SELECT order_id, status, count(*) FROM order_status_history GROUP BY 1, 2 HAVING count(*) > 1")
    for order_id, status, count in twice[:10]:
        failures.append("order %s has status %s %s times in order_status_history" % (order_id, status, count))
    if len(twice) > 10:
        failures.append("... %d (order, status) pairs twice in order_status_history in all" % len(twice))
    paid_twice = psql("payment", "SELECT order_id, status, count(*) FROM payment_history GROUP BY 1, 2 HAVING count(*) > 1")
    for order_id, status, count in paid_twice[:10]:
        failures.append("payment of order %s has status %s %s times in payment_history" % (order_id, status, count))
    if len(paid_twice) > 10:
        failures.append("... %d (order, status) pairs twice in payment_history in all" % len(paid_twice))
    # stock_reservations holds one row per order (its primary key); a reservation applied twice shows as stock
    # taken twice: for every product, start - stock must be the units of the committed reservations, and a
    # reservation is committed exactly when its order is Completed.
    reservations = psql("product", "SELECT order_id, status, lines FROM stock_reservations")
    committed_units, by_status = {}, {}
    committed_orders = set()
    for order_id, status, lines_json in reservations:
        by_status[status] = by_status.get(status, 0) + 1
        if order_id not in status_of:
            failures.append("reservation of unknown order %s (%s)" % (order_id, status))
        if status == "committed":
            committed_orders.add(order_id)
            if status_of.get(order_id) != "Completed":
                failures.append("committed reservation of %s order %s" % (status_of.get(order_id), order_id))
            for line in json.loads(lines_json):
                committed_units[line["productId"].lower()] = committed_units.get(line["productId"].lower(), 0) + line["quantity"]
    for order_id, order_status in status_of.items():
        if order_status == "Completed" and order_id not in committed_orders:
            failures.append("Completed order %s without a committed reservation" % order_id)
    for pid, stock in psql("product", "SELECT id, stock FROM products"):
        if pid.lower() in products and products[pid.lower()] - int(stock) != committed_units.get(pid.lower(), 0):
            failures.append("product %s: %d units taken, the committed reservations hold %d (a reservation applied twice?)" % (
                pid, products[pid.lower()] - int(stock), committed_units.get(pid.lower(), 0)))
    lines.append("applied twice: (order, status) pairs twice in order_status_history %d, in payment_history %d; reservations %s "
                 "(one per order; stock taken = committed units for every product)" % (
                     len(twice), len(paid_twice), ", ".join("%s %d" % kv for kv in sorted(by_status.items()))))
    return lines


def main():
    stack = Stack(replicas=REPLICAS, gateways=GATEWAYS)
    identity, product, basket, ordering, payment = stack.identity, stack.product, stack.basket, stack.ordering, stack.payment
    services = stack.services
    failures = []
    try:
        stack.start()
        log("services up; logs in " + WORK)
        admin = stack.admin()
        tokens = stack.customers("chaos", WORKERS)
        # Stock close to the demand: about 60 % of what the orders ask for in total.
        products = {}
        for index in range(5):
            stock = int(ORDERS * 2.0 * 0.6 / 5)
            status, body = call("POST", product.url + "/product", {"name": "Chaos %d" % index, "price": 9.99 + index, "category": "Chaos", "stock": stock}, admin)
            assert status == 201, (status, body)
            products[body["id"].lower()] = stock
        ticker = None
        if REPLICAS_MODE:
            # A product nobody orders whose price changes twice a second: catalog events keep reaching the
            # basket replicas (their only queue, basket-catalog, carries product created / price changed / deleted).
            status, body = call("POST", product.url + "/product", {"name": "Chaos ticker", "price": 1.0, "category": "Ticker", "stock": 1}, admin)
            assert status == 201, (status, body)
            ticker = body["id"].lower()
        deadline = time.time() + 30
        while scalar("basket", "SELECT count(*) FROM catalog_products") < len(products) + (1 if ticker else 0) and time.time() < deadline:
            time.sleep(0.1)

        accepted = set()
        lock = threading.Lock()
        counter = iter(range(ORDERS))
        stop_chaos = threading.Event()
        stop_watching = threading.Event()
        retries = [0]
        throttled = [0]  # 429 answers of the gateways (retried after a pause)
        pg_restarts = []  # seconds each crash-restart of Postgres took
        counted_services = [s for s in services if s.name in ("gateway", "product-service", "basket-service", "ordering-service", "payment-service")]
        # Where the workers' calls go: basket-service, or in replicas mode the gateways, alternating per call;
        # a gateway whose connection failed is left alone for a second (the next call goes to the other).
        gateway_avoided_until = {}

        def entry_point(turn):
            if not REPLICAS_MODE:
                return basket.url
            now = time.time()
            for _ in range(len(stack.gateways)):
                gateway = stack.gateways[turn[0] % len(stack.gateways)]
                turn[0] += 1
                if gateway_avoided_until.get(gateway.url, 0) <= now:
                    return gateway.url
            return gateway.url

        def watcher():
            # A process that ends without the test stopping it is a failure (a crash on a database restart,
            # say); it is started again so that the run goes on. In replicas mode it also reads every
            # process's counters every 2 s (what a crashed process counted is then mostly kept).
            last_sample = 0.0
            while not stop_watching.wait(0.25):
                for service in services:
                    try:
                        service.check_exited()
                    except Exception as error:  # its restart failed; tried again on the next round
                        log("restarting %s failed: %s" % (service.label, error))
                if REPLICAS_MODE and time.time() - last_sample > 2:
                    last_sample = time.time()
                    for service in counted_services:
                        sample_metrics(service)

        def price_ticker():
            prices, turn = [1.0, 2.0], 0
            while not stop_ticker.wait(0.5):
                turn += 1
                target = stack.replicas["product-service"][turn % len(stack.replicas["product-service"])]
                try:
                    call("PUT", "%s/product/%s" % (target.url, ticker), {"name": "Chaos ticker", "price": prices[turn % 2], "category": "Ticker"},
                         admin, timeout=5)
                except Exception:
                    pass  # that replica is down, or Postgres: the next tick goes to the other

        def worker(name, token, stop=None, numbers=None):
            turn = [int(name.lstrip("chaos") or 0)]  # where this worker's alternation over the gateways starts
            while stop is None or not stop.is_set():
                with lock:
                    n = next(numbers or counter, None)
                if n is None:
                    return
                lines = [{"productId": pid, "quantity": random.randint(1, 3)} for pid in random.sample(list(products), random.randint(1, 2))]
                card = random.choices([c for c, _ in CARDS], [w for _, w in CARDS])[0]
                key = "chaos-%s-%d" % (name, n)
                body = {"userName": name, "firstName": "C", "lastName": "H", "email": "c@example.com", "address": "1 Chaos St",
                        "paymentMethod": "card", "cardInfo": card}
                fill_basket = True
                for attempt in range(200):
                    base = None
                    try:
                        if fill_basket:
                            base = entry_point(turn)
                            status, _ = call("POST", base + "/basket", {"userName": name, "items": lines}, token, timeout=5)
                            if status == 429:
                                raise Throttled()
                            if status != 200:
                                raise RuntimeError("basket %s" % status)
                            fill_basket = False
                        base = entry_point(turn)
                        status, answer = call("POST", base + "/basket/checkout", body, token, {"Idempotency-Key": key}, timeout=5)
                        if status == 202:
                            with lock:
                                accepted.add(answer["checkoutId"])
                            break
                        if status == 429:
                            raise Throttled()  # refused by the gateway, the basket untouched: only the checkout again
                        if status == 409:
                            break  # emptied by an earlier attempt whose answer was lost? the key would have replayed it
                        raise RuntimeError("checkout %s" % status)
                    except Throttled:
                        # Over the gateway's rate for this user: a retry after its Retry-After (whole seconds),
                        # not a failure.
                        with lock:
                            throttled[0] += 1
                        time.sleep(1.0)
                    except Exception as error:
                        fill_basket = True
                        if REPLICAS_MODE and base and isinstance(error, (urllib.error.URLError, OSError)) \
                                and not isinstance(error, urllib.error.HTTPError):
                            gateway_avoided_until[base] = time.time() + 1.0
                        with lock:
                            retries[0] += 1
                        time.sleep(0.2)

        def restart_postgres():
            begun = time.time()
            pg_ctl("-m", "immediate", "restart")
            pg_restarts.append(time.time() - begun)
            log("Postgres crash-restarted (%.1f s)" % pg_restarts[-1])

        def chaos():
            victims = [product, basket, ordering, payment]
            if REPLICAS_MODE:
                # Any replica of these four, and a gateway now and then when there is another to take the calls.
                victims = [s for s in services if s.name in ("product-service", "basket-service", "ordering-service", "payment-service")]
                if len(stack.gateways) > 1:
                    victims += stack.gateways
            # Postgres goes down at evenly spaced shares of the orders (e.g. 1/3 and 2/3 with two restarts).
            restart_at = [ORDERS * (i + 1) // (PG_RESTARTS + 1) for i in range(PG_RESTARTS)]
            while not stop_chaos.wait(random.uniform(1.0, 2.5)):
                with lock:
                    progress = len(accepted)
                if restart_at and progress >= restart_at[0]:
                    restart_at.pop(0)
                    restart_postgres()
                    continue
                victim = random.choice(victims)
                if REPLICAS_MODE:
                    sample_metrics(victim, wait=5)  # its counters before they are lost with the process
                victim.kill()
                time.sleep(random.uniform(0.2, 1.0))
                victim.start()
            for _ in restart_at:  # a run too short to reach them still restarts Postgres
                restart_postgres()

        started = time.time()
        stop_ticker = threading.Event()
        ticker_thread = threading.Thread(target=price_ticker, daemon=True)
        if ticker:
            ticker_thread.start()
        watcher_thread = threading.Thread(target=watcher, daemon=True)
        watcher_thread.start()
        threads = [threading.Thread(target=worker, args=token) for token in tokens]
        chaos_thread = threading.Thread(target=chaos)
        chaos_thread.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop_chaos.set()
        chaos_thread.join()
        placed = time.time() - started
        log("%d checkouts accepted in %.1f s (%d retries); kills: %s; Postgres restarts: %d" % (
            len(accepted), placed, retries[0], ", ".join("%s %d" % (s.label, s.kills) for s in services if s.kills), len(pg_restarts)))

        # --- the outage: Postgres away for OUTAGE_SECONDS under load ---
        outage = outage_phase(stack, tokens, worker, lock, accepted, failures,
                              before_stop=(lambda service: sample_metrics(service, wait=5)) if REPLICAS_MODE else None)

        # Every service is up again: wait for the sagas, their compensations and the outboxes to finish.
        deadline = time.time() + 180
        while time.time() < deadline:
            open_orders = scalar("ordering", "SELECT count(*) FROM orders WHERE status NOT IN ('Completed', 'Cancelled')")
            orders = scalar("ordering", "SELECT count(*) FROM orders")
            backlog = sum(scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") for db in ["basket", "ordering", "product", "payment"])
            queued = scalar("bus", "SELECT count(*) FROM bus_messages WHERE queue NOT LIKE '%-dlq'")
            reserved = scalar("product", "SELECT count(*) FROM stock_reservations WHERE status = 'reserved'")
            pending = scalar("payment", "SELECT count(*) FROM payments WHERE state = 'pending'")
            if orders == len(accepted) and open_orders == 0 and backlog == 0 and queued == 0 and reserved == 0 and pending == 0:
                break
            time.sleep(0.5)
        settled = time.time() - started

        stop_ticker.set()
        if ticker:
            ticker_thread.join()
        stop_watching.set()
        watcher_thread.join()
        for service in services:
            service.check_exited()
            for status in service.unexpected_exits:
                failures.append("%s exited without being killed by the test (status %s)" % (service.label, status))

        # --- invariants ---
        orders = scalar("ordering", "SELECT count(*) FROM orders")
        checkout_ids = {row[0].lower() for row in psql("ordering", "SELECT checkout_id FROM orders")}
        if {c.lower() for c in accepted} != checkout_ids or orders != len(accepted):
            failures.append("orders (%d) are not exactly the accepted checkouts (%d)" % (orders, len(accepted)))
        open_orders = scalar("ordering", "SELECT count(*) FROM orders WHERE status NOT IN ('Completed', 'Cancelled')")
        if open_orders:
            failures.append("%d orders are not terminal" % open_orders)
        sold = {}
        for (items,) in psql("ordering", "SELECT items FROM orders WHERE status = 'Completed'"):
            for line in json.loads(items):
                sold[line["productId"].lower()] = sold.get(line["productId"].lower(), 0) + line["quantity"]
        for pid, stock, in psql("product", "SELECT id, stock FROM products"):
            if pid.lower() not in products:
                continue  # the ticker (replicas mode)
            expected = products[pid.lower()]
            if int(stock) != expected - sold.get(pid.lower(), 0):
                failures.append("product %s: stock %s, expected %d - %d" % (pid, stock, expected, sold.get(pid.lower(), 0)))
            if int(stock) < 0:
                failures.append("product %s: negative stock %s" % (pid, stock))
        left = scalar("product", "SELECT count(*) FROM stock_reservations WHERE status = 'reserved'")
        if left:
            failures.append("%d reservations still open" % left)
        status_of = {row[0]: row[1] for row in psql("ordering", "SELECT order_id, status FROM orders")}
        charges = psql("payment", "SELECT order_id, state FROM payments")
        state_of = {order_id: state for order_id, state in charges}
        for order_id, state in charges:
            order_status = status_of.get(order_id)
            if state == "approved" and order_status != "Completed":
                failures.append("approved charge of %s order %s" % (order_status, order_id))
            if state == "refunded" and order_status != "Cancelled":
                failures.append("refunded charge of %s order %s" % (order_status, order_id))
            if state == "pending":
                failures.append("charge of order %s still pending" % order_id)
        for order_id, order_status in status_of.items():
            if order_status == "Completed" and state_of.get(order_id) != "approved":
                failures.append("Completed order %s without an approved charge (%s)" % (order_id, state_of.get(order_id)))
        replica_lines = replicas_checks(stack, products, status_of, failures) if REPLICAS_MODE else []
        by_outcome = psql("ordering", "SELECT status, coalesce(cancellation_reason, ''), count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2")
        payments = psql("payment", "SELECT state, count(*) FROM payments GROUP BY 1 ORDER BY 1")
        dead = psql("bus", "SELECT queue, count(*) FROM bus_messages WHERE queue LIKE '%-dlq' GROUP BY 1")

        print("== chaos run (seed %d): %d orders from %d workers, %d retried calls" % (SEED, len(accepted), WORKERS, retries[0]))
        print("   kills: " + ", ".join("%s %d" % (s.label, s.kills) for s in services if s.kills))
        print("   Postgres crash-restarts (pg_ctl -m immediate restart): %d, each %s s" % (
            len(pg_restarts), ", ".join("%.1f" % t for t in pg_restarts)))
        print("   processes that exited by themselves: %s" % (", ".join(
            "%s %d" % (s.label, len(s.unexpected_exits)) for s in services if s.unexpected_exits) or "none"))
        print("   outage of %.0f s under load: %s" % (OUTAGE_SECONDS, outage))
        print("   checkouts placed in %.1f s; every saga settled %.1f s after the start" % (placed, settled))
        print("   orders: " + ", ".join("%s%s %s" % (s, " (%s)" % r if r else "", n) for s, r, n in by_outcome))
        print("   payments: " + ", ".join("%s %s" % (s, n) for s, n in payments))
        print("   stock: " + ", ".join("%s → %s (sold %d)" % (products[pid.lower()], stock, sold.get(pid.lower(), 0))
                                      for pid, stock in psql("product", "SELECT id, stock FROM products ORDER BY name") if pid.lower() in products))
        print("   dead letters: " + (", ".join("%s %s" % (q, n) for q, n in dead) or "none"))
        if REPLICAS_MODE:
            print("   429 answers of the gateways (retried): %d" % throttled[0])
        for line in replica_lines:
            print("   " + line)
        print("   invariants: " + ("all hold" if not failures else "%d broken" % len(failures)))
        for failure in failures[:20]:
            print("   ✘ " + failure)
    finally:
        stack.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
