-- `make bench`'s search step (benchmarks/bench.py, the "mix" line): GET requests that cycle through many
-- different searches, so that product-service's cache (PRODUCT_CACHE_TTL_MS) meets a realistic share of
-- misses instead of one query answered from memory:
--
--   BENCH_SEARCH_PATHS=paths.txt wrk -t2 -c32 -d10s --latency -s benchmarks/wrk/search_mix.lua http://127.0.0.1:<gateway port>
--
-- BENCH_SEARCH_PATHS: a file of request paths, one a line (`/product?q=samsnug%20galxy&maxPrice=500`);
-- bench.py writes it (search_mix: distinct queries built from benchmarks/search_catalog.sql's brands, lines
-- and categories, a third of them with one typo, some with category and maxPrice filters).
-- Every thread goes through the whole list in order, over and over, from a point of its own (spread over the
-- list by the golden ratio), each request the next path; a connection sends whichever comes next.
-- done() prints wrk's figures as one "BENCH_JSON {...}" line (report.lua's, loaded from this folder).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

-- main state: number the threads ----------------------------------------------------------------------
local threads = 0

function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

-- thread state: one position in the list --------------------------------------------------------------
local paths, position

function init(args)
  local file = os.getenv("BENCH_SEARCH_PATHS") or error("BENCH_SEARCH_PATHS is not set")
  paths = {}
  for line in io.lines(file) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("BENCH_SEARCH_PATHS (" .. file .. ") lists no paths") end
  position = math.floor(((thread_index or 0) * 0.6180339887) % 1 * #paths)
end

function request()
  local path = paths[position + 1]
  position = (position + 1) % #paths
  return wrk.format("GET", path)
end
