#!/usr/bin/env python3
"""`make chaos`: the order lifecycle under SIGKILLs, then its invariants checked in the databases.

Starts identity, product, basket, ordering, payment, shipping and notification (local bus) on fresh databases,
and a mail sink (scripts/mail_sink.py on free ports) that notification-service sends its e-mails to by SMTP, signs
up customers, and places ORDERS orders (default 1000) from WORKERS threads with a mix of test cards and
quantities close to the stock, while a chaos thread SIGKILLs a random service (product, basket, ordering,
payment, shipping or notification) every few seconds and restarts it. Checkouts that fail while basket-service is down are
retried with the same Idempotency-Key. Shipping runs with short delays (dispatch 1.5 s after the order
completed, delivery 1 s later, a return back in 0.8 s: SHIPPING below), so orders go on to Shipped and Delivered
during the run.

The customers act on their orders meanwhile (ACTION_THREADS threads): CANCEL_SHARE of the checkouts (default
0.15) are cancelled with `POST /order/{userName}/{orderId}/cancel` and the customer's token, half as soon as the
order exists, half 1.2–2.5 s after it Completed (around the dispatch: some stop the parcel, some lose the race,
some come after it left); RETURN_SHARE of the others (default 0.10) are returned with `POST
/order/{userName}/{orderId}/return` once Delivered. The order is found with `GET /order/{userName}?checkoutId=`;
a 202 or a 409 is an answer (counted), a 5xx, no connection or a 429 is retried later, like the checkouts.

Afterwards, with every service up again, it waits until every order is at rest (Cancelled, Delivered or
Returned, its saga finished), every cancel and return answered and nothing in flight (outboxes, queues, open
reservations, pending charges, shipments on their way), and checks:

  - every accepted checkout became exactly one order, and every order is at rest; its status history is a path
    of the lifecycle (Pending → StockReserved → Paid → Completed → Shipped → Delivered → ReturnRequested →
    Returned; Cancelled from Pending, StockReserved or Completed);
  - for every product: stock = start - the quantities of its orders in Completed, Shipped, Delivered or
    ReturnRequested; no stock below zero;
  - money: every approved charge belongs to such an order and each of them has one; every refunded charge
    belongs to a Cancelled or Returned order, and every Cancelled or Returned order that was paid is refunded
    (else its charge was never approved); no order both shipped (shipments.shipped_at) and refunded, except
    a Returned one;
  - shipments: one for every order that completed and none for another; Delivered ↔ delivered, Returned ↔
    returned, a Cancelled order's shipment (if any) cancelled and never shipped; the order shows the
    shipment's status, carrier and tracking number;
  - stock reservations (one per order): none left open, none applied twice; committed exactly for the orders
    that hold stock (start - stock = the committed units for every product); `returned` only for a Returned
    order or a completed one cancelled by its customer (CustomerCancelled), and for each of those;
  - the customers: an accepted cancel ends Cancelled (CustomerCancelled) or, when the parcel had left, Shipped
    with reason CancelTooLate in the history (and then Delivered); a refused one (409) came when the order was
    already Shipped or Cancelled; an accepted return ends Returned, and a Delivered order's return is never
    refused; no order is CustomerCancelled, CancelTooLate, ReturnRequested or Returned that no customer
    cancelled or returned;
  - e-mails (notification-service, its claims held for NOTIFICATION["NOTIFICATION_CLAIM_LEASE_MS"] = 3 s so that a
    killed sender's claim is taken over within the run): for every order event that happened (Completed and
    Cancelled from ordering's history, Shipped, Delivered and Returned from shipping's shipments) exactly one
    `notifications` row, `sent` (or `unconfirmed`: counted and shown), with `resends` at most 1, and no row for
    an event that did not happen; the mail sink received each of those e-mails (matched by Message-ID,
    `<{notifications.id}@swn-shop>`) at least once and at most twice, twice only when its row has resends = 1
    (or is unconfirmed), and nothing else.

The chaos also crash-restarts Postgres (`pg_ctl -m immediate restart`, PG_RESTARTS times, default 2, spread
over the run), and a watcher fails the run when any process exits without having been killed by the test.
Then an outage: Postgres stopped for OUTAGE_SECONDS (default 30) under load: every process must stay up,
answer 503 with Retry-After promptly (GET /product/{id}, /ready), exit within its grace period on SIGTERM,
and serve again within seconds of the database's return; the checkouts of that phase join the invariants.

Replicas mode (`make replicas`: REPLICAS=2 GATEWAYS=2): REPLICAS processes of every service on the same
databases and bus (each its own port) and GATEWAYS gateways, each given every replica's URL (round-robin,
ejection, READY_REFRESH_MS=500) and the run's `<RUN>_gateway` database (rate limits shared by the gateways,
left on at their defaults: a 429 is retried after a pause, never a failure). The workers check out, and the
customers cancel and return, through the gateways, alternating per call (a gateway whose connection failed is
avoided for a second: the call goes to the other). The chaos SIGKILLs any replica of product, basket,
ordering, payment, shipping and notification, and sometimes a gateway (never two processes at once, so one gateway always
serves); the Postgres crash-restarts and the outage stay as they are (the outage's SIGTERM hits the first
payment replica). A product whose price changes twice a second keeps catalog events flowing to the basket
replicas (basket-service reads only `basket-catalog`: product created, price changed, deleted). Besides the
invariants above it checks that every replica of ordering, payment, product, basket, shipping and notification handled
messages (`bus_messages_handled` from each replica's /metrics, read every few seconds, before each kill and at
the end, summed over the replica's lifetimes) and that no order has a status twice in `order_status_history`
nor a payment in `payment_history`; it prints replicas, kills per replica, requests per gateway
(`gateway_requests`) and messages handled per replica.

Prints the figures (orders per final status and cancellation reason, cancels accepted and refused, returns,
shipments, e-mails and resends, kills per service, ...) and exits 1 when an invariant does not hold.
Settings: PG_URL (default postgres://swn:swn@127.0.0.1:$PGPORT), SWN_BIN_DIR, ORDERS, WORKERS, SEED,
PG_RESTARTS, OUTAGE_SECONDS, PGDATA_DIR (the cluster scripts/postgres.sh made, default .data/postgres),
REPLICAS (default 1: one process per service, no gateway), GATEWAYS (default 2 with REPLICAS > 1, else 0),
KEEP_DATABASES=1 (the run's databases are left in place, to investigate a failure; dropped by default),
CANCEL_SHARE, RETURN_SHARE, ACTION_THREADS (default 4), VICTIMS (comma-separated service names, e.g.
notification-service: the chaos SIGKILLs only those; default all of the above). The mail sink needs aiosmtpd (PyPI; `make chaos` installs it).
"""
import calendar
import heapq
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
VICTIMS = {v.strip() for v in os.environ.get("VICTIMS", "").split(",") if v.strip()}
if VICTIMS - {"product-service", "basket-service", "ordering-service", "payment-service", "shipping-service", "notification-service", "gateway"}:
    sys.exit("chaos: VICTIMS names no service of a run: %s" % ",".join(sorted(VICTIMS)))
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
# Shipping's delays, short: a parcel leaves 1.5 s after its order completed and arrives 1 s later; a return
# arrives back 0.8 s after it was asked for.
SHIPPING = {"SHIPPING_DISPATCH_DELAY_MS": "1500", "SHIPPING_DELIVERY_DELAY_MS": "1000", "SHIPPING_RETURN_DELAY_MS": "800",
            "SHIPPING_SCAN_MS": "100"}
