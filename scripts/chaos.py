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

Prints the figures and exits 1 when an invariant does not hold.
Settings: PG_URL (default postgres://swn:swn@127.0.0.1:$PGPORT), SWN_BIN_DIR, ORDERS, WORKERS, SEED,
PG_RESTARTS, OUTAGE_SECONDS, PGDATA_DIR (the cluster scripts/postgres.sh made, default .data/postgres).
"""
import json
import os
import random
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
    def __init__(self, name, port, env):
        self.name, self.port, self.env, self.process, self.kills = name, port, env, None, 0
        self.log = open(os.path.join(WORK, name + ".log"), "ab")
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
            log("%s exited by itself with status %s; starting it again" % (self.name, status))
            self.start()

    def start(self):
        with self.lock:
            self._start()

    def _start(self):
        self.stopped_by_test = False
        env = dict(os.environ)
        for layer in (SAGA, self.env, {"PORT": str(self.port), "HOST": "127.0.0.1"}):  # later layers win
            env.update(layer)
        self.process = subprocess.Popen([os.path.join(BIN, self.name)], env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.port, timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("%s did not become ready (log: %s)" % (self.name, self.log.name))

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
    """identity, product, basket, ordering, payment (and the gateway) on fresh databases of this run."""

    def __init__(self, gateway=False, extra_env=None):
        """`extra_env`: more environment per service, by attribute name
        (`{"product": {"SEED_DEMO_CATALOG": "true"}, "gateway": {...}}`), applied over the defaults."""
        issuer_port = free_port()
        issuer = "http://127.0.0.1:%d/local_swn" % issuer_port
        common = {"BUS_MODE": "local", "BUS_DATABASE_URL": "%s/%s_bus" % (PG_URL, RUN), "COGNITO_ISSUER": issuer,
                  "COGNITO_CLIENT_ID": "swnshoplocalclient", "COGNITO_JWKS_URL": issuer + "/.well-known/jwks.json"}

        def database(name):
            return "%s/%s_%s" % (PG_URL, RUN, name)

        self.identity = Service("identity", issuer_port, dict(common, DATABASE_URL=database("identity"), TOKEN_ISSUER=issuer,
                                                              SIGN_IN_BURST="100000", PASSWORD_HASH_COST="1024"))
        self.product = Service("product-service", free_port(), dict(common, DATABASE_URL=database("product")))
        self.basket = Service("basket-service", free_port(), dict(common, DATABASE_URL=database("basket"), PRODUCT_SERVICE_URL=self.product.url))
        self.ordering = Service("ordering-service", free_port(), dict(common, DATABASE_URL=database("ordering")))
        self.payment = Service("payment-service", free_port(), dict(common, DATABASE_URL=database("payment")))
        self.services = [self.identity, self.product, self.basket, self.ordering, self.payment]
        self.gateway = None
        if gateway:
            self.gateway = Service("gateway", free_port(), dict(
                common, PRODUCT_SERVICE_URL=self.product.url, BASKET_SERVICE_URL=self.basket.url, ORDERING_SERVICE_URL=self.ordering.url,
                PAYMENT_SERVICE_URL=self.payment.url, RATE_LIMIT_USER_PER_SECOND="0", RATE_LIMIT_ADDRESS_PER_SECOND="0"))
            # The gateway's /metrics are on an internal port of their own (never its public one).
            self.gateway.metrics_port = free_port()
            self.gateway.env["METRICS_PORT"] = str(self.gateway.metrics_port)
            self.services.append(self.gateway)
        for name, env in (extra_env or {}).items():
            service = getattr(self, name, None)
            if not isinstance(service, Service):
                raise ValueError("extra_env: no service %r in this stack" % name)
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
        for database in ["identity", "product", "basket", "ordering", "payment", "bus"]:
            subprocess.call([PSQL, "%s/postgres" % PG_URL, "-qc", "DROP DATABASE IF EXISTS %s_%s WITH (FORCE)" % (RUN, database)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def outage_phase(stack, tokens, worker, lock, accepted, failures):
    """Postgres stopped for OUTAGE_SECONDS while checkouts keep coming: every process must stay up, answer
    503 with Retry-After at once, end within its grace period on SIGTERM, and serve again soon after the
    database is back. Returns a line of figures; appends to `failures`."""
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
            term_seconds = payment.terminate() or float("inf")
            log("payment-service ended %.2f s after SIGTERM with the database down" % term_seconds)
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
        failures.append("payment-service did not end within 10 s of SIGTERM during the outage (%s)" % term_seconds)
    return "answers %s, slowest %.3f s; SIGTERM → exit in %.2f s; every service ready and serving %.1f s after Postgres came back" % (
        ", ".join("%s ×%d" % (k, v) for k, v in sorted(answers.items(), key=str)), slowest, term_seconds or -1, serving or -1)


def main():
    stack = Stack()
    identity, product, basket, ordering, payment = stack.services
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
        deadline = time.time() + 30
        while scalar("basket", "SELECT count(*) FROM catalog_products") < len(products) and time.time() < deadline:
            time.sleep(0.1)

        accepted = set()
        lock = threading.Lock()
        counter = iter(range(ORDERS))
        stop_chaos = threading.Event()
        stop_watching = threading.Event()
        retries = [0]
        pg_restarts = []  # seconds each crash-restart of Postgres took

        def watcher():
            # A process that ends without the test stopping it is a failure (a crash on a database restart,
            # say); it is started again so that the run goes on.
            while not stop_watching.wait(0.25):
                for service in services:
                    try:
                        service.check_exited()
                    except Exception as error:  # its restart failed; tried again on the next round
                        log("restarting %s failed: %s" % (service.name, error))

        def worker(name, token, stop=None, numbers=None):
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
                for attempt in range(200):
                    try:
                        status, _ = call("POST", basket.url + "/basket", {"userName": name, "items": lines}, token, timeout=5)
                        if status != 200:
                            raise RuntimeError("basket %s" % status)
                        status, answer = call("POST", basket.url + "/basket/checkout", body, token, {"Idempotency-Key": key}, timeout=5)
                        if status == 202:
                            with lock:
                                accepted.add(answer["checkoutId"])
                            break
                        if status == 409:
                            break  # emptied by an earlier attempt whose answer was lost? the key would have replayed it
                        raise RuntimeError("checkout %s" % status)
                    except Exception:
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
                victim.kill()
                time.sleep(random.uniform(0.2, 1.0))
                victim.start()
            for _ in restart_at:  # a run too short to reach them still restarts Postgres
                restart_postgres()

        started = time.time()
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
            len(accepted), placed, retries[0], ", ".join("%s %d" % (s.name, s.kills) for s in services if s.kills), len(pg_restarts)))

        # --- the outage: Postgres away for OUTAGE_SECONDS under load ---
        outage = outage_phase(stack, tokens, worker, lock, accepted, failures)

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

        stop_watching.set()
        watcher_thread.join()
        for service in services:
            service.check_exited()
            for status in service.unexpected_exits:
                failures.append("%s exited without being killed by the test (status %s)" % (service.name, status))

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
        by_outcome = psql("ordering", "SELECT status, coalesce(cancellation_reason, ''), count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2")
        payments = psql("payment", "SELECT state, count(*) FROM payments GROUP BY 1 ORDER BY 1")
        dead = psql("bus", "SELECT queue, count(*) FROM bus_messages WHERE queue LIKE '%-dlq' GROUP BY 1")

        print("== chaos run (seed %d): %d orders from %d workers, %d retried calls" % (SEED, len(accepted), WORKERS, retries[0]))
        print("   kills: " + ", ".join("%s %d" % (s.name, s.kills) for s in services if s.kills))
        print("   Postgres crash-restarts (pg_ctl -m immediate restart): %d, each %s s" % (
            len(pg_restarts), ", ".join("%.1f" % t for t in pg_restarts)))
        print("   processes that exited by themselves: %s" % (", ".join(
            "%s %d" % (s.name, len(s.unexpected_exits)) for s in services if s.unexpected_exits) or "none"))
        print("   outage of %.0f s under load: %s" % (OUTAGE_SECONDS, outage))
        print("   checkouts placed in %.1f s; every saga settled %.1f s after the start" % (placed, settled))
        print("   orders: " + ", ".join("%s%s %s" % (s, " (%s)" % r if r else "", n) for s, r, n in by_outcome))
        print("   payments: " + ", ".join("%s %s" % (s, n) for s, n in payments))
        print("   stock: " + ", ".join("%s → %s (sold %d)" % (products[pid.lower()], stock, sold.get(pid.lower(), 0))
                                      for pid, stock in psql("product", "SELECT id, stock FROM products ORDER BY name")))
        print("   dead letters: " + (", ".join("%s %s" % (q, n) for q, n in dead) or "none"))
        print("   invariants: " + ("all hold" if not failures else "%d broken" % len(failures)))
        for failure in failures[:20]:
            print("   ✘ " + failure)
    finally:
        stack.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
