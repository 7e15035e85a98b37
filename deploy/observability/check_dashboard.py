#!/usr/bin/env python3
"""Checks the Grafana dashboard and the Prometheus setup of deploy/observability/ without Grafana.

Static checks (no server): the dashboard JSON's panels (ids, grid, types), that every panel and target uses a
datasource uid that grafana/provisioning/datasources provisions, that every `$variable` is defined, the red
threshold of the dead-letter panels, that every metric family of README "Metrics" is on the dashboard, that
prometheus.yml's targets are the compose services on their PORTs, and `promtool check config`, `check rules`
and `test rules`.

Then a real Prometheus (the `prometheus` binary, Debian package `prometheus`) is started on a free port with a
temporary config, scraping one of:

  (default)         the snapshots in testdata/: two /metrics texts per process, captured from a real run, served
                    by a small HTTP server (the first on Prometheus's first scrape, then the second, so that
                    counters grow and rates are not zero). About 8 s; what CI runs.
  --targets J=H:P,… processes that are already running (job name = process name, e.g. gateway=127.0.0.1:8080).
  --stack           a stack of its own: scripts/chaos.py's Stack (every process from $SWN_BIN_DIR on fresh
                    databases of $PG_URL, the gateway included), with checkouts, reads, 401/404s and one poison
                    message driven through it for --duration seconds (default 20).

and every PromQL expression of the dashboard (Grafana's $__rate_interval etc. substituted) is run through its
HTTP API: it must parse, every metric and label name it uses must exist in what was scraped, it must return
data, and each legend's {{label}} must be a label of its series. The template variable's label_values too.

  --prometheus-url URL  a Prometheus that already scrapes the processes (jobs named as in prometheus.yml), e.g. the
                        compose one: http://localhost:9090
  --save-fixtures DIR   (with --stack or --targets) writes the two snapshots per process, e.g. to refresh testdata/
  --render PNG          draws the dashboard's panels, laid out as in Grafana, from query_range results of the run
                        (matplotlib); titled as a rendering of the dashboard's queries, not a Grafana screenshot
  --keep-running        leaves Prometheus (and the stack) up until Ctrl-C, to look at it in a browser

Exits 1 on any failure, printing each; the last line is "N passed, N failed".
"""
import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DASHBOARD_DIR = os.path.join(HERE, "grafana", "dashboards")
DATASOURCES = os.path.join(HERE, "grafana", "provisioning", "datasources", "datasources.yml")
DASHBOARD_PROVIDERS = os.path.join(HERE, "grafana", "provisioning", "dashboards", "dashboards.yml")
PROMETHEUS_YML = os.path.join(HERE, "prometheus.yml")
ALERTS_YML = os.path.join(HERE, "alerts.yml")
ALERTS_TEST_YML = os.path.join(HERE, "alerts_test.yml")
COMPOSE = os.path.join(ROOT, "docker-compose.yml")
TESTDATA = os.path.join(HERE, "testdata")

# The families README "Metrics" lists; each must be on the dashboard.
FAMILIES = ["hb_requests", "http_server_request_duration", "gateway_requests", "gateway_request_duration_seconds",
            "db_connections", "outbox_pending_events", "outbox_oldest_pending_age_seconds", "bus_queue_messages",
            "bus_dead_letter_messages", "orders", "saga_step_duration_seconds", "gateway_upstream_replicas",
            "gateway_upstream_ejections", "gateway_upstream_retries", "bus_messages_handled"]
VERBOSE = False
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "traces", "nodeGraph"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms", "__all"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan", "atan2", "start", "end"}


class Checks:
    def __init__(self):
        self.passed, self.failures = 0, []

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
            print("FAIL " + what, flush=True)
        return ok


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        return None
    with open(path) as f:
        return yaml.safe_load(f)