# notification-service's claims, short: a sender killed between claiming an e-mail and recording its outcome
# leaves a claim that another takes over (and sends once more) 3 s later, within the run.
NOTIFICATION = {"NOTIFICATION_CLAIM_LEASE_MS": "3000"}
CANCEL_SHARE = float(os.environ.get("CANCEL_SHARE", "0.15"))  # of the checkouts: half at once, half around the dispatch
RETURN_SHARE = float(os.environ.get("RETURN_SHARE", "0.10"))  # of the others, returned once Delivered
ACTION_THREADS = int(os.environ.get("ACTION_THREADS", "4"))

# The order lifecycle (Shared/Contracts/OrderLifecycle.swift).
AT_REST = ("Cancelled", "Delivered", "Returned")
HOLDS_STOCK = ("Completed", "Shipped", "Delivered", "ReturnRequested")  # units sold, money kept
TRANSITIONS = {("Pending", "StockReserved"), ("StockReserved", "Paid"), ("Paid", "Completed"), ("Completed", "Shipped"),
               ("Shipped", "Delivered"), ("Delivered", "ReturnRequested"), ("ReturnRequested", "Returned"),
               ("Pending", "Cancelled"), ("StockReserved", "Cancelled"), ("Completed", "Cancelled")}
CANCEL_TOO_LATE = "CancelTooLate"  # the reason on a Shipped entry when the customer's cancel lost the race


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


def aiosmtpd_installed():
    return subprocess.call([sys.executable, "-c", "import aiosmtpd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


class MailSink:
    """scripts/mail_sink.py on free ports (SMTP and its HTTP API), ending with this process
    (`--exit-with-parent`), keeping every message of the run (also in mail-sink.jsonl in WORK, one JSON line
    each, for a look after the run); what it prints goes to mail-sink.log in WORK."""

    def __init__(self):
        self.smtp_port, self.http_port = free_port(), free_port()
        self.process = None
        self.log = open(os.path.join(WORK, "mail-sink.log"), "ab")

    @property
    def smtp_url(self):
        return "smtp://127.0.0.1:%d" % self.smtp_port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def start(self):
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "scripts", "mail_sink.py"), "--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port),
             "--keep", "1000000", "--file", os.path.join(WORK, "mail-sink.jsonl"), "--exit-with-parent"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)
        self.log.flush()
        with open(self.log.name, errors="replace") as file:
            tail = file.read()[-2000:]
        raise RuntimeError("the mail sink did not start (%s): %s" % (self.log.name, tail.strip()))

    def messages(self):
        """Every message it received: the API's dicts (from, to, subject, headers, ...), newest first."""
        with urllib.request.urlopen(self.url + "/api/messages", timeout=120) as response:
            return json.loads(response.read())

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Stack:
    """identity, product, basket, ordering, payment (with `shipping`, shipping-service too, and then
    notification-service with a mail sink; and the gateway) on fresh databases of this run.

    With `replicas` > 1, that many processes of every service on the same databases and bus (each its own
    port): `self.replicas["product-service"]` lists them, and `self.product` etc. are the first ones. With
    `gateways` (default: 1 when `gateway`, else 0), that many gateways (`self.gateways`; `self.gateway` is the
    first). `self.services` is every process, first replicas in the order identity, product, basket,
    ordering, payment (shipping, notification), then the gateways: with one replica and one gateway (and no
    `shipping`), exactly the stack it always was. The mail sink (`self.mail_sink`) is no member of
    `self.services`."""

    ATTRIBUTES = {"identity": "identity", "product": "product-service", "basket": "basket-service",
                  "ordering": "ordering-service", "payment": "payment-service", "shipping": "shipping-service",
                  "notification": "notification-service", "gateway": "gateway"}

    def __init__(self, gateway=False, extra_env=None, replicas=1, gateways=None, shipping=None, notification=None, mail_sink=None):
        """`extra_env`: more environment per service, by attribute name
        (`{"product": {"SEED_DEMO_CATALOG": "true"}, "gateway": {...}}`), applied over the defaults (to every
        replica of that service). `shipping`: start shipping-service too (database `shipping`, its replicas
        like the others'; the gateways get SHIPPING_SERVICE_URL); `self.shipping` is its first replica, else None.
        By default (None) it does when there is a gateway and the build has shipping-service: a gateway is ready
        only when every service it forwards to has a healthy replica, shipping included.
        `notification`: start notification-service too (database `notification`, replicas like the others', the
        gateways get NOTIFICATION_SERVICE_URL); by default (None) whenever shipping-service is started and the
        build has notification-service. `mail_sink`: start scripts/mail_sink.py (`self.mail_sink`, a MailSink)
        and give notification-service its SMTP_URL; by default (None) when notification-service is started and
        aiosmtpd is installed (else its e-mails are only recorded); True fails the start without aiosmtpd."""
        gateways = gateways if gateways is not None else (1 if gateway else 0)
        if shipping is None:
            shipping = gateways > 0 and os.path.exists(os.path.join(BIN, "shipping-service"))
        if notification is None:
            notification = bool(shipping) and os.path.exists(os.path.join(BIN, "notification-service"))
        if mail_sink is None:
            mail_sink = notification and aiosmtpd_installed()
        elif mail_sink and not aiosmtpd_installed():
            raise RuntimeError("the mail sink (scripts/mail_sink.py) needs aiosmtpd: python3 -m pip install aiosmtpd (or make test-tools)")
        self.mail_sink = MailSink() if notification and mail_sink else None
        # Several replicas or gateways: the gateways take lists of replicas, refresh their view every 500 ms,
        # share their rate limits through a database of their own and keep them on (at their defaults).
        shared = replicas > 1 or gateways > 1
        ports = {name: [free_port() for _ in range(replicas)] for name in ["identity", "product-service", "basket-service",
                                                                         "ordering-service", "payment-service"]
                 + (["shipping-service"] if shipping else []) + (["notification-service"] if notification else [])}
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
        if shipping:
            # As payment-service is started: its own database, the local bus, the token settings.
            self.replicas["shipping-service"] = group("shipping-service", dict(common, DATABASE_URL=database("shipping")))
        if notification:
            # Its e-mails go to the mail sink by SMTP (recorded only without one).
            self.replicas["notification-service"] = group("notification-service", dict(
                common, DATABASE_URL=database("notification"), **({"SMTP_URL": self.mail_sink.smtp_url} if self.mail_sink else {})))
        self.identity, self.product, self.basket, self.ordering, self.payment = (
            self.replicas[name][0] for name in ["identity", "product-service", "basket-service", "ordering-service", "payment-service"])
        self.shipping = self.replicas["shipping-service"][0] if shipping else None
        self.notification = self.replicas["notification-service"][0] if notification else None
        self.services = [service for group_ in self.replicas.values() for service in group_]
        self.gateways = []
        for index in range(gateways):
            lists = {setting: ",".join(url(port) for port in ports[name]) for setting, name in [
                ("PRODUCT_SERVICE_URL", "product-service"), ("BASKET_SERVICE_URL", "basket-service"),
                ("ORDERING_SERVICE_URL", "ordering-service"), ("PAYMENT_SERVICE_URL", "payment-service"),
                ("SHIPPING_SERVICE_URL", "shipping-service"), ("NOTIFICATION_SERVICE_URL", "notification-service")] if name in ports}
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
        if self.mail_sink:
            self.mail_sink.start()
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
        if self.mail_sink:
            self.mail_sink.stop()
        if os.environ.get("KEEP_DATABASES") in ("1", "true"):
            log("kept the run's databases (KEEP_DATABASES): %s_*" % RUN)
            return
        for database in ["identity", "product", "basket", "ordering", "payment", "shipping", "notification", "bus", "gateway"]:
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


