-- bench/common.lua: helpers shared by the wrk scripts of bench/run.sh.
-- Loaded with dofile(); BENCH_LUA_DIR and BENCH_DATA come from run.sh.
--
--   BENCH_DATA/token   the bench user's bearer token (one line)
--   BENCH_DATA/ids     that user's task ids, one per line
--
-- done() prints one machine-readable line that run.sh parses:
--   BENCHRESULT requests=.. duration_us=.. status=.. connect=.. read=..
--               write=.. timeout=.. p50_us=.. p90_us=.. p99_us=..
--               p999_us=.. ...
-- "status" is wrk's count of responses with a status >= 400 (what its
-- summary calls "Non-2xx or 3xx responses"); connect/read/write/timeout
-- are its "Socket errors".

local M = {}

M.data = os.getenv("BENCH_DATA") or "bench/out/data"

function M.read_lines(path)
  local t = {}
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    if line ~= "" then t[#t + 1] = line end
  end
  f:close()
  return t
end

function M.token()
  local t = M.read_lines(M.data .. "/token")
  assert(#t == 1, "token file must hold one line")
  return t[1]
end

function M.ids()
  local t = M.read_lines(M.data .. "/ids")
  assert(#t > 0, "no task ids in " .. M.data .. "/ids")
  return t
end

-- Headers for an authenticated request; json=true adds the body's type.
function M.headers(json)
  local h = {}
  h["Host"] = wrk.headers["Host"]
  h["Authorization"] = "Bearer " .. M.token()
  if json then h["Content-Type"] = "application/json" end
  -- BENCH_CONDITIONAL=1: what conditional requests cost.  GETs carry an
  -- If-None-Match that never matches (parsed and compared, full 200),
  -- PATCHes "If-Match: *" (parsed, and tested by the UPDATE).
  if os.getenv("BENCH_CONDITIONAL") == "1" then
    if json then h["If-Match"] = "*" else h["If-None-Match"] = '"999999999"' end
  end
  return h
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHRESULT requests=%d duration_us=%d bytes=%d status=%d connect=%d " ..
    "read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d " ..
    "p999_us=%d max_us=%d mean_us=%.0f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect,
    e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end

return M
