-- tests/faults/statuses.lua: a wrk script that counts responses by status.
-- Environment: TOKEN (bearer token, optional), WRK_PATHS (space-separated
-- paths, taken in turn), WRK_STOP_AFTER (optional: each thread stops
-- after that many responses and prints "THREAD_DONE"; wrk itself runs
-- for its -d, so the caller ends it with SIGINT once every thread is
-- done: a flood of a count of requests, -d only a cap).  done() prints
-- one line per status,
-- "STATUS <code> <count>", and "ERRORS connect=.. read=.. write=.. timeout=..".
local threads = {}
local paths = {}
for p in string.gmatch(os.getenv("WRK_PATHS") or "/health", "%S+") do
  paths[#paths + 1] = p
end
local token = os.getenv("TOKEN")
local stop_after = tonumber(os.getenv("WRK_STOP_AFTER") or "")
local i = 0
local answered = 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  counts = {}
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  local h = {}
  if token and token ~= "" then h["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", paths[i], h)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  answered = answered + 1
  if stop_after and answered == stop_after then
    io.write("THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("STATUS %d %d\n", k, v)) end
  local e = summary.errors
  io.write(string.format("ERRORS connect=%d read=%d write=%d timeout=%d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("LATENCY p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