# --- the customers' cancels and returns ------------------------------------------------------------------------

def parse_time(text):
    """Seconds since the epoch of an ISO-8601 time as the services write it (`2026-12-06T10:21:00.123Z`); None
    when it is not one."""
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text or "")
    if not match:
        return None
    seconds = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)) + (0, 0, 0)) + float(match.group(7) or 0)
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[-2:]) * 60)
    return seconds


class Plan:
    """One customer's move on the order of one accepted checkout: `cancel` (`when` `now`: as soon as the order
    exists; `dispatch`: `delay` = 1.2–2.5 s after its Completed, around the parcel's dispatch) or `return`
    (as soon as it is Delivered)."""

    def __init__(self, kind, when, user, token, checkout_id, delay=0.0):
        self.kind, self.when, self.user, self.token, self.checkout_id, self.delay = kind, when, user, token, checkout_id, delay
        self.order_id = None
        self.seen = None  # the order's status when the POST was decided
        self.post_at = None  # when the POST goes (None: not decided yet)
        self.sent_at = None  # when the POST that got the definitive answer was sent
        self.answer = None  # that answer's status: 202, 409 (or another: a failure)
        self.answered_at = None
        self.uncertain = False  # an earlier POST got no answer or a 5xx: it may have taken effect
        self.skipped = None  # why no POST was sent (a return: the order ended without being Delivered)
        self.done = False
        self.failed_calls = 0  # calls in a row without an answer: the next waits 0.5, 1, then 2 s


class CustomerActions:
    """The customers' cancels and returns, on ACTION_THREADS threads of their own. `offer` a checkout once it is
    accepted: CANCEL_SHARE of them are cancelled (half as soon as the order exists, half 1.2–2.5 s after it
    Completed), RETURN_SHARE of the others returned once Delivered. Each step is one call (find the order with
    `GET /order/{userName}?checkoutId=`, read it again, or the POST); a plan that must wait (no order yet, not
    Completed or Delivered yet, a service down: no connection or a 5xx, a gateway's 429) goes back in the
    schedule. `base(turn)`: where a call goes; `avoid(base)`: told when a connection to it failed."""

    def __init__(self, base, avoid):
        self.base, self.avoid = base, avoid
        self.random = random.Random(SEED + 28)
        self.lock = threading.Condition()
        self.queue = []  # heap of (due, sequence, plan)
        self.sequence = 0
        self.busy = 0
        self.stopped = False
        self.plans = []
        self.retries = 0  # calls retried (no connection, or a 5xx)
        self.throttled = 0  # 429 answers (retried after a pause)
        self.problems = []  # unexpected answers
        self.threads = [threading.Thread(target=self.run, args=(index,), daemon=True) for index in range(ACTION_THREADS)]
        for thread in self.threads:
            thread.start()

    def offer(self, user, token, checkout_id):
        with self.lock:
            draw = self.random.random()
            if draw < CANCEL_SHARE / 2:
                plan = Plan("cancel", "now", user, token, checkout_id)
            elif draw < CANCEL_SHARE:
                plan = Plan("cancel", "dispatch", user, token, checkout_id, delay=self.random.uniform(1.2, 2.5))
            elif self.random.random() < RETURN_SHARE:
                plan = Plan("return", None, user, token, checkout_id)
            else:
                return
            self.plans.append(plan)
            self._schedule(plan, time.time())

    def _schedule(self, plan, due):
        self.sequence += 1
        heapq.heappush(self.queue, (due, self.sequence, plan))
        self.lock.notify()

    def idle(self):
        with self.lock:
            return not self.queue and self.busy == 0

    def stop(self):
        """Ends the threads; returns the plans left unfinished."""
        with self.lock:
            self.stopped = True
            self.lock.notify_all()
        for thread in self.threads:
            thread.join()
        return [plan for plan in self.plans if not plan.done]

    def run(self, index):
        turn = [index]
        while True:
            with self.lock:
                while not self.stopped and not (self.queue and self.queue[0][0] <= time.time()):
                    self.lock.wait(min(0.2, max(0.005, self.queue[0][0] - time.time())) if self.queue else 0.2)
                if self.stopped:
                    return
                _, _, plan = heapq.heappop(self.queue)
                self.busy += 1
            try:
                again = self.step(plan, turn)
            except Exception as error:  # a defect of this script: recorded, the plan dropped
                self.problem(plan, "step failed: %r" % error)
                again = None
            with self.lock:
                self.busy -= 1
                if again is None:
                    plan.done = True
                elif not self.stopped:
                    self._schedule(plan, time.time() + again)

    def problem(self, plan, text):
        with self.lock:
            self.problems.append("%s (%s) of %s's checkout %s, order %s: %s" % (
                plan.kind, plan.when or "on delivery", plan.user, plan.checkout_id, plan.order_id, text))

    def request(self, plan, method, path, turn):
        """(status, body); status None when there was no answer (no connection, reset, timeout)."""
        base = self.base(turn)
        try:
            status, body = call(method, base + path, token=plan.token, timeout=5)
        except Exception:
            self.avoid(base)
            status, body = None, None
        plan.failed_calls = plan.failed_calls + 1 if status is None or status >= 500 else 0
        return status, body

    def retry(self, plan):
        """Seconds until a call that got no answer (or a 5xx) is tried again."""
        with self.lock:
            self.retries += 1
        return min(2.0, 0.25 * 2 ** plan.failed_calls)

    def step(self, plan, turn):
        """Seconds until the plan's next step, None when it is done."""
        orders = "/order/" + plan.user
        if plan.post_at is None:
            status, body = self.request(plan, "GET", "%s?checkoutId=%s" % (orders, plan.checkout_id), turn)
            if status is None or status >= 500:
                return self.retry(plan)
            if status == 429:
                with self.lock:
                    self.throttled += 1
                return 1.0
            if status != 200 or not isinstance(body, list) or len(body) > 1:
                self.problem(plan, "GET %s?checkoutId= answered %s: %s" % (orders, status, json.dumps(body)[:300]))
                return None
            if not body:
                return 0.25  # the order is not made yet
            order = body[0]
            if plan.order_id is None:
                if str(order.get("checkoutId", "")).lower() != plan.checkout_id.lower():
                    self.problem(plan, "GET ?checkoutId= answered the order of checkout %s" % order.get("checkoutId"))
                    return None
                plan.order_id = order["orderId"].lower()
            plan.seen = order["status"]
            if plan.kind == "cancel" and plan.when == "now":
                plan.post_at = time.time()
            elif plan.kind == "cancel":
                completed = next((parse_time(entry.get("at")) for entry in order.get("statusHistory") or []
                                  if entry.get("status") == "Completed"), None)
                if order["status"] == "Cancelled":
                    plan.post_at = time.time()  # ended before it completed: the cancel is refused (409)
                elif order["status"] in ("Pending", "StockReserved", "Paid"):
                    return 0.25
                else:  # Completed or further: around the dispatch, from its Completed entry's time
                    plan.post_at = (completed or time.time()) + plan.delay
            elif order["status"] == "Delivered":
                shipment = order.get("shipment") or {}
                if shipment.get("status") != "Delivered" or not all(shipment.get(k) for k in ("carrier", "trackingNumber", "shippedAt", "deliveredAt")):
                    self.problem(plan, "a Delivered order shows shipment %s" % json.dumps(order.get("shipment")))
                plan.post_at = time.time()
            elif order["status"] in AT_REST or order["status"] == "ReturnRequested":
                plan.skipped = order["status"]
                return None
            else:
                return 0.4
            if plan.post_at > time.time():
                return plan.post_at - time.time()
        sent = time.time()
        status, body = self.request(plan, "POST", "%s/%s/%s" % (orders, plan.order_id, plan.kind), turn)
        if status is None or status >= 500:
            plan.uncertain = True
            return self.retry(plan)
        if status == 429:
            with self.lock:
                self.throttled += 1
            return 1.0
        plan.answer, plan.sent_at, plan.answered_at = status, sent, time.time()
        if status == 202 and not (isinstance(body, dict) and str(body.get("orderId", "")).lower() == plan.order_id):
            self.problem(plan, "202 without the order: %s" % json.dumps(body)[:300])
        elif status == 202 and plan.kind == "return" and body.get("status") not in ("ReturnRequested", "Returned"):
            self.problem(plan, "202 with the order %s (ReturnRequested expected)" % body.get("status"))
        elif status == 202 and plan.kind == "cancel" and not (
                (body.get("status") == "Cancelled" and body.get("cancellationReason") == "CustomerCancelled")
                or (body.get("status") == "Completed" and body.get("cancelRequested") is True)
                or any(entry.get("reason") == CANCEL_TOO_LATE for entry in body.get("statusHistory") or [])):
            # Accepted: cancelled at once, or waiting for shipping's answer, or (read back a moment later) the parcel had left.
            self.problem(plan, "202 with the order %s (%s), cancelRequested %s" % (
                body.get("status"), body.get("cancellationReason"), body.get("cancelRequested")))
        elif status not in (202, 409):
            self.problem(plan, "POST answered %s: %s" % (status, json.dumps(body)[:300]))
        return None


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