def provisioned_datasources():
    """uid → type, from the provisioning file (PyYAML if there, else its `uid:` / `type:` lines)."""
    doc = load_yaml(DATASOURCES)
    if doc is not None:
        return {d["uid"]: d["type"] for d in doc["datasources"]}
    result, uid = {}, None
    for line in open(DATASOURCES):
        m = re.match(r"\s*-?\s*(uid|type):\s*(\S+)", line)
        if m and m.group(1) == "uid":
            uid = m.group(2)
        elif m and uid:
            result[uid], uid = m.group(2), None
    return result


def dashboards():
    return {name: json.load(open(os.path.join(DASHBOARD_DIR, name)))
            for name in sorted(os.listdir(DASHBOARD_DIR)) if name.endswith(".json")}


def all_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        for inner in panel.get("panels", []):
            yield inner


def targets(dashboard):
    """(panel, target) for every query target of every panel."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def substitute(expr, rate_interval="1m"):
    """What Grafana sends for the dashboard's variables, with every service selected."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("${__rate_interval}", rate_interval)
    expr = re.sub(r"\$__interval|\$\{__interval\}", "5s", expr)
    expr = re.sub(r"\$__range|\$\{__range\}", "5m", expr)
    expr = re.sub(r"\$\{service(:\w+)?\}|\$service", ".*", expr)
    return expr


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, label names or durations."""
    e = strip_strings(expr)
    e = re.sub(r"\{[^}]*\}", " ", e)                      # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                     # range durations
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word, rest = m.group(0), e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def label_names(expr):
    e = strip_strings(expr)
    names = set()
    for block in re.findall(r"\{([^}]*)\}", e):
        names.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    for block in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", e):
        names.update(n.strip() for n in block.split(",") if n.strip())
    return names - {"__name__"}


def rects_overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


# ------------------------------------------------------------------------------------------------ static checks

def static_checks(c, promtool, compose_path=COMPOSE):
    uids = provisioned_datasources()
    c.check(uids.get("prometheus") == "prometheus" and uids.get("jaeger") == "jaeger",
            "datasources.yml provisions uid prometheus (type prometheus) and uid jaeger (type jaeger): %s" % uids)
    boards = dashboards()
    c.check(len(boards) >= 1, "a dashboard JSON in grafana/dashboards")
    used = set()
    for name, board in boards.items():
        c.check(bool(board.get("uid")) and bool(board.get("title")), "%s: uid and title" % name)
        variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
        for v in variables.values():
            ds = v.get("datasource") or {}
            if v.get("type") == "query":
                c.check(ds.get("uid") in uids and uids[ds.get("uid")] == ds.get("type"),
                        "%s: variable %s uses a provisioned datasource (%s)" % (name, v["name"], ds))
        ids, grid = set(), []
        for panel in all_panels(board):
            title = "%s: panel %r" % (name, panel.get("title"))
            c.check(panel.get("type") in PANEL_TYPES, "%s: known type (%s)" % (title, panel.get("type")))
            c.check(isinstance(panel.get("id"), int) and panel["id"] not in ids, "%s: unique integer id" % title)
            ids.add(panel.get("id"))
            g = panel.get("gridPos", {})
            ok = all(isinstance(g.get(k), int) for k in "xywh") and g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
            if c.check(ok, "%s: gridPos inside the 24 columns (%s)" % (title, g)):
                for other_title, other in grid:
                    c.check(not rects_overlap(g, other), "%s overlaps %s" % (title, other_title))
                grid.append((panel.get("title"), g))
            if panel.get("type") in ("row", "text"):
                continue
            ds = panel.get("datasource") or {}
            c.check(ds.get("uid") in uids and uids.get(ds.get("uid")) == ds.get("type"),
                    "%s: datasource %s is provisioned" % (title, ds))
            c.check(bool(panel.get("targets")), "%s: has targets" % title)
            refs = [t.get("refId") for t in panel.get("targets", [])]
            c.check(len(refs) == len(set(refs)) and all(refs), "%s: unique refIds %s" % (title, refs))
            for target in panel.get("targets", []):
                tds = target.get("datasource") or ds
                c.check(tds.get("uid") in uids and uids.get(tds.get("uid")) == tds.get("type"),
                        "%s %s: target datasource %s is provisioned" % (title, target.get("refId"), tds))
                expr = target.get("expr", "")
                if not c.check(bool(expr.strip()), "%s %s: expr" % (title, target.get("refId"))):
                    continue
                for var in re.findall(r"\$\{?(\w+)", expr):
                    c.check(var in GRAFANA_BUILTINS or var in variables, "%s %s: variable $%s is defined" % (title, target.get("refId"), var))
                used |= metric_names(substitute(expr))
            if "dead-letter" in (panel.get("title") or "").lower():
                steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
                red = [s for s in steps if s.get("color") == "red"]
                c.check(bool(steps) and steps[0].get("color") != "red" and len(red) == 1 and red[0].get("value") is not None
                        and 0 < red[0]["value"] <= 1, "%s: red threshold above 0 (steps %s)" % (title, steps))
    base = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
    for family in FAMILIES:
        c.check(family in base, "the dashboard shows %s" % family)

    providers = load_yaml(DASHBOARD_PROVIDERS)
    compose = load_yaml(compose_path) if os.path.exists(compose_path) else None
    if providers is not None and compose is not None:
        services = compose.get("services", {})
        path = providers["providers"][0]["options"]["path"]
        mounts = [str(v) for v in services.get("grafana", {}).get("volumes", [])]
        c.check(any(m.startswith("./deploy/observability/grafana/dashboards:" + path) for m in mounts),
                "compose mounts grafana/dashboards at the provider's path %s (%s)" % (path, mounts))
        for doc_service in ("prometheus", "grafana", "jaeger"):
            c.check(doc_service in services and "observability" in services[doc_service].get("profiles", []),
                    "compose service %s in the observability profile" % doc_service)
        prom = load_yaml(PROMETHEUS_YML)
        for job in prom["scrape_configs"]:
            targets = [t for static in job.get("static_configs", []) for t in static["targets"]]
            # DNS service discovery: the compose name resolves to every replica of a scaled service.
            targets += ["%s:%s" % (name, sd.get("port")) for sd in job.get("dns_sd_configs", []) for name in sd.get("names", [])]
            c.check(bool(targets), "prometheus.yml job %s has targets" % job["job_name"])
            for t in targets:
                host, port = t.rsplit(":", 1)
                env = services.get(host, {}).get("environment", {}) or {}
                c.check(host in services and port in (str(env.get("PORT")), str(env.get("METRICS_PORT"))),
                        "prometheus.yml target %s is compose service %s on its PORT or METRICS_PORT (%s)" % (t, host, env.get("PORT")))
        jobs = {j["job_name"] for j in prom["scrape_configs"]}
        swn = {name for name, s in services.items() if isinstance(s, dict) and "PORT" in (s.get("environment") or {})}
        c.check(swn <= jobs, "every compose service with a PORT is scraped (missing: %s)" % sorted(swn - jobs))
    elif providers is None:
        print("note: PyYAML missing: compose and provider cross-checks skipped", flush=True)

    if promtool:
        for args in (["check", "config", PROMETHEUS_YML], ["check", "rules", ALERTS_YML], ["test", "rules", ALERTS_TEST_YML]):
            run = subprocess.run([promtool] + args, capture_output=True, text=True, cwd=HERE)
            c.check(run.returncode == 0, "promtool %s: %s" % (" ".join(args), (run.stdout + run.stderr).strip()[-600:]))
    else:
        c.check(False, "promtool on PATH (Debian: apt-get install prometheus)")
    return boards


# ------------------------------------------------------------------------------------------------ metric sources

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


class FixtureServer:
    """Serves testdata/<job>.1.prom at /<job>/metrics on Prometheus's first scrape, then <job>.2.prom."""

    def __init__(self, directory):
        self.snapshots = {}
        for name in sorted(os.listdir(directory)):
            m = re.fullmatch(r"(.+)\.([12])\.prom", name)
            if m:
                self.snapshots.setdefault(m.group(1), {})[int(m.group(2))] = open(os.path.join(directory, name), "rb").read()
        self.scrapes = {job: 0 for job in self.snapshots}
        self.lock = threading.Lock()
        fixture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                job = self.path.strip("/").split("/")[0]
                if job not in fixture.snapshots:
                    self.send_error(404)
                    return
                with fixture.lock:
                    fixture.scrapes[job] += 1
                    n = fixture.scrapes[job]
                body = fixture.snapshots[job][1 if n == 1 else 2]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def scrape_configs(self):
        port = self.server.server_address[1]
        return [{"job_name": job, "metrics_path": "/%s/metrics" % job, "static_configs": [{"targets": ["127.0.0.1:%d" % port]}]}
                for job in sorted(self.snapshots)]

    def settled(self):
        with self.lock:
            return all(n >= 3 for n in self.scrapes.values())  # the first snapshot, then the second twice

    def stop(self):
        self.server.shutdown()


