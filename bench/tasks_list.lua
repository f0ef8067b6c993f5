-- bench/tasks_list.lua: GET /api/v1/tasks?limit=20, authenticated (the
-- bench user's 20 newest tasks).  One static request.
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function init(args)
  wrk.method = "GET"
  wrk.path = "/api/v1/tasks?limit=20"
  wrk.headers["Authorization"] = "Bearer " .. common.token()
end

done = common.done