def replicas_checks(stack, failures):
    """Replicas mode, once the sagas settled: every consuming replica handled messages; no event took
    effect twice (an order's or a payment's status twice in its history; a reservation applied twice is
    checked in every mode, by `reservation_checks`). Appends to `failures`; returns the lines of figures to print."""
    consumers = [name for name in ["product-service", "basket-service", "ordering-service", "payment-service", "shipping-service",
                                   "notification-service"] if name in stack.replicas]
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
    lines.append("applied twice: (order, status) pairs twice in order_status_history %d, in payment_history %d" % (len(twice), len(paid_twice)))
    return lines


RELAY_LOCK_CLASS = 0x4F42  # OutboxPass.lockClass: the relays' advisory locks on outbox rows


def log_rows(label, database, sql):
    """Logs each row `sql` returns from `database`, after `label`."""
    for row in psql(database, sql):
        log("   %s: %s" % (label, " | ".join(row)))


def log_lines_mentioning(text):
    """Logs the last lines of each service's log that mention `text` (case-insensitive)."""
    for name in sorted(os.listdir(WORK)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(WORK, name), errors="replace") as file:
            lines = [line.strip() for line in file if text.lower() in line.lower()]
        for line in lines[-12:]:
            log("   %s: %s" % (name, line[:400]))


def trace_order(order_id):
    """Where a stuck order's messages are, for the log: its history, each outbox's unpublished rows, the bus's
    messages (dead letters too) and what the services logged about it."""
    log("trace of order %s:" % order_id)
    log_rows("history", "ordering", "SELECT status, changed_at, coalesce(reason, '') FROM order_status_history "
                                    "WHERE order_id = '%s' ORDER BY id" % order_id)
    log_rows("shipment", "shipping", "SELECT status, coalesce(due_at::text, '-'), coalesce(returned_at::text, '-') FROM shipments "
                                     "WHERE order_id = '%s'" % order_id)
    for db in ["ordering", "product", "payment", "shipping"]:
        log_rows(db + " outbox", db, "SELECT id, detail_type, attempts, coalesce(last_error, '') FROM outbox "
                                     "WHERE published_at IS NULL AND detail LIKE '%%%s%%'" % order_id)
    log_rows("bus message", "bus", "SELECT queue, receive_count, coalesce(body::jsonb->>'detail-type', '?'), sent_at, "
                                   "coalesce(dead_letter_reason, '') FROM bus_messages WHERE body LIKE '%%%s%%' ORDER BY seq" % order_id)
    log_lines_mentioning(order_id)


def trace_checkout(checkout_id):
    """Where an accepted checkout that made no order went, for the log: the basket's row of it, the basket's
    outbox, the bus's messages (dead letters too) and what the services logged about it."""
    log("trace of accepted checkout %s, which made no order:" % checkout_id)
    log_rows("basket checkout", "basket", "SELECT user_name, coalesce(idempotency_key, '-'), created_at FROM checkouts "
                                          "WHERE checkout_id = '%s'" % checkout_id)
    log_rows("basket outbox", "basket", "SELECT id, detail_type, attempts, coalesce(last_error, ''), created_at FROM outbox "
                                        "WHERE detail LIKE '%%%s%%'" % checkout_id)
    log_rows("bus message", "bus", "SELECT queue, seq, receive_count, sent_at, visible_at, coalesce(dead_letter_reason, '') "
                                   "FROM bus_messages WHERE body LIKE '%%%s%%' ORDER BY seq" % checkout_id)
    log_lines_mentioning(checkout_id)