class PrometheusAPI:
    """The HTTP API of a Prometheus server at url."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def api(self, path, **params):
        url = self.url + "/api/v1/" + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return json.loads(body)
            except ValueError:
                return {"status": "error", "error": "HTTP %d %s" % (error.code, body[:200])}

    def targets_up(self):
        active = json.loads(get(self.url + "/api/v1/targets"))["data"]["activeTargets"]
        return active and all(t["health"] == "up" for t in active), active

    def stop(self):
        pass


class Prometheus(PrometheusAPI):
    """A Prometheus server of its own, on a free port, with a temporary config and storage."""

    def __init__(self, binary, scrape_configs, interval="1s"):
        self.dir = tempfile.mkdtemp(prefix="swn-prometheus-")
        self.port = free_port()
        config = {"global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
                  "scrape_configs": scrape_configs}
        path = os.path.join(self.dir, "prometheus.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.process = subprocess.Popen([binary, "--config.file=" + path, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                         "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                                        stdout=self.log, stderr=self.log)
        self.url = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                get(self.url + "/-/ready", timeout=1)
                return
            except Exception:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("prometheus did not start; log: " + open(self.log.name).read()[-2000:])

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class OwnStack:
    """scripts/chaos.py's Stack with the gateway, and a thread driving traffic through the gateway."""

    def __init__(self):
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import chaos
        self.chaos = chaos
        self.stack = chaos.Stack(gateway=True)
        self.stop_traffic = threading.Event()
        self.thread = None
        self.checkouts = 0

    def start(self):
        self.stack.start()
        gateway = self.stack.gateway.url
        call = self.chaos.call
        admin = self.stack.admin()
        users = self.stack.customers("dash", 2)
        products = []
        for index in range(3):
            status, body = call("POST", gateway + "/product", {"name": "Dashboard %d" % index, "price": 10.5 + index,
                                                               "category": "Dashboard", "stock": 100000}, admin)
            assert status == 201, (status, body)
            products.append(body["id"])
        deadline = time.time() + 30  # the basket learns the catalog through the bus
        while self.chaos.scalar("basket", "SELECT count(*) FROM catalog_products") < len(products) and time.time() < deadline:
            time.sleep(0.1)
        # One message that can never be handled: ordering moves it to its dead-letter queue at once.
        body = json.dumps({"version": "0", "id": "00000000-0000-4000-8000-000000000001", "detail-type": "CheckoutBasket",
                           "source": "com.swn.basket.checkoutbasket", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                           "resources": [], "detail": {"checkoutId": "not-a-uuid"}})
        self.chaos.psql("bus", "INSERT INTO bus_messages (id, queue, body) VALUES (gen_random_uuid(), 'ordering-checkout', '%s') "
                               "RETURNING 1" % body.replace("'", "''"))
        self.chaos.psql("bus", "SELECT 1 FROM pg_notify('swn_bus', 'ordering-checkout')")
        cards = ["4242424242424242", "4242424242424242", "4000000000000002", "4242424242424242", "4000000000009995", "4000000000000077"]

        def traffic():
            n = 0
            while not self.stop_traffic.is_set():
                for name, token in users:
                    product = products[n % len(products)]
                    call("GET", gateway + "/product")
                    call("GET", gateway + "/product/" + product)
                    call("GET", gateway + "/product/00000000-0000-4000-8000-%012d" % n)  # 404
                    call("GET", gateway + "/order/" + name)                                 # 401: no token
                    call("GET", gateway + "/no/such/route")                                 # 404 unmatched
                    call("GET", gateway + "/basket/" + name, token=token)
                    call("GET", gateway + "/order/" + name, token=token)
                    call("POST", gateway + "/basket", {"userName": name, "items": [{"productId": product, "quantity": 1 + n % 2}]}, token)
                    status, _ = call("POST", gateway + "/basket/checkout", {
                        "userName": name, "firstName": "D", "lastName": "B", "email": "d@example.com", "address": "1 Dashboard St",
                        "paymentMethod": "card", "cardInfo": cards[n % len(cards)]}, token, {"Idempotency-Key": "dash-%s-%d" % (name, n)})
                    self.checkouts += status == 202
                n += 1
                self.stop_traffic.wait(1.0)

        self.thread = threading.Thread(target=traffic, daemon=True)
        self.thread.start()

    def scrape_configs(self):
        # The gateway serves its metrics on METRICS_PORT only.
        return [{"job_name": s.name, "static_configs": [{"targets": ["127.0.0.1:%d" % (getattr(s, "metrics_port", None) or s.port)]}]}
                for s in self.stack.services]

    def stop(self):
        self.stop_traffic.set()
        if self.thread:
            self.thread.join(15)
        self.stack.stop()


