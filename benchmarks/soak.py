#!/usr/bin/env python3
"""Soak: does any process's memory grow with traffic?

With the executables of SWN_BIN_DIR (a release build), starts identity, product, basket, ordering,
payment and the gateway (local bus) on fresh databases, warms them up (GETs and checkouts), notes each
process's RSS ("warm"), then runs GETS (default 1,000,000) `GET /product/{id}` with wrk at 32
connections, then CHECKOUT_SECONDS (default 120) of checkouts at CHECKOUT_RATE/s (default 30) through
the whole saga, then rests 15 s. Prints every process's RSS before, during and after, and the
request rates; exits 1 when a process ends more than 25 % above its warm RSS.
Settings: PG_URL, SWN_BIN_DIR, GETS, CHECKOUT_SECONDS, CHECKOUT_RATE.
"""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import chaos  # noqa: E402  (services, HTTP and SQL helpers)

GETS = int(os.environ.get("GETS", "1000000"))
CHECKOUT_SECONDS = float(os.environ.get("CHECKOUT_SECONDS", "120"))
CHECKOUT_RATE = float(os.environ.get("CHECKOUT_RATE", "30"))
LIMIT = 1.25


def rss_mib(service):
    with open("/proc/%d/status" % service.process.pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    chaos.SAGA.clear()
    chaos.SAGA.update({"LOG_LEVEL": "warning"})
    stack = chaos.Stack(gateway=True)
    identity, product, basket, ordering, payment, gateway = stack.services
    services = stack.services
    samples = []  # (label, {name: MiB})

    def sample(label):
        samples.append((label, {s.name: rss_mib(s) for s in services}))
        print("   %-34s " % label + "  ".join("%s %.0f" % (s.name.replace("-service", ""), samples[-1][1][s.name]) for s in services), flush=True)

    failures = []
    rates = []
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
        sample("warm (20k GETs, 10 s of checkouts)")
        warm = dict(samples[-1][1])

        # 1,000,000 GETs, sampled every 10 s
        done = threading.Event()

        def sampler(label):
            while not done.wait(10):
                sample(label)

        thread = threading.Thread(target=sampler, args=("during GETs",))
        thread.start()
        rate, summary = wrk("%s/product/%s" % (product.url, product_id), GETS)
        done.set()
        thread.join()
        rates.append(("GET /product/{id} on product-service, 32 connections", rate, summary))
        sample("after %d GETs" % GETS)

        # sustained checkouts through the gateway and the whole saga
        done.clear()
        thread = threading.Thread(target=sampler, args=("during checkouts",))
        thread.start()
        before = chaos.scalar("ordering", "SELECT count(*) FROM orders WHERE status = 'Completed'")
        started = time.time()
        for t in checkouts(CHECKOUT_SECONDS, CHECKOUT_RATE):
            t.join()
        done.set()
        thread.join()
        deadline = time.time() + 60
        while chaos.scalar("ordering", "SELECT count(*) FROM orders WHERE status NOT IN ('Completed', 'Cancelled')") and time.time() < deadline:
            time.sleep(0.5)
        completed = chaos.scalar("ordering", "SELECT count(*) FROM orders WHERE status = 'Completed'") - before
        rates.append(("checkouts through the gateway → Completed", completed / (time.time() - started), "%d orders completed" % completed))
        time.sleep(15)
        sample("after the checkouts and 15 s of rest")
        after = samples[-1][1]
        for service in services:
            if after[service.name] > warm[service.name] * LIMIT:
                failures.append("%s ends at %.0f MiB, more than %.0f %% of its warm %.0f MiB" % (
                    service.name, after[service.name], LIMIT * 100, warm[service.name]))
    finally:
        stack.stop()
    print("== soak (%s)" % chaos.BIN)
    for label, rate, summary in rates:
        print("   %-52s %8.0f /s   %s" % (label, rate, summary))
    print("   RSS (MiB)        " + "  ".join("%12s" % s.name for s in services))
    highest = {s.name: max(values[s.name] for _, values in samples) for s in services}
    for label, values in [("warm", samples[1][1]), ("highest", highest), ("after", samples[-1][1])]:
        print("   %-16s " % label + "  ".join("%12.0f" % values[s.name] for s in services))
    print("   verdict: " + ("every process within %.0f %% of its warm RSS" % (LIMIT * 100) if not failures else "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