def lifecycle_checks(products, accepted, plans, failures):
    """Once every order is at rest: the contract's invariants over the orders, their histories, payments,
    shipments and stock reservations, and what the customers' cancels and returns were answered. Appends to
    `failures`; returns the lines of figures to print."""
    def fail(text):
        failures.append(text)

    orders = {}  # order id → (status, cancellation reason, shipment status, carrier, tracking number, saga step)
    for order_id, status, reason, shipment_status, carrier, tracking, step in psql("ordering", (
            "SELECT order_id, status, coalesce(cancellation_reason, ''), coalesce(shipment_status, ''), coalesce(carrier, ''), "
            "coalesce(tracking_number, ''), saga_step FROM orders")):
        orders[order_id] = (status, reason, shipment_status, carrier, tracking, step)
    items = {row[0]: json.loads("|".join(row[1:])) for row in psql("ordering", "SELECT order_id, items FROM orders")}
    checkout_ids = {row[0].lower() for row in psql("ordering", "SELECT checkout_id FROM orders")}
    accepted_ids = {c.lower() for c in accepted}
    if accepted_ids != checkout_ids or len(orders) != len(accepted):
        fail("orders (%d) are not exactly the accepted checkouts (%d)" % (len(orders), len(accepted)))
        for checkout_id in sorted(accepted_ids - checkout_ids)[:5]:
            trace_checkout(checkout_id)
    status_of = {order_id: row[0] for order_id, row in orders.items()}
    reason_of = {order_id: row[1] for order_id, row in orders.items()}
    restless = [(order_id, status) for order_id, status in status_of.items() if status not in AT_REST]
    for order_id, status in restless[:5]:
        fail("order %s is %s, not at rest" % (order_id, status))
    for order_id, _ in restless[:3]:
        trace_order(order_id)
    if len(restless) > 5:
        fail("... %d orders not at rest in all" % len(restless))
    # A saga still going: a step waiting for a reply (a cancel waiting for shipping's answer: stoppingDispatch).
    going = [(order_id, row[0], row[5]) for order_id, row in orders.items() if row[5] != "finished"]
    for order_id, status, step in going[:5]:
        fail("%s order %s: its saga is still at step %s" % (status, order_id, step))
    if len(going) > 5:
        fail("... %d orders whose saga is not finished in all" % len(going))

    # The history: every move one the lifecycle allows, from Pending on.
    history = {}
    for order_id, status, reason, at in psql("ordering", "SELECT order_id, status, coalesce(reason, ''), extract(epoch FROM changed_at) "
                                                         "FROM order_status_history ORDER BY id"):
        history.setdefault(order_id, []).append((status, reason, float(at)))
    bad_moves = 0
    for order_id, status in status_of.items():
        path = [entry[0] for entry in history.get(order_id, [])]
        moves = list(zip(path, path[1:]))
        if not path or path[0] != "Pending" or path[-1] != status or any(move not in TRANSITIONS for move in moves):
            bad_moves += 1
            if bad_moves <= 5:
                fail("order %s (%s): history %s is not a path of the lifecycle" % (order_id, status, " → ".join(path) or "empty"))
    if bad_moves > 5:
        fail("... %d orders with such a history in all" % bad_moves)
    reached = {order_id: {entry[0] for entry in entries} for order_id, entries in history.items()}
    too_late = {order_id for order_id, entries in history.items() if any(s == "Shipped" and r == CANCEL_TOO_LATE for s, r, _ in entries)}

    # Stock: start - the units of the orders that hold stock; never below zero; no reservation left open.
    sold = {}
    for order_id, status in status_of.items():
        if status in HOLDS_STOCK:
            for line in items[order_id]:
                sold[line["productId"].lower()] = sold.get(line["productId"].lower(), 0) + line["quantity"]
    stock_of = {pid.lower(): int(stock) for pid, stock in psql("product", "SELECT id, stock FROM products")}
    for pid, start in products.items():
        if stock_of.get(pid) != start - sold.get(pid, 0):
            fail("product %s: stock %s, expected %d - %d" % (pid, stock_of.get(pid), start, sold.get(pid, 0)))
        if stock_of.get(pid, 0) < 0:
            fail("product %s: negative stock %s" % (pid, stock_of.get(pid)))

    # Money: kept ↔ approved; Cancelled or Returned → refunded or never approved; once approved, a Cancelled or
    # Returned order's payment is refunded.
    state_of = {order_id: state for order_id, state in psql("payment", "SELECT order_id, state FROM payments")}
    for order_id, state in state_of.items():
        status = status_of.get(order_id)
        if state == "approved" and status not in HOLDS_STOCK:
            fail("approved charge of %s order %s" % (status, order_id))
        if state == "refunded" and status not in ("Cancelled", "Returned"):
            fail("refunded charge of %s order %s" % (status, order_id))
        if state == "pending":
            fail("charge of order %s still pending" % order_id)
    for order_id, status in status_of.items():
        if status in HOLDS_STOCK and state_of.get(order_id) != "approved":
            fail("%s order %s without an approved charge (%s)" % (status, order_id, state_of.get(order_id)))
        if status in ("Cancelled", "Returned") and "Paid" in reached.get(order_id, ()) and state_of.get(order_id) != "refunded":
            fail("%s order %s was paid and is not refunded (%s)" % (status, order_id, state_of.get(order_id)))

    # Shipments: one per order that completed, none for another; consistent with the order.
    shipments = {}
    for order_id, state, carrier, tracking, shipped, delivered, returned, cancelled in psql("shipping", (
            "SELECT order_id, lower(status), coalesce(carrier, ''), coalesce(tracking_number, ''), shipped_at IS NOT NULL, "
            "delivered_at IS NOT NULL, returned_at IS NOT NULL, cancelled_at IS NOT NULL FROM shipments")):
        shipments[order_id] = dict(state=state, carrier=carrier, tracking=tracking, shipped=shipped == "t", delivered=delivered == "t",
                                   returned=returned == "t", cancelled=cancelled == "t")
    expected_state = {"Delivered": "delivered", "Returned": "returned", "Cancelled": "cancelled"}
    for order_id, shipment in shipments.items():
        status = status_of.get(order_id)
        if status is None:
            fail("shipment of unknown order %s (%s)" % (order_id, shipment["state"]))
            continue
        if "Completed" not in reached.get(order_id, ()):
            fail("shipment (%s) of order %s, which never completed (%s %s)" % (shipment["state"], order_id, status, reason_of[order_id]))
        if shipment["state"] != expected_state.get(status):
            fail("%s order %s has a %s shipment" % (status, order_id, shipment["state"]))
        if shipment["shipped"] and state_of.get(order_id) == "refunded" and status != "Returned":
            fail("order %s (%s) was shipped and refunded" % (order_id, status))
        if shipment["shipped"] != (status in ("Delivered", "Returned")) or shipment["delivered"] != (status in ("Delivered", "Returned")) \
                or shipment["returned"] != (status == "Returned") or shipment["cancelled"] != (status == "Cancelled"):
            fail("shipment of %s order %s: shipped_at %s, delivered_at %s, returned_at %s, cancelled_at %s" % (
                status, order_id, *("set" if shipment[k] else "null" for k in ("shipped", "delivered", "returned", "cancelled"))))
        row = orders[order_id]
        if shipment["shipped"] and not (shipment["carrier"] and shipment["tracking"]):
            fail("shipped shipment of order %s without carrier or tracking number" % order_id)
        if status in ("Delivered", "Returned") and (row[2].lower() != shipment["state"].lower() or row[3] != shipment["carrier"]
                                                    or row[4] != shipment["tracking"]):
            fail("%s order %s shows shipment %s %s %s, shipping has %s %s %s" % (
                status, order_id, row[2] or "null", row[3] or "-", row[4] or "-", shipment["state"], shipment["carrier"], shipment["tracking"]))
        if status == "Cancelled" and row[2] and row[2].lower() != "cancelled":
            fail("Cancelled order %s shows shipment %s" % (order_id, row[2]))
    for order_id, status in status_of.items():
        if "Completed" in reached.get(order_id, ()) and order_id not in shipments:
            fail("%s order %s completed and has no shipment" % (status, order_id))

    # Stock reservations (one per order): none applied twice or left behind. Committed exactly while the order
    # holds stock; `returned` only for a completed order cancelled by its customer, or returned; start - stock =
    # the units of the committed reservations for every product.
    committed_units, by_status, reserved_for = {}, {}, {}
    for row in psql("product", "SELECT order_id, status, lines FROM stock_reservations"):
        order_id, status, lines_json = row[0], row[1], "|".join(row[2:])
        reserved_for[order_id] = status
        by_status[status] = by_status.get(status, 0) + 1
        order_status = status_of.get(order_id)
        if order_status is None:
            fail("reservation of unknown order %s (%s)" % (order_id, status))
        if status == "reserved":
            fail("reservation of %s order %s still open" % (order_status, order_id))
        if status == "committed":
            if order_status not in HOLDS_STOCK:
                fail("committed reservation of %s order %s" % (order_status, order_id))
            for line in json.loads(lines_json):
                committed_units[line["productId"].lower()] = committed_units.get(line["productId"].lower(), 0) + line["quantity"]
        if status == "returned" and not (order_status == "Returned" or (order_status == "Cancelled" and reason_of.get(order_id) == "CustomerCancelled")):
            fail("returned reservation of %s (%s) order %s" % (order_status, reason_of.get(order_id), order_id))
    for order_id, status in status_of.items():
        if status in HOLDS_STOCK and reserved_for.get(order_id) != "committed":
            fail("%s order %s without a committed reservation (%s)" % (status, order_id, reserved_for.get(order_id)))
        if (status == "Returned" or (status == "Cancelled" and "Completed" in reached.get(order_id, ()))) and reserved_for.get(order_id) != "returned":
            fail("%s order %s (completed once) without a returned reservation (%s)" % (status, order_id, reserved_for.get(order_id)))
    for pid, start in products.items():
        if start - stock_of.get(pid, 0) != committed_units.get(pid, 0):
            fail("product %s: %d units taken, the committed reservations hold %d (a reservation applied twice?)" % (
                pid, start - stock_of.get(pid, 0), committed_units.get(pid, 0)))

    # The customers' cancels and returns, and what became of them.
    by_order = {}
    for plan in plans:
        if plan.order_id:
            by_order.setdefault((plan.order_id, plan.kind), plan)
    cancelled_by_us = {order_id for (order_id, kind), plan in by_order.items() if kind == "cancel" and (plan.answer or plan.uncertain)}
    returned_by_us = {order_id for (order_id, kind), plan in by_order.items() if kind == "return" and (plan.answer or plan.uncertain)}
    cancel_plans = [p for p in plans if p.kind == "cancel"]
    return_plans = [p for p in plans if p.kind == "return"]
    ended = {"CustomerCancelled": 0, "too late": 0}
    late_refused_ok = 0
    for plan in cancel_plans:
        if plan.answer is None:
            continue
        status, reason = status_of.get(plan.order_id), reason_of.get(plan.order_id)
        if plan.answer == 202:
            if status == "Cancelled" and reason == "CustomerCancelled":
                ended["CustomerCancelled"] += 1
            elif plan.order_id in too_late:
                ended["too late"] += 1
            else:
                fail("cancel of order %s accepted (202) while %s, but it ended %s %s without a %s Shipped entry" % (
                    plan.order_id, plan.seen, status, reason, CANCEL_TOO_LATE))
        elif plan.answer == 409:
            # Refused: the order was then Shipped (or further) or Cancelled already.
            answered_at = plan.answered_at + 0.05
            if not any(s in ("Shipped", "Delivered", "ReturnRequested", "Returned", "Cancelled") and at <= answered_at
                       for s, _, at in history.get(plan.order_id, [])):
                fail("cancel of order %s refused (409) at %.3f, when its history says %s" % (
                    plan.order_id, plan.answered_at, " → ".join("%s@%.3f" % (s, at) for s, _, at in history.get(plan.order_id, []))))
            elif status == "Cancelled" and reason == "CustomerCancelled" and not plan.uncertain:
                fail("cancel of order %s refused (409), yet it ended CustomerCancelled" % plan.order_id)
            if plan.uncertain and status == "Cancelled" and reason == "CustomerCancelled":
                late_refused_ok += 1  # an earlier attempt whose answer was lost took effect
    for order_id, status in status_of.items():
        if reason_of[order_id] == "CustomerCancelled" and order_id not in cancelled_by_us:
            fail("order %s is CustomerCancelled and no customer cancelled it" % order_id)
        if order_id in too_late and order_id not in cancelled_by_us:
            fail("order %s has a %s Shipped entry and no customer cancelled it" % (order_id, CANCEL_TOO_LATE))
        if status in ("ReturnRequested", "Returned") and order_id not in returned_by_us:
            fail("order %s is %s and no customer returned it" % (order_id, status))
    for plan in return_plans:
        if plan.answer == 202 and status_of.get(plan.order_id) != "Returned":
            fail("return of order %s accepted (202), but it ended %s" % (plan.order_id, status_of.get(plan.order_id)))
        if plan.answer == 409 and not (plan.uncertain and status_of.get(plan.order_id) == "Returned"):
            fail("return of Delivered order %s refused (409); it ended %s" % (plan.order_id, status_of.get(plan.order_id)))

    def count(selection):
        return sum(1 for plan in plans if selection(plan))

    # How long the parcels took (SHIPPING's delays, plus what a killed process or a database restart held up).
    timing = psql("shipping", "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY s), max(s), "
                              "percentile_disc(0.5) WITHIN GROUP (ORDER BY d), max(d), percentile_disc(0.5) WITHIN GROUP (ORDER BY r), max(r) "
                              "FROM (SELECT extract(epoch FROM shipped_at - created_at) AS s, extract(epoch FROM delivered_at - shipped_at) AS d, "
                              "extract(epoch FROM returned_at - return_requested_at) AS r FROM shipments) t")
    timing = [float(value) if value else 0.0 for value in (timing[0] if timing else [])] or [0.0] * 6
    shipment_states = {}
    for shipment in shipments.values():
        shipment_states[shipment["state"]] = shipment_states.get(shipment["state"], 0) + 1
    lines = [
        "cancels (POST /order/{userName}/{orderId}/cancel): %d asked (%d as soon as the order existed, %d 1.2–2.5 s after Completed); "
        "answered 202 %d, 409 %d (of them after a lost answer that had taken effect: %d), unfinished %d; the accepted ones ended "
        "Cancelled (CustomerCancelled) %d, Shipped too late (%s) %d" % (
            len(cancel_plans), count(lambda p: p.kind == "cancel" and p.when == "now"), count(lambda p: p.kind == "cancel" and p.when == "dispatch"),
            count(lambda p: p.kind == "cancel" and p.answer == 202), count(lambda p: p.kind == "cancel" and p.answer == 409), late_refused_ok,
            count(lambda p: p.kind == "cancel" and not p.answer), ended["CustomerCancelled"], CANCEL_TOO_LATE, ended["too late"]),
        "returns (POST /order/{userName}/{orderId}/return): %d orders picked, %d of them Delivered and returned: answered 202 %d, "
        "409 %d (each after a lost answer that had taken effect); %d never delivered; Returned at rest %d" % (
            len(return_plans), count(lambda p: p.kind == "return" and p.answer), count(lambda p: p.kind == "return" and p.answer == 202),
            count(lambda p: p.kind == "return" and p.answer == 409), count(lambda p: p.kind == "return" and p.skipped),
            sum(1 for s in status_of.values() if s == "Returned")),
        "shipments: " + (", ".join("%s %d" % kv for kv in sorted(shipment_states.items())) or "none")
        + "; stock reservations: " + ", ".join("%s %d" % kv for kv in sorted(by_status.items())),
        "parcels (median / slowest): dispatched %.1f / %.1f s after the shipment was made, delivered %.1f / %.1f s after, "
        "back %.1f / %.1f s after the return" % tuple(timing),
    ]
    return lines, status_of, sold


