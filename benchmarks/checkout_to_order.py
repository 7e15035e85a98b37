#!/usr/bin/env python3
"""Checkout → order benchmark against a running `make run` (local mode).

Fills and checks out COUNT baskets with CONCURRENCY parallel clients, waits until every checkout
has become an order, and prints checkout→order latency (order row created minus the checkout's
time, both stamped on this machine) and sustained orders per second.

    python3 benchmarks/checkout_to_order.py [--count 1000] [--concurrency 8]
"""
import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")

def psql(url, sql):
    return subprocess.run(["psql", url, "-qAt", "-c", sql], check=True, capture_output=True, text=True).stdout.strip()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--product", default="http://127.0.0.1:8081")
    parser.add_argument("--basket", default="http://127.0.0.1:8082")
    parser.add_argument("--ordering-db", default="postgres://swn:swn@127.0.0.1:55432/ordering")
    parser.add_argument("--identity", default="http://127.0.0.1:9229")
    args = parser.parse_args()

    # The services verify tokens themselves: an admin token may fill any user's basket.
    _, signed_in = call("POST", f"{args.identity}/", {
        "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "swnshoplocalclient",
        "AuthParameters": {"USERNAME": "admin", "PASSWORD": "Admin-Passw0rd!"}},
        headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth", "Content-Type": "application/x-amz-json-1.1"})
    auth = {"Authorization": "Bearer " + signed_in["AuthenticationResult"]["IdToken"]}

    _, page = call("GET", f"{args.product}/product?limit=1")
    product_id = page["items"][0]["id"]
    run = uuid.uuid4().hex[:8]
    users = [f"bench-{run}-{i}" for i in range(args.count)]
    errors = []
    lock = threading.Lock()
    next_index = [0]

    def worker():
        while True:
            with lock:
                if next_index[0] >= len(users):
                    return
                user = users[next_index[0]]
                next_index[0] += 1
            try:
                call("POST", f"{args.basket}/basket", {"userName": user, "items": [{"productId": product_id, "quantity": 2}]}, headers=auth)
                call("POST", f"{args.basket}/basket/checkout", {
                    "userName": user, "firstName": "Bench", "lastName": "Mark", "email": "bench@example.com",
                    "address": "1 Loop St", "paymentMethod": "card", "cardInfo": "4111111111111111"},
                    headers={"Idempotency-Key": user, **auth})
            except Exception as error:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(f"{user}: {error}")

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    submitted = time.monotonic() - started
    if errors:
        print(f"{len(errors)} checkouts failed, first: {errors[0]}", file=sys.stderr)

    pattern = f"bench-{run}-%"
    expected = args.count - len(errors)
    deadline = time.monotonic() + 120
    while int(psql(args.ordering_db, f"SELECT count(*) FROM orders WHERE user_name LIKE '{pattern}'")) < expected:
        if time.monotonic() > deadline:
            print("timed out waiting for orders", file=sys.stderr)
            return 1
        time.sleep(0.2)

    stats = psql(args.ordering_db, f"""
        SELECT count(*),
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - order_date) * 1000)::numeric, 1),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - order_date) * 1000)::numeric, 1),
               round((count(*) / greatest(extract(epoch FROM max(created_at) - min(order_date)), 0.001))::numeric, 1)
        FROM orders WHERE user_name LIKE '{pattern}'""").split("|")
    print(f"checkouts: {args.count} with {args.concurrency} clients in {submitted:.1f} s "
          f"({args.count / submitted:.1f} checkouts/s accepted), failed: {len(errors)}")
    print(f"orders: {stats[0]}")
    print(f"checkout→order latency: p50 {stats[1]} ms, p99 {stats[2]} ms")
    print(f"sustained: {stats[3]} orders/s (first checkout to last order)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
