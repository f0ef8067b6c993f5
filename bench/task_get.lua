-- bench/task_get.lua: GET /api/v1/tasks/{id}, authenticated, a random id
-- of the bench user's seeded tasks per request.  The requests are built
-- once in init() so request() costs the client almost nothing.
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

local reqs = {}

function init(args)
  math.randomseed(20261121)
  local h = common.headers(false)
  for i, id in ipairs(common.ids()) do
    reqs[i] = wrk.format("GET", "/api/v1/tasks/" .. id, h)
  end
end

function request()
  return reqs[math.random(#reqs)]
end

done = common.done