# The order events that each send the customer one e-mail (notification-service), by the status that marks them.
EMAIL_EVENTS = {"Completed": "OrderCompleted", "Cancelled": "OrderCancelled", "Shipped": "OrderShipped", "Delivered": "OrderDelivered",
                "Returned": "OrderReturned"}


def message_id(message):
    """The Message-ID header of a message as the mail sink's API shows it, without its angle brackets; None without one."""
    for name, value in message.get("headers") or []:
        if name.lower() == "message-id":
            return value.strip().strip("<>").strip().lower()
    return None


def notification_checks(sink, failures):
    """Once everything is at rest: one e-mail per order event that happened, exactly once in effect. The events
    come from ordering's history (Completed, Cancelled) and shipping's shipments (shipped_at, delivered_at,
    returned_at); each needs exactly one `notifications` row, `sent` or `unconfirmed`, resends ≤ 1, and there is
    no row for another; the sink received each such e-mail (by Message-ID, `<{notifications.id}@swn-shop>`)
    once, or twice when its row has resends = 1 (or is unconfirmed), and no other message. Appends to
    `failures`; returns the lines of figures to print."""
    problems = {}

    def fail(kind, text):
        problems.setdefault(kind, []).append(text)

    expected = set()
    for order_id, status in psql("ordering", "SELECT DISTINCT order_id, status FROM order_status_history WHERE status IN ('Completed', 'Cancelled')"):
        expected.add((order_id.lower(), EMAIL_EVENTS[status]))
    for order_id, shipped, delivered, returned in psql("shipping", "SELECT order_id, shipped_at IS NOT NULL, delivered_at IS NOT NULL, "
                                                                   "returned_at IS NOT NULL FROM shipments"):
        for happened, status in ((shipped, "Shipped"), (delivered, "Delivered"), (returned, "Returned")):
            if happened == "t":
                expected.add((order_id.lower(), EMAIL_EVENTS[status]))
    rows = {}  # (order id, event) -> {id, status, resends, recipient, channel, error}
    for row in psql("notification", "SELECT id, order_id, event, status, resends, recipient, channel, "
                                    "coalesce(replace(replace(last_error, E'\\n', ' '), E'\\r', ' '), '') FROM notifications"):
        key = (row[1].lower(), row[2])
        if key in rows:  # UNIQUE (order_id, event): cannot be, unless the constraint is gone
            fail("two rows", "two notifications rows for order %s %s" % key)
        rows[key] = dict(id=row[0].lower(), status=row[3], resends=int(row[4]), recipient=row[5], channel=row[6], error="|".join(row[7:]))
    messages = sink.messages()
    received = {}  # Message-ID -> [message]
    for message in messages:
        identifier = message_id(message)
        if identifier is None:
            fail("no Message-ID", "the sink received a message without a Message-ID: %s to %s" % (message.get("subject"), message.get("to")))
            continue
        received.setdefault(identifier, []).append(message)
    by_message_id = {}
    for key, row in rows.items():
        by_message_id["%s@swn-shop" % row["id"]] = (key, row)

    for key in sorted(expected):
        row = rows.get(key)
        if row is None:
            fail("missing", "order %s: %s happened and there is no notifications row (no e-mail)" % key)
            continue
        if row["status"] not in ("sent", "unconfirmed"):
            fail("not sent", "order %s %s: e-mail %s (resends %d, last error %s)" % (key + (row["status"], row["resends"], row["error"] or "-")))
        if row["resends"] > 1:
            fail("resends", "order %s %s: resends %d (at most 1)" % (key + (row["resends"],)))
    for key, row in rows.items():
        if key not in expected:
            fail("unexpected", "order %s: a %s e-mail (%s), but the event never happened" % (key[0], key[1], row["status"]))
        copies = received.get("%s@swn-shop" % row["id"], [])
        if row["status"] in ("sent", "unconfirmed") and not copies:
            fail("not received", "order %s %s: %s, but the sink never received <%s@swn-shop>" % (key + (row["status"], row["id"])))
        if len(copies) > 2:
            fail("received thrice", "order %s %s: the sink received <%s@swn-shop> %d times (at most twice)" % (key + (row["id"], len(copies))))
        elif len(copies) == 2 and not (row["resends"] == 1 or row["status"] == "unconfirmed"):
            fail("received twice", "order %s %s: the sink received <%s@swn-shop> twice, but its row is %s with resends %d" % (
                key + (row["id"], row["status"], row["resends"])))
        for copy in copies:
            if [address.lower() for address in copy.get("to") or []] != [row["recipient"].lower()]:
                fail("recipient", "order %s %s: e-mail to %s, its row says %s" % (key + (copy.get("to"), row["recipient"])))
    for identifier, copies in received.items():
        if identifier not in by_message_id:
            fail("unknown", "the sink received %d message(s) <%s> (%s) that no notifications row has" % (
                len(copies), identifier, copies[0].get("subject")))

    for kind, texts in problems.items():
        failures.extend(texts[:8])
        if len(texts) > 8:
            failures.append("... %d such (%s) in all" % (len(texts), kind))

    def count(selection):
        return sum(1 for key, row in rows.items() if selection(key, row))

    per_event = {}
    for _, event in expected:
        per_event[event] = per_event.get(event, 0) + 1
    twice = sum(1 for copies in received.values() if len(copies) == 2)
    return [
        "e-mails: %d order events happened (%s) → notifications rows %d: sent %d, unconfirmed %d, other %d; channels %s" % (
            len(expected), ", ".join("%s %d" % (e, per_event.get(e, 0)) for e in EMAIL_EVENTS.values()), len(rows),
            count(lambda k, r: r["status"] == "sent"), count(lambda k, r: r["status"] == "unconfirmed"),
            count(lambda k, r: r["status"] not in ("sent", "unconfirmed")),
            ", ".join(sorted({r["channel"] for r in rows.values()})) or "-"),
        "e-mail resends (a killed sender's claim taken over after NOTIFICATION_CLAIM_LEASE_MS %s ms): %d rows with resends = 1, of them "
        "received twice %d, once %d; the mail sink received %d messages for %d Message-IDs (twice: %d)" % (
            NOTIFICATION["NOTIFICATION_CLAIM_LEASE_MS"], count(lambda k, r: r["resends"] == 1),
            count(lambda k, r: r["resends"] == 1 and len(received.get("%s@swn-shop" % r["id"], [])) == 2),
            count(lambda k, r: r["resends"] == 1 and len(received.get("%s@swn-shop" % r["id"], [])) == 1),
            len(messages), len(received), twice),
    ]