def save_snapshot(scrape_configs, directory, index):
    os.makedirs(directory, exist_ok=True)
    for job in scrape_configs:
        target = job["static_configs"][0]["targets"][0]
        text = get("http://%s%s" % (target, job.get("metrics_path", "/metrics")))
        with open(os.path.join(directory, "%s.%d.prom" % (job["job_name"], index)), "wb") as f:
            f.write(text)


# ------------------------------------------------------------------------------------------------ query checks

def query_checks(c, prometheus, boards):
    names = set(prometheus.api("label/__name__/values")["data"])
    labels = set(prometheus.api("labels")["data"])
    for family in FAMILIES:
        c.check(any(n == family or n.startswith(family + "_") for n in names), "Prometheus scraped %s" % family)
    for name, board in boards.items():
        for v in board.get("templating", {}).get("list", []):
            query = v.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query or "")
            if v.get("type") == "query" and c.check(bool(m), "%s: variable %s is label_values(metric, label)" % (name, v["name"])):
                values = json.loads(get(prometheus.url + "/api/v1/label/%s/values?%s" % (
                    m.group(2), urllib.parse.urlencode({"match[]": m.group(1)}))))["data"]
                c.check(bool(values), "%s: variable %s has values (%s)" % (name, v["name"], values))
        for panel, target in targets(board):
            what = "%s: %r %s" % (name, panel.get("title"), target.get("refId"))
            expr = substitute(target["expr"])
            for metric in sorted(metric_names(expr)):
                c.check(metric in names, "%s: metric %s exists in the scraped data" % (what, metric))
            for label in sorted(label_names(expr) - {"le"}):
                c.check(label in labels, "%s: label %s exists in the scraped data" % (what, label))
            answer = prometheus.api("query", query=expr)
            if not c.check(answer.get("status") == "success", "%s: valid PromQL: %s (%s)" % (what, expr, answer.get("error"))):
                continue
            series = answer["data"]["result"]
            if answer["data"]["resultType"] != "vector":
                series = []
            c.check(bool(series), "%s returns data: %s" % (what, expr))
            if VERBOSE:
                print("%-70s %3d series  e.g. %s" % (what[:70], len(series), series[0]["value"][1] if series else "-"), flush=True)
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
                c.check(all(label in s["metric"] for s in series), "%s: legend label %s is on every series" % (what, label))


