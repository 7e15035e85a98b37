-- The checkout pipeline for wrk, one customer per connection (benchmarks/bench.py runs it):
--
--   wrk -t N -c N -d 15s --timeout 10s -s benchmarks/wrk/checkout.lua http://127.0.0.1:<gateway port>
--
-- Each wrk thread has exactly one connection and one Lua state, so each connection is one signed-up
-- customer: it alternates POST /basket (one or two of the products, quantity 1) and
-- POST /basket/checkout (an Idempotency-Key of its own, card ...4242). Settings, from the environment:
--   BENCH_TOKENS       a file of "name<TAB>id token" lines, one customer per thread (at least N lines)
--   BENCH_PRODUCTS     product ids, comma-separated
--   BENCH_RATE         checkouts per second over all connections (0: as fast as they go)
--   BENCH_CONNECTIONS  N (the pacing period of a connection is N / BENCH_RATE seconds)
--   BENCH_KEY          prefix of the Idempotency-Keys (one per run, so that runs do not replay each other)
-- Pacing: delay() holds a connection's next basket request until its next slot (every N / rate s,
-- phase-shifted per connection); a connection that falls behind sends at once until it catches up.
-- A checkout answered 5xx or 429 is sent again with the same key; 409 and other 4xx start a new basket.
-- done() prints "BENCH_THREAD {json}" per connection (counts by status, client-side latencies in ms,
-- comma-separated) and "BENCH_JSON {json}" (wrk's totals); bench.py reads them.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } swn_bench_timespec;
  int clock_gettime(int clock_id, swn_bench_timespec *tp);
]]
local timespec = ffi.new("swn_bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

-- main state: hand each thread its customer -------------------------------------------------------
local threads, customers = {}, nil

function setup(thread)
  if not customers then
    customers = {}
    local path = os.getenv("BENCH_TOKENS") or error("BENCH_TOKENS is not set")
    for line in io.lines(path) do
      local name, token = line:match("^([^\t]+)\t(%S+)")
      if name then customers[#customers + 1] = { name, token } end
    end
  end
  local index = #threads + 1
  local customer = customers[index] or error("BENCH_TOKENS has fewer customers than wrk threads")
  thread:set("customer_index", index)
  thread:set("customer_name", customer[1])
  thread:set("customer_token", customer[2])
  threads[index] = thread
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write("BENCH_THREAD " .. thread:get("results") .. "\n")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end

-- thread state: one customer ------------------------------------------------------------------------
local period, next_at                    -- pacing (ms)
local step = "basket"                    -- what the next request is
local in_flight, sent_at                 -- what was sent, and when
local checkouts = 0                      -- Idempotency-Key counter
local started = 0                        -- checkouts begun (basket requests of a new round)
local dry_run = false                    -- wrk calls request() once on the first thread to check it
local basket_requests, checkout_request = {}, nil
local ok = { basket = 0, checkout = 0 }
local statuses = {}                      -- "checkout 503" -> count
local latencies = { basket = {}, checkout = {} }
local resent = 0                         -- requests sent again without an answer (reconnects)
local key_prefix, headers

function init(args)
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "1")
  if rate > 0 then
    period = connections * 1000 / rate
    next_at = now_ms() + period * (customer_index - 1) / connections
  end
  dry_run = customer_index == 1
  key_prefix = (os.getenv("BENCH_KEY") or "bench") .. "-" .. customer_index .. "-"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. customer_token }
  local products = {}
  for id in (os.getenv("BENCH_PRODUCTS") or ""):gmatch("[^,]+") do products[#products + 1] = id end
  assert(#products > 0, "BENCH_PRODUCTS is empty")
  -- Round k of this customer: product k (+ the next one on every other round), quantity 1.
  for k = 0, #products * 2 - 1 do
    local first = products[(customer_index + k) % #products + 1]
    local items = '{"productId":"' .. first .. '","quantity":1}'
    if k % 2 == 0 and #products > 1 then
      items = items .. ',{"productId":"' .. products[(customer_index + k + 1) % #products + 1] .. '","quantity":1}'
    end
    basket_requests[#basket_requests + 1] = wrk.format("POST", "/basket", headers,
      '{"userName":"' .. customer_name .. '","items":[' .. items .. ']}')
  end
  checkout_request = '{"userName":"' .. customer_name .. '","firstName":"Bench","lastName":"Mark",' ..
    '"email":"bench@example.com","address":"1 Bench St","paymentMethod":"card","cardInfo":"4242424242424242"}'
end

function delay()
  if not period or step ~= "basket" then return 0 end
  local now = now_ms()
  local wait = next_at - now
  next_at = next_at + period
  if wait > 0 then return math.floor(wait + 0.5) end
  return 0
end

function request()
  if dry_run then
    dry_run = false
    return basket_requests[1]
  end
  if in_flight then resent = resent + 1 end
  in_flight, sent_at = step, now_ms()
  if step == "basket" then
    started = started + 1
    return basket_requests[started % #basket_requests + 1]
  end
  local h = { ["Content-Type"] = headers["Content-Type"], ["Authorization"] = headers["Authorization"],
              ["Idempotency-Key"] = key_prefix .. checkouts }
  return wrk.format("POST", "/basket/checkout", h, checkout_request)
end

function response(status, _, _)
  local kind = in_flight
  if not kind then return end
  in_flight = nil
  local list = latencies[kind]
  list[#list + 1] = string.format("%.2f", now_ms() - sent_at)
  if (kind == "basket" and status == 200) or (kind == "checkout" and status == 202) then
    ok[kind] = ok[kind] + 1
  else
    local label = kind .. " " .. status
    statuses[label] = (statuses[label] or 0) + 1
  end
  if kind == "basket" then
    if status == 200 then step = "checkout" end          -- otherwise: fill the basket again
  elseif status == 202 then
    checkouts = checkouts + 1; step = "basket"
  elseif status >= 500 or status == 429 then
    -- the same checkout again, same key (a lost answer is replayed, not doubled)
  else
    checkouts = checkouts + 1; step = "basket"            -- 409 (empty basket) or another 4xx
  end
end

-- thread:get("results") from the main state, after the run: this connection's figures as JSON.
setmetatable(_G, { __index = function(_, name)
  if name ~= "results" then return nil end
  local parts = {}
  for label, count in pairs(statuses) do parts[#parts + 1] = string.format('"%s":%d', label, count) end
  return string.format(
    '{"customer":%d,"started":%d,"basket_ok":%d,"checkout_ok":%d,"resent":%d,"in_flight":%s,"errors":{%s},' ..
    '"basket_ms":[%s],"checkout_ms":[%s]}',
    customer_index, started, ok.basket, ok.checkout, resent, in_flight and ('"' .. in_flight .. '"') or "null",
    table.concat(parts, ","), table.concat(latencies.basket, ","), table.concat(latencies.checkout, ","))
end })