def main():
    # notification-service (and the mail sink it sends to) when the build has it.
    notifying = os.path.exists(os.path.join(BIN, "notification-service"))
    stack = Stack(replicas=REPLICAS, gateways=GATEWAYS, shipping=True, notification=notifying, mail_sink=notifying,
                  extra_env=dict({"shipping": SHIPPING}, **({"notification": NOTIFICATION} if notifying else {})))
    product, basket, ordering, payment, shipping = stack.product, stack.basket, stack.ordering, stack.payment, stack.shipping
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
        counted_services = [s for s in services if s.name in ("gateway", "product-service", "basket-service", "ordering-service", "payment-service",
                                                              "shipping-service", "notification-service")]
        # Where the workers' calls go: basket-service, or in replicas mode the gateways, alternating per call;
        # a gateway whose connection failed is left alone for a second (the next call goes to the other).
        gateway_avoided_until = {}

        def entry_point(turn, direct=basket):
            if not REPLICAS_MODE:
                return direct.url
            now = time.time()
            for _ in range(len(stack.gateways)):
                gateway = stack.gateways[turn[0] % len(stack.gateways)]
                turn[0] += 1
                if gateway_avoided_until.get(gateway.url, 0) <= now:
                    return gateway.url
            return gateway.url

        def avoid(base):
            if REPLICAS_MODE:
                gateway_avoided_until[base] = time.time() + 1.0

        # The customers' cancels and returns: to ordering-service, or through the gateways.
        actions = CustomerActions(lambda turn: entry_point(turn, direct=ordering), avoid)

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
                                fresh = answer["checkoutId"] not in accepted
                                accepted.add(answer["checkoutId"])
                            if fresh:
                                actions.offer(name, token, answer["checkoutId"])
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
            victims = [product, basket, ordering, payment, shipping] + ([stack.notification] if stack.notification else [])
            if REPLICAS_MODE:
                # Any replica of these six, and a gateway now and then when there is another to take the calls.
                victims = [s for s in services if s.name in ("product-service", "basket-service", "ordering-service", "payment-service",
                                                             "shipping-service", "notification-service")]
                if len(stack.gateways) > 1:
                    victims += stack.gateways
            if VICTIMS:
                victims = [v for v in victims if v.name in VICTIMS]
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
        placed = time.time() - started
        # The kills go on while the customers still cancel and return these orders (at most 30 s more): the
        # lifecycle's tail (dispatch, delivery, returns) under the chaos too.
        tail_deadline = time.time() + 30
        while not actions.idle() and time.time() < tail_deadline:
            time.sleep(0.25)
        stop_chaos.set()
        chaos_thread.join()
        log("%d checkouts accepted in %.1f s (%d retries), their cancels and returns answered %.1f s later; kills: %s; "
            "Postgres restarts: %d" % (len(accepted), placed, retries[0], time.time() - started - placed,
                                       ", ".join("%s %d" % (s.label, s.kills) for s in services if s.kills), len(pg_restarts)))

        # --- the outage: Postgres away for OUTAGE_SECONDS under load ---
        outage = outage_phase(stack, tokens, worker, lock, accepted, failures,
                              before_stop=(lambda service: sample_metrics(service, wait=5)) if REPLICAS_MODE else None)

        # Every service is up again: wait until every order is at rest (Cancelled, Delivered or Returned), the
        # customers' cancels and returns answered, and nothing is left in flight (outboxes, queues, open
        # reservations, pending charges, shipments on their way, cancels waiting for shipping).
        deadline = time.time() + 240
        while True:
            restless = scalar("ordering", "SELECT count(*) FROM orders WHERE status NOT IN ('Cancelled', 'Delivered', 'Returned') "
                                          "OR saga_step <> 'finished'")
            orders = scalar("ordering", "SELECT count(*) FROM orders")
            backlog = sum(scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
                          for db in ["basket", "ordering", "product", "payment", "shipping"])
            # Messages older than a few seconds: the price ticker keeps fresh catalog events flowing until the
            # end, and a consumer deletes a handled message with its next receive (at its queue's next wake-up,
            # at most LocalBus.waitSlice later), so a young message in flight is the flow, not work left.
            left = "FROM bus_messages WHERE queue NOT LIKE '%-dlq' AND sent_at < now() - interval '5 seconds'"
            queued = scalar("bus", "SELECT count(*) " + left)
            reserved = scalar("product", "SELECT count(*) FROM stock_reservations WHERE status = 'reserved'")
            pending = scalar("payment", "SELECT count(*) FROM payments WHERE state = 'pending'")
            moving = scalar("shipping", "SELECT count(*) FROM shipments WHERE lower(status) NOT IN ('delivered', 'returned', 'cancelled')")
            # E-mails not sent yet (or whose sender's outcome is still unknown).
            mailing = scalar("notification", "SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')") if stack.notification else 0
            idle = actions.idle()
            if orders == len(accepted) and not (restless or backlog or queued or reserved or pending or moving or mailing) and idle:
                break
            if time.time() > deadline:
                log("not at rest after the deadline: %d of %d orders made, %d not at rest, outboxes %d, queued %d, reservations open %d, "
                    "charges pending %d, shipments on their way %d, e-mails pending or sending %d, customers' actions %s" % (
                        orders, len(accepted), restless, backlog, queued, reserved, pending, moving, mailing, "done" if idle else "still going"))
                # What is still queued, for the log: queue, receives, whether it is hidden and for how long, its event.
                for row in psql("bus", "SELECT queue, receive_count, round(extract(epoch FROM visible_at - now())::numeric, 1), "
                                       "round(extract(epoch FROM now() - sent_at)::numeric, 1), "
                                       "coalesce(body::jsonb->>'detail-type', '?'), receipt_handle IS NOT NULL "
                                       + left + " ORDER BY seq LIMIT 10"):
                    log("   still queued: %s, received %s times, visible in %s s, sent %s s ago, %s, claimed %s" % tuple(row))
                # What is still in an outbox, and which relay session (if any) holds it.
                for db in ["basket", "ordering", "product", "payment", "shipping"]:
                    for row in psql(db, "SELECT o.id, o.detail_type, o.attempts, round(extract(epoch FROM o.next_attempt_at - now())::numeric, 1), "
                                        "coalesce(left(o.last_error, 120), ''), coalesce((SELECT string_agg(l.pid::text || ' ' || "
                                        "coalesce(a.state, '?') || ' ' || coalesce(left(a.query, 60), ''), '; ') FROM pg_locks l "
                                        "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = %d "
                                        "AND l.objid = (o.id %% 2147483647) AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())), "
                                        "'no lock') FROM outbox o WHERE o.published_at IS NULL ORDER BY o.id LIMIT 5" % RELAY_LOCK_CLASS):
                        log("   %s outbox (id, type, attempts, due in s, error, held by): %s" % (db, " | ".join(row)))
                break
            time.sleep(0.5)
        settled = time.time() - started
        for plan in actions.stop():
            failures.append("the %s (%s) of %s's checkout %s (order %s) never got an answer" % (
                plan.kind, plan.when or "on delivery", plan.user, plan.checkout_id, plan.order_id))
        failures.extend(actions.problems)

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
        lifecycle_lines, status_of, sold = lifecycle_checks(products, accepted, actions.plans, failures)
        if stack.notification:
            if not stack.mail_sink.alive():
                failures.append("the mail sink exited during the run (%s)" % stack.mail_sink.log.name)
            lifecycle_lines += notification_checks(stack.mail_sink, failures)
        replica_lines = replicas_checks(stack, failures) if REPLICAS_MODE else []
        by_outcome = psql("ordering", "SELECT status, coalesce(cancellation_reason, ''), count(*) FROM orders GROUP BY 1, 2 ORDER BY 1, 2")
        payments = psql("payment", "SELECT state, count(*) FROM payments GROUP BY 1 ORDER BY 1")
        dead = psql("bus", "SELECT queue, count(*) FROM bus_messages WHERE queue LIKE '%-dlq' GROUP BY 1")
        kills = {}
        for service in services:
            if service.name != "identity":
                kills[service.name] = kills.get(service.name, 0) + service.kills

        print("== chaos run (seed %d): %d orders from %d workers, %d retried calls" % (SEED, len(accepted), WORKERS, retries[0]))
        print("   kills per service: " + ", ".join("%s %d" % kv for kv in kills.items()))
        if REPLICAS_MODE:
            print("   kills per process: " + ", ".join("%s %d" % (s.label, s.kills) for s in services if s.kills))
        print("   Postgres crash-restarts (pg_ctl -m immediate restart): %d, each %s s" % (
            len(pg_restarts), ", ".join("%.1f" % t for t in pg_restarts)))
        print("   processes that exited by themselves: %s" % (", ".join(
            "%s %d" % (s.label, len(s.unexpected_exits)) for s in services if s.unexpected_exits) or "none"))
        print("   outage of %.0f s under load: %s" % (OUTAGE_SECONDS, outage))
        print("   checkouts placed in %.1f s; every order at rest %.1f s after the start" % (placed, settled))
        print("   orders by final status (cancellation reason): " + ", ".join("%s%s %s" % (s, " (%s)" % r if r else "", n) for s, r, n in by_outcome))
        for line in lifecycle_lines:
            print("   " + line)
        print("   payments: " + ", ".join("%s %s" % (s, n) for s, n in payments))
        print("   stock: " + ", ".join("%s → %s (kept by orders %d)" % (products[pid.lower()], stock, sold.get(pid.lower(), 0))
                                      for pid, stock in psql("product", "SELECT id, stock FROM products ORDER BY name") if pid.lower() in products))
        print("   dead letters: " + (", ".join("%s %s" % (q, n) for q, n in dead) or "none"))
        print("   customers' calls retried (no connection or 5xx): %d; 429 answers: checkouts %d, cancels and returns %d" % (
            actions.retries, throttled[0], actions.throttled))
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
