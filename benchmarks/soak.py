#!/usr/bin/env python3
"""Soak: does any process's memory, or any plumbing table, grow with traffic?

With the executables of SWN_BIN_DIR (a release build), starts identity, product, basket, ordering,
payment and the gateway (local bus) on fresh databases, warms them up (GETs and checkouts), notes each
process's RSS ("warm"), then runs GETS (default 1,000,000; 0 skips this phase) `GET /product/{id}` with
wrk at 32 connections, then CHECKOUT_SECONDS (default 120; SOAK_MINUTES, when set, instead: that many
minutes) of checkouts at CHECKOUT_RATE/s (default 30) through the whole saga, then waits for the sagas
to finish and rests 15 s.

Every sample (every 10 s, and before/after each phase) records each process's RSS and the size of
every table of the run's databases (pg_total_relation_size: with indexes and TOAST; live rows from
pg_stat_user_tables.n_live_tup). Tables are of two kinds:
  - plumbing, which must stay bounded at a steady rate: `outbox` in every service database,
    `bus_messages` in the bus database, `order_deadlines` in the ordering database;
  - business (orders, order_status_history, payments, stock_reservations, checkouts, …), which grow with
    the orders by design: their growth per 1,000 orders is reported, never a failure.
The first third of the checkout phase is its settling period. Exits 1 when a process ends more than
25 % above its warm RSS, or when a plumbing table ends the checkout phase larger than
max(2 × its size at the end of the settling period, that size + 1 MiB). Also reports each process's RSS
slope over the last two thirds of the checkout phase (least squares, MiB per 10 minutes), the request
rates, the orders completed and the saga's checkout → Completed p50/p99. The closing table: per plumbing
table its size at the end of the settling period, its maximum over the checkout phase and at its end, its
most live rows and the verdict; per business table its growth (size, rows) per 1,000 orders; per process
its warm, highest and final RSS and that slope.
Settings: PG_URL, SWN_BIN_DIR, GETS, CHECKOUT_SECONDS, SOAK_MINUTES, CHECKOUT_RATE.
`SOAK_MINUTES=30 make soak` is the 30-minute soak at a steady rate (add GETS=0 to skip the GET phase).
"""
import math
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import chaos  # noqa: E402  (services, HTTP and SQL helpers)

GETS = int(os.environ.get("GETS", "1000000"))
CHECKOUT_SECONDS = float(os.environ.get("CHECKOUT_SECONDS", "120"))
if os.environ.get("SOAK_MINUTES"):
    CHECKOUT_SECONDS = float(os.environ["SOAK_MINUTES"]) * 60.0
CHECKOUT_RATE = float(os.environ.get("CHECKOUT_RATE", "30"))
LIMIT = 1.25
INTERVAL = 10.0  # seconds between samples
MARK = "/* soak */ "  # our own queries, told apart from the services' statements
DATABASES = ["identity", "product", "basket", "ordering", "payment", "shipping", "notification", "bus"]
PLUMBING_TABLES = {"outbox"}  # in every database that has one
PLUMBING = {("bus", "bus_messages"), ("ordering", "order_deadlines")}
MIB = 1024.0 * 1024.0


def is_plumbing(key):
    return key[1] in PLUMBING_TABLES or key in PLUMBING


