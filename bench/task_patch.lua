-- bench/task_patch.lua: PATCH /api/v1/tasks/{id}, authenticated, a random
-- seeded task per request, the priority alternating between "high" and
-- "low" from one request to the next (so most requests really change
-- the row).  Requests are built once in init().
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

local hi, lo = {}, {}
local n = 0

function init(args)
  math.randomseed(20261122)
  local h = common.headers(true)
  for i, id in ipairs(common.ids()) do
    local path = "/api/v1/tasks/" .. id
    hi[i] = wrk.format("PATCH", path, h, '{"priority":"high"}')
    lo[i] = wrk.format("PATCH", path, h, '{"priority":"low"}')
  end
end

function request()
  n = n + 1
  local i = math.random(#hi)
  if n % 2 == 0 then return hi[i] end
  return lo[i]
end

done = common.done