# ------------------------------------------------------------------------------------------------ rendering

def render(prometheus, board, path, start, end, subtitle):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.lines
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.patches import Rectangle

    panels = [p for p in all_panels(board)]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_w, unit_h, header = 0.95, 0.45, 1.4  # inches per grid column / row, title band
    fig_w, fig_h = 24 * unit_w, rows * unit_h + header
    fig = plt.figure(figsize=(fig_w, fig_h), facecolor="#111217")
    fig.text(0.01, 1 - 0.35 / fig_h, "swn-shop dashboard — a matplotlib rendering of the Grafana dashboard's queries "
             "(deploy/observability/grafana/dashboards/%s.json), not a Grafana screenshot" % board["uid"],
             color="white", fontsize=15, weight="bold", va="top")
    colors = {"green": "#73bf69", "red": "#f2495c", "orange": "#ff9830", "blue": "#5794f2", "yellow": "#fade2a"}
    step = max(2, int((end - start) / 300))
    start = int(start)
    grid = list(range(start, int(end) + 1, step))  # query_range's evaluation times
    window = "%ds" % max(20, 4 * step)  # Grafana's $__rate_interval: at least 4 scrape intervals
    fig.text(0.01, 1 - 0.85 / fig_h, subtitle + "; \\$__rate_interval = " + window, color="#bbbbbb", fontsize=11, va="top")

    def box(g, pad=0.06):
        left = (g["x"] * unit_w + pad) / fig_w
        top = (header + g["y"] * unit_h + pad) / fig_h
        return [left, 1 - top - (g["h"] * unit_h - 2 * pad) / fig_h, (g["w"] * unit_w - 2 * pad) / fig_w, (g["h"] * unit_h - 2 * pad) / fig_h]

    def legend_of(fmt, metric):
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt or "") or json.dumps(metric)

    def fmt_value(v, unit):
        if v != v:
            return "NaN"
        if unit == "percentunit":
            return "%.2f%%" % (100 * v)
        if unit == "s":
            return "%.0f ms" % (v * 1000) if v < 1 else "%.2f s" % v
        if unit == "reqps":
            return "%.2f req/s" % v
        return "%g" % round(v, 2)

    for panel in panels:
        g = panel["gridPos"]
        if panel["type"] == "row":
            left, bottom, _, height = box(g, 0)
            fig.text(left + 0.002, bottom + height * 0.75, panel["title"].replace("$service", "All"),
                     color="#d8d9da", fontsize=13, weight="bold", va="top")
            continue
        rect = box(g)
        if panel["type"] != "stat":  # room for the tick labels and the title inside the panel, as in Grafana
            ml, mb, mt = 0.55 / fig_w, 0.3 / fig_h, 0.1 / fig_h
            rect = [rect[0] + ml, rect[1] + mb, rect[2] - ml, rect[3] - mb - mt]
        ax = fig.add_axes(rect)
        ax.set_facecolor("#181b1f")
        for spine in ax.spines.values():
            spine.set_color("#2c3235")
        ax.set_title(panel["title"].replace("$service", "All"), color="#d8d9da", fontsize=10, loc="left")
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        unit = defaults.get("unit", "short")
        steps = defaults.get("thresholds", {}).get("steps", [])
        if panel["type"] == "stat":
            ax.set_xticks([])
            ax.set_yticks([])
            target = panel["targets"][0]
            result = prometheus.api("query", query=substitute(target["expr"], window), time=end)["data"]["result"]
            if not result:
                ax.text(0.5, 0.5, "No data", color="#888", ha="center", va="center", fontsize=14, transform=ax.transAxes)
                continue
            n = len(result)
            for i, series in enumerate(sorted(result, key=lambda s: legend_of(target.get("legendFormat"), s["metric"]))):
                value = float(series["value"][1])
                color = next((colors.get(s["color"], s["color"]) for s in reversed(steps) if s.get("value") is None or value >= s["value"]), "#5794f2")
                background = panel.get("options", {}).get("colorMode") == "background"
                if background:
                    ax.add_patch(Rectangle((i / n, 0), 1 / n - 0.01, 1, color=color, transform=ax.transAxes))
                label = legend_of(target.get("legendFormat"), series["metric"]) if target.get("legendFormat") else ""
                ax.text((i + 0.5) / n, 0.45, fmt_value(value, unit), color="white" if background else color,
                        ha="center", va="center", fontsize=20 if n < 4 else 13, weight="bold", transform=ax.transAxes)
                if label:
                    ax.text((i + 0.5) / n, 0.12, label, color="white", ha="center", fontsize=7, transform=ax.transAxes)
            continue
        lines = 0
        stacked = defaults.get("custom", {}).get("stacking", {}).get("mode") == "normal"
        style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
        if style != "off":
            for s in steps:
                if s.get("value") is not None:
                    ax.axhline(s["value"], color=colors.get(s["color"], s["color"]), linestyle="--", linewidth=1, zorder=1)
        base = None
        for target in panel["targets"]:
            answer = prometheus.api("query_range", query=substitute(target["expr"], window), start=start, end=end, step=step)
            for series in sorted(answer["data"]["result"], key=lambda s: legend_of(target.get("legendFormat"), s["metric"])):
                label = legend_of(target.get("legendFormat"), series["metric"])
                values = {round(float(t)): float(v) for t, v in series["values"]}
                xs = [(t - start) / 60 for t in grid]
                if stacked:
                    ys = [values.get(t, 0.0) for t in grid]
                    bottom = base or [0.0] * len(grid)
                    top = [b + y for b, y in zip(bottom, ys)]
                    ax.fill_between(xs, bottom, top, alpha=0.55, label=label, linewidth=0.5, zorder=2)
                    base = top
                else:
                    ax.plot(xs, [values.get(t, float("nan")) for t in grid], linewidth=1.2, label=label, zorder=3)
                lines += 1
        if "area" in style:
            low, high = ax.get_ylim()
            for s in steps:
                if s.get("value") is not None:
                    ax.axhspan(s["value"], max(high, s["value"] * 1.5), color=colors.get(s["color"], s["color"]), alpha=0.12, zorder=0)
        if lines == 0:
            ax.text(0.5, 0.5, "No data", color="#888", ha="center", va="center", fontsize=14, transform=ax.transAxes)
        ax.tick_params(colors="#9fa7b3", labelsize=7)
        ax.set_xlabel("minutes", color="#9fa7b3", fontsize=7, labelpad=1)
        if defaults.get("min") == 0:
            ax.set_ylim(bottom=0)
        if unit == "s":
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
                lambda v, _: "%g ms" % round(v * 1000, 1) if abs(v) < 1 else "%g s" % round(v, 2)))
        elif unit in ("reqps", "ops"):
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "%g/s" % round(v, 2)))
        ax.grid(color="#2c3235", linewidth=0.5)
        if lines:
            handles, labels = ax.get_legend_handles_labels()
            if len(handles) > 18:
                handles, labels = handles[:17], labels[:17] + ["… %d more" % (len(labels) - 17)]
                handles.append(matplotlib.lines.Line2D([], [], linewidth=0))
            ax.legend(handles, labels, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, ncol=1,
                      labelcolor="#d8d9da", handlelength=1.2, borderaxespad=0.2)
        # The legend sits in the right part of the panel, as Grafana's right-hand table legend.
        pos = ax.get_position()
        ax.set_position([pos.x0, pos.y0, pos.width * 0.58, pos.height])
    fig.savefig(path, dpi=70, facecolor=fig.get_facecolor())
    print("rendered " + path, flush=True)


