#!/usr/bin/env python3
"""The order saga's latency and throughput on this machine, with the services of SWN_BIN_DIR
(a release build: `swift build -c release`; `SWN_BIN_DIR=$(swift build -c release --show-bin-path)`).

Starts identity, product, basket, ordering and payment (local bus) on fresh databases, then:
  1. steady: RATES checkouts/s (default 10,25,50) for SECONDS each (default 15), approving cards;
     checkout → Completed latency from the databases (the checkout's time to the `Completed` row);
  2. saturation: BURST checkouts (default 2000) from 32 client threads as fast as they go; the saga
     throughput is the rate at which orders reached `Completed`.
Prints a table. The client is Python (each checkout is two HTTP calls), which caps the offered load.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import chaos  # noqa: E402  (services, HTTP and SQL helpers)

RATES = [int(r) for r in os.environ.get("RATES", "10,25,50").split(",")]
SECONDS = float(os.environ.get("SECONDS", "15"))
BURST = int(os.environ.get("BURST", "2000"))
THREADS = 32


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    chaos.SAGA.update({"LOG_LEVEL": "warning", "QUEUE_MAX_RECEIVE_COUNT": "5"})
    for key in ["ORDER_STEP_TIMEOUT_MS", "ORDER_PAYMENT_TIMEOUT_MS", "PAYMENT_SLOW_DELAY_MS", "RETRY_BASE_DELAY_MS", "RETRY_MAX_DELAY_MS", "QUEUE_VISIBILITY_TIMEOUT_MS"]:
        chaos.SAGA.pop(key, None)
    stack = chaos.Stack()
    identity, product, basket, ordering, payment = stack.services
    rows = []
    try:
        stack.start()
        admin = stack.admin()
        users = stack.customers("bench", THREADS)
        status, body = chaos.call("POST", product.url + "/product", {"name": "Bench", "price": 12.5, "category": "Bench", "stock": 100000000}, admin)
        assert status == 201, (status, body)
        product_id = body["id"]
        while chaos.scalar("basket", "SELECT count(*) FROM catalog_products") < 1:
            time.sleep(0.05)

        def checkout(name, token):
            status, _ = chaos.call("POST", basket.url + "/basket", {"userName": name, "items": [{"productId": product_id, "quantity": 1}]}, token)
            assert status == 200, status
            status, answer = chaos.call("POST", basket.url + "/basket/checkout", {
                "userName": name, "firstName": "B", "lastName": "M", "email": "b@example.com", "address": "1 Bench St",
                "paymentMethod": "card", "cardInfo": "4242424242424242"}, token)
            assert status == 202, status
            return answer["checkoutId"]

        def wait_completed(count, timeout=300):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if chaos.scalar("ordering", "SELECT count(*) FROM orders WHERE status = 'Completed'") >= count:
                    return True
                time.sleep(0.2)
            return False

        def latencies(since):
            return [float(ms) for (ms,) in chaos.psql("ordering", """
                SELECT extract(epoch FROM h.changed_at - o.order_date) * 1000 FROM orders o
                JOIN order_status_history h ON h.order_id = o.order_id AND h.status = 'Completed'
                WHERE o.created_at >= '%s'""" % since)]

        done = 0
        # 1. steady rates (open loop: a checkout is started every 1/rate s, whatever the earlier ones do)
        for rate in RATES:
            since = chaos.psql("ordering", "SELECT now()")[0][0]
            n = int(rate * SECONDS)
            lock = threading.Lock()
            slots = iter(range(n))
            start = time.time() + 0.2

            def paced(user):
                name, token = user
                while True:
                    with lock:
                        k = next(slots, None)
                    if k is None:
                        return
                    delay = start + k / rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    checkout(name, token)

            threads = [threading.Thread(target=paced, args=(u,)) for u in users]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            offered = n / (time.time() - start)
            done += n
            wait_completed(done)
            values = latencies(since)
            rows.append(("steady %d/s" % rate, "%.0f/s offered" % offered, len(values),
                         "p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (percentile(values, 50), percentile(values, 99), max(values))))

        # 2. saturation
        since = chaos.psql("ordering", "SELECT now()")[0][0]
        lock = threading.Lock()
        slots = iter(range(BURST))

        def flat_out(user):
            name, token = user
            while True:
                with lock:
                    k = next(slots, None)
                if k is None:
                    return
                checkout(name, token)

        started = time.time()
        threads = [threading.Thread(target=flat_out, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        placed = time.time() - started
        done += BURST
        wait_completed(done)
        window = chaos.psql("ordering", """
            SELECT count(*), extract(epoch FROM max(h.changed_at) - min(o.order_date)) FROM orders o
            JOIN order_status_history h ON h.order_id = o.order_id AND h.status = 'Completed'
            WHERE o.created_at >= '%s'""" % since)[0]
        values = latencies(since)
        stages = chaos.psql("ordering", """
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.changed_at - o.order_date) * 1000),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.changed_at - p.changed_at) * 1000),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.changed_at - r.changed_at) * 1000)
            FROM orders o
            JOIN order_status_history p ON p.order_id = o.order_id AND p.status = 'Pending'
            JOIN order_status_history r ON r.order_id = o.order_id AND r.status = 'StockReserved'
            JOIN order_status_history c ON c.order_id = o.order_id AND c.status = 'Completed'
            WHERE o.created_at >= '%s'""" % since)[0]
        rows.append(("  stages (p50)", "", "", "checkout→order %.0f ms, →stock reserved %.0f ms, →paid+completed %.0f ms" % tuple(float(x) for x in stages)))
        rows.append(("saturation", "%.0f checkouts/s accepted" % (BURST / placed),
                     int(window[0]), "%.0f orders/s Completed; p50 %.0f ms, p99 %.0f ms" % (int(window[0]) / float(window[1]), percentile(values, 50), percentile(values, 99))))
    finally:
        stack.stop()
    print("== the order saga, checkout → Completed (%s, %d client threads)" % (chaos.BIN, THREADS))
    print("%-16s %-28s %8s  %s" % ("phase", "load", "orders", "result"))
    rows.append(rows.pop(-2))
    for row in rows:
        print("%-16s %-28s %8s  %s" % row)


if __name__ == "__main__":
    main()