def rss_mib(service):
    with open("/proc/%d/status" % service.process.pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def table_sizes():
    """{(database, table): (bytes with indexes and TOAST, live rows)} over the run's databases; a database
    that cannot be read is left out (the sample then lacks its tables)."""
    sizes = {}
    for database in DATABASES:
        try:
            rows = chaos.psql(database, MARK + """SELECT CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END,
                                                       pg_total_relation_size(relid), n_live_tup FROM pg_stat_user_tables""")
        except subprocess.CalledProcessError:
            continue
        for name, size, live in rows:
            sizes[(database, name)] = (int(size), int(live))
    return sizes


def saga_orders(since):
    """[(status, checkout → Completed in ms or None)] of the orders whose checkout came after `since`
    (as benchmarks/bench.py's orders_since)."""
    rows = chaos.psql("ordering", MARK + """
        SELECT o.status, extract(epoch FROM min(h.changed_at) FILTER (WHERE h.status = 'Completed') - o.order_date) * 1000
        FROM orders o LEFT JOIN order_status_history h ON h.order_id = o.order_id
        WHERE o.order_date >= to_timestamp(%.6f)
        GROUP BY o.order_id""" % since)
    return [(status, float(ms) if ms else None) for status, ms in rows]


def percentile(values, p):
    """Nearest rank."""
    values = sorted(values)
    return values[max(0, math.ceil(p / 100.0 * len(values)) - 1)] if values else None


def slope(points):
    """Least-squares slope of [(t, y)], or None with fewer than two distinct times."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread if spread else None


def size_text(size):
    if size is None:
        return "?"
    return "%.0f KiB" % (size / 1024.0) if size < MIB else "%.1f MiB" % (size / MIB)


def main():
    chaos.SAGA.clear()
    chaos.SAGA.update({"LOG_LEVEL": "warning"})
    stack = chaos.Stack(gateway=True)
    by_name = {s.name: s for s in stack.services}
    product, gateway = by_name["product-service"], stack.gateway
    services = stack.services
    samples = []  # (label, time, {name: MiB}, {(database, table): (bytes, live rows)})

    def sample(label):
        at = time.time()
        rss = {s.name: rss_mib(s) for s in services}
        tables = table_sizes()
        samples.append((label, at, rss, tables))
        plumbing = [v for k, v in tables.items() if is_plumbing(k)]
        print("   %-34s " % label + "  ".join("%s %.0f" % (s.name.replace("-service", ""), rss[s.name]) for s in services)
              + "  | plumbing %s, %d rows" % (size_text(sum(b for b, _ in plumbing)), sum(r for _, r in plumbing)), flush=True)
        return len(samples) - 1

    failures = []
    rates = []
    report = None
    try:
        stack.start()
        sample("started")
        admin = stack.admin()
        users = stack.customers("soak", 8)
        status, body = chaos.call("POST", product.url + "/product", {"name": "Soak", "price": 3.5, "category": "Soak", "stock": 100000000}, admin)
        assert status == 201, (status, body)
        product_id = body["id"]
        while chaos.scalar("basket", "SELECT count(*) FROM catalog_products") < 1:
            time.sleep(0.05)

        def checkouts(seconds, rate):
            stop = time.time() + seconds
            lock = threading.Lock()
            slot = [0]
            start = time.time()

            def worker(user):
                name, token = user
                while True:
                    with lock:
                        k = slot[0]
                        slot[0] += 1
                    at = start + k / rate
                    if at > stop:
                        return
                    if at > time.time():
                        time.sleep(at - time.time())
                    chaos.call("POST", gateway.url + "/basket", {"userName": name, "items": [{"productId": product_id, "quantity": 1}]}, token)
                    chaos.call("POST", gateway.url + "/basket/checkout", {
                        "userName": name, "firstName": "S", "lastName": "K", "email": "s@example.com", "address": "1 Soak St",
                        "paymentMethod": "card", "cardInfo": "4242424242424242"}, token)

            threads = [threading.Thread(target=worker, args=(u,)) for u in users]
            for t in threads:
                t.start()
            return threads

        def wrk(url, total, threads=2, connections=32, chunk=20):
            """`total` requests or more, in runs of `chunk` seconds (wrk stops by time, not by count)."""
            done, seconds = 0, 0.0
            while done < total:
                out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % chunk, url], capture_output=True, text=True).stdout
                line = next((l for l in out.splitlines() if "requests in" in l), "0 requests in 1s")
                done += int(line.split()[0])
                seconds += float(line.split()[3].rstrip("s,"))
            return done / seconds, "%d requests in %.0f s" % (done, seconds)

        # warm-up: GETs, and checkouts through every service
        wrk("%s/product/%s" % (product.url, product_id), 20000, chunk=5)
        for t in checkouts(10, CHECKOUT_RATE):
            t.join()
        time.sleep(5)
        warm_index = sample("warm (20k GETs, 10 s of checkouts)")
        warm = dict(samples[warm_index][2])

        # GETS GETs, sampled every 10 s
        done = threading.Event()

        def sampler(label):
            began = time.time()
            k = 1
            while not done.wait(max(0.0, began + k * INTERVAL - time.time())):  # on a 10 s grid: no drift
                sample("%s, %.0f s" % (label, k * INTERVAL))
                k += 1

        if GETS > 0:
            thread = threading.Thread(target=sampler, args=("during GETs",))
            thread.start()
            rate, summary = wrk("%s/product/%s" % (product.url, product_id), GETS)
            done.set()
            thread.join()
            rates.append(("GET /product/{id} on product-service, 32 connections", rate, summary))
        first = sample("after %d GETs" % GETS if GETS > 0 else "before the checkouts")
        orders_before = chaos.scalar("ordering", MARK + "SELECT count(*) FROM orders")

        # sustained checkouts through the gateway and the whole saga
        done.clear()
        thread = threading.Thread(target=sampler, args=("during checkouts",))
        before = chaos.scalar("ordering", MARK + "SELECT count(*) FROM orders WHERE status IN ('Completed', 'Shipped', 'Delivered')")
        started = time.time()
        thread.start()
        for t in checkouts(CHECKOUT_SECONDS, CHECKOUT_RATE):
            t.join()
        done.set()
        thread.join()
        end = sample("end of %.0f s of checkouts" % CHECKOUT_SECONDS)
        deadline = time.time() + 60
        while chaos.scalar("ordering", MARK + "SELECT count(*) FROM orders WHERE status NOT IN ('Completed', 'Shipped', 'Delivered', 'Cancelled')") and time.time() < deadline:
            time.sleep(0.5)
        completed = chaos.scalar("ordering", MARK + "SELECT count(*) FROM orders WHERE status IN ('Completed', 'Shipped', 'Delivered')") - before
        rates.append(("checkouts through the gateway → Completed", completed / (time.time() - started), "%d orders completed" % completed))
        time.sleep(15)
        last = sample("after the checkouts and 15 s of rest")
        orders_after = chaos.scalar("ordering", MARK + "SELECT count(*) FROM orders")
        saga = saga_orders(started)
        after = samples[last][2]
        for service in services:
            if after[service.name] > warm[service.name] * LIMIT:
                failures.append("%s ends at %.0f MiB, more than %.0f %% of its warm %.0f MiB" % (
                    service.name, after[service.name], LIMIT * 100, warm[service.name]))

        # the settling period: the first third of the checkout phase; the sample nearest its end
        settle_at = started + CHECKOUT_SECONDS / 3.0
        settle = min(range(first + 1, end + 1), key=lambda i: abs(samples[i][1] - settle_at))
        phase = samples[first + 1:end + 1]
        plumbing_rows = []
        keys = sorted({k for _, _, _, tables in samples[first:last + 1] for k in tables}, key=lambda k: (DATABASES.index(k[0]), k[1]))
        for key in [k for k in keys if is_plumbing(k)]:
            at_settle = samples[settle][3].get(key, (None, None))[0]
            at_end = samples[end][3].get(key, (None, None))[0]
            highest = max((tables[key][0] for _, _, _, tables in phase if key in tables), default=None)
            most_rows = max((tables[key][1] for _, _, _, tables in phase if key in tables), default=None)
            if at_settle is None or at_end is None:
                verdict = "not measured"
                failures.append("%s.%s: its size could not be read at the end of the settling period or of the checkouts" % key)
            else:
                bound = max(2 * at_settle, at_settle + MIB)
                verdict = "bounded" if at_end <= bound else "GROWS"
                if at_end > bound:
                    failures.append("%s.%s grows: %s at the end of the checkouts, more than max(2 × %s, %s + 1 MiB) at the end of the settling period" % (
                        key + (size_text(at_end), size_text(at_settle), size_text(at_settle))))
            plumbing_rows.append((key, at_settle, highest, at_end, most_rows, verdict))
        made = orders_after - orders_before
        business_rows = []
        for key in [k for k in keys if not is_plumbing(k)]:
            b0, r0 = samples[first][3].get(key, (0, 0))
            b1, r1 = samples[last][3].get(key, (b0, r0))
            business_rows.append((key, (b1 - b0) * 1000.0 / made if made else None, (r1 - r0) * 1000.0 / made if made else None, b1))
        slopes = {}
        for service in services:
            points = [(at, rss[service.name]) for _, at, rss, _ in samples[settle:end + 1]]
            s = slope(points)
            slopes[service.name] = s * 600.0 if s is not None else None
        report = (plumbing_rows, business_rows, slopes, made, saga, samples[settle][1] - started, warm)
    finally:
        stack.stop()
    print("== soak (%s): checkouts for %.0f s at %g/s" % (chaos.BIN, CHECKOUT_SECONDS, CHECKOUT_RATE))
    for label, rate, summary in rates:
        print("   %-52s %8.0f /s   %s" % (label, rate, summary))
    if report:
        plumbing_rows, business_rows, slopes, made, saga, settled, warm = report
        done_ms = [ms for status, ms in saga if ms is not None]
        by_status = {}
        for status, _ in saga:
            by_status[status] = by_status.get(status, 0) + 1
        print("   orders of the checkout phase: %d (%s); checkout → Completed p50 %s ms, p99 %s ms" % (
            len(saga), ", ".join("%s %d" % kv for kv in sorted(by_status.items())) or "none",
            "%.0f" % percentile(done_ms, 50) if done_ms else "-", "%.0f" % percentile(done_ms, 99) if done_ms else "-"))
        print("   %-44s %10s %10s %10s %10s  %s" % ("plumbing tables (settled %.0f s in)" % settled, "at settle", "max", "end", "max rows", "verdict"))
        for key, at_settle, highest, at_end, most_rows, verdict in plumbing_rows:
            print("   %-44s %10s %10s %10s %10s  %s" % (
                "%s.%s" % key, size_text(at_settle), size_text(highest), size_text(at_end), "?" if most_rows is None else most_rows, verdict))
        print("   %-52s %10s %10s %12s" % ("business tables: growth per 1,000 orders (%d)" % made, "size", "rows", "size at end"))
        still = []
        for key, per_size, per_rows, final in business_rows:
            if per_size is None or (abs(per_size) < 1 and abs(per_rows) < 0.5):
                still.append("%s.%s" % key)
                continue
            print("   %-52s %10s %10.0f %12s" % ("%s.%s" % key, size_text(per_size), per_rows, size_text(final)))
        if still:
            print("   unchanged: " + ", ".join(still))
        print("   %-20s %10s %10s %10s   %s" % ("RSS (MiB)", "warm", "max", "end", "slope (MiB/10 min over the last 2/3 of the checkouts)"))
        for service in services:
            values = [rss[service.name] for _, _, rss, _ in samples]
            s = slopes.get(service.name)
            print("   %-20s %10.0f %10.0f %10.0f   %s" % (service.name, warm[service.name], max(values), samples[-1][2][service.name],
                                                       "%+.2f" % s if s is not None else "-"))
    print("   verdict: " + ("every process within %.0f %% of its warm RSS; every plumbing table bounded" % (LIMIT * 100)
                             if not failures else "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
