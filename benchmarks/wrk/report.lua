-- wrk -s benchmarks/wrk/report.lua URL: the run's figures as one JSON line ("BENCH_JSON {...}") for
-- benchmarks/bench.py. Latencies in microseconds; errors.status counts answers with a status >= 400
-- (what wrk reports as "Non-2xx or 3xx responses"); connect/read/write/timeout are socket errors.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
