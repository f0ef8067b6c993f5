-- bench/mixed.lua: the soak's mixed load (bench/soak.sh), per request a
-- random pick: 55% GET /api/v1/tasks/{id}, 15% GET /api/v1/tasks?limit=20,
-- 10% POST /api/v1/tasks, 10% PATCH /api/v1/tasks/{id}, 10% GET /health.
-- The requests are built once in init(), except the PATCH bodies'
-- priority, which alternates.
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

local gets, patches = {}, {}
local list, create, health

function init(args)
  math.randomseed(20261205)
  local h = common.headers(false)
  local hj = common.headers(true)
  for i, id in ipairs(common.ids()) do
    gets[i] = wrk.format("GET", "/api/v1/tasks/" .. id, h)
    patches[i] = {
      wrk.format("PATCH", "/api/v1/tasks/" .. id, hj, '{"priority":"high"}'),
      wrk.format("PATCH", "/api/v1/tasks/" .. id, hj, '{"priority":"low"}'),
    }
  end
  list = wrk.format("GET", "/api/v1/tasks?limit=20", h)
  create = wrk.format("POST", "/api/v1/tasks", hj,
    '{"title":"soak task","description":"made by bench/soak.sh","priority":"medium"}')
  health = wrk.format("GET", "/health", { Host = wrk.headers["Host"] })
end

function request()
  local r = math.random(100)
  if r <= 55 then return gets[math.random(#gets)] end
  if r <= 70 then return list end
  if r <= 80 then return create end
  if r <= 90 then return patches[math.random(#patches)][math.random(2)] end
  return health
end

done = common.done