# ------------------------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus", help="the prometheus binary")
    parser.add_argument("--promtool", default=shutil.which("promtool"))
    parser.add_argument("--fixtures", default=TESTDATA, help="directory of <job>.1.prom and <job>.2.prom (default testdata/)")
    parser.add_argument("--targets", help="job=host:port,… of running processes")
    parser.add_argument("--stack", action="store_true", help="start scripts/chaos.py's Stack and drive traffic through it")
    parser.add_argument("--prometheus-url", help="check (and --render) against this running Prometheus instead, e.g. the "
                                                 "compose one at http://localhost:9090")
    parser.add_argument("--duration", type=float, default=20,
                        help="--stack/--targets: seconds of scraping before the checks; --prometheus-url: seconds rendered")
    parser.add_argument("--save-fixtures", help="write two snapshots of every process's /metrics here")
    parser.add_argument("--render", help="write a PNG of the dashboard's panels from the run's query results")
    parser.add_argument("--compose", default=COMPOSE, help="the compose file to cross-check (default docker-compose.yml)")
    parser.add_argument("--static-only", action="store_true", help="only the checks that need no Prometheus server")
    parser.add_argument("--keep-running", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every query's series count")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose

    c = Checks()
    boards = static_checks(c, args.promtool, args.compose)
    if args.static_only:
        return finish(c)
    if not args.prometheus_url and not shutil.which(args.prometheus) and not os.path.exists(args.prometheus):
        c.check(False, "prometheus binary %s (Debian: apt-get install prometheus)" % args.prometheus)
        return finish(c)

    source, fixture, prometheus, done = None, None, None, False
    interrupted = threading.Event()

    def on_sigterm(*_):
        interrupted.set()
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.time()
    try:
        if args.prometheus_url:
            prometheus = PrometheusAPI(args.prometheus_url)
            started -= args.duration
            what = "Prometheus at %s" % prometheus.url
        else:
            if args.stack:
                source = OwnStack()
                source.start()
                configs = source.scrape_configs()
            elif args.targets:
                configs = [{"job_name": job, "static_configs": [{"targets": [target]}]}
                           for job, target in (item.split("=", 1) for item in args.targets.split(","))]
            else:
                fixture = FixtureServer(args.fixtures)
                c.check(len(fixture.snapshots) >= 6 and all(set(s) == {1, 2} for s in fixture.snapshots.values()),
                        "two snapshots per process in %s: %s" % (args.fixtures, {k: sorted(v) for k, v in fixture.snapshots.items()}))
                configs = fixture.scrape_configs()
            prometheus = Prometheus(args.prometheus, configs, "500ms" if fixture else "1s")
            print("prometheus on %s scraping %s" % (prometheus.url, ", ".join(j["job_name"] for j in configs)), flush=True)
            if fixture:
                deadline = time.time() + 20
                while not fixture.settled() and time.time() < deadline:
                    time.sleep(0.2)
                time.sleep(0.3)
            else:
                if args.save_fixtures:
                    time.sleep(min(5, args.duration / 2))
                    save_snapshot(configs, args.save_fixtures, 1)
                time.sleep(max(0, args.duration - (time.time() - started)))
                if args.save_fixtures:
                    save_snapshot(configs, args.save_fixtures, 2)
                    print("snapshots written to " + args.save_fixtures, flush=True)
                time.sleep(2)
            what = "Prometheus scraping %s" % ", ".join(j["job_name"] for j in configs)
            if source:
                what = ("a run of the stack (scripts/chaos.py's Stack, gateway included) for %.0f s: %d checkouts through the gateway, "
                        "reads, 401/404s and one poison message" % (time.time() - started, source.checkouts))
        up, active = prometheus.targets_up()
        c.check(up, "every target scraped: %s" % [(t["labels"]["job"], t["health"], t.get("lastError")) for t in active])
        query_checks(c, prometheus, boards)
        if args.render:
            for board in boards.values():
                render(prometheus, board, args.render, started, time.time(), what)
        done = True
        if args.keep_running:
            print("Prometheus: %s  (Ctrl-C to stop)" % prometheus.url, flush=True)
            while not interrupted.is_set():
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        if prometheus:
            prometheus.stop()
        if fixture:
            fixture.stop()
        if source:
            source.stop()
    if not done:
        c.check(False, "interrupted before the checks were done")
    return finish(c)


def finish(c):
    print("%d passed, %d failed" % (c.passed, len(c.failures)), flush=True)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
