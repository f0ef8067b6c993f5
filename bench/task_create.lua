-- bench/task_create.lua: POST /api/v1/tasks, authenticated, a small JSON
-- body (every request creates one task of the bench user).
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/tasks"
  wrk.headers["Authorization"] = "Bearer " .. common.token()
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"title":"bench task","description":"created by wrk",' ..
             '"priority":"high","due_at":"2030-01-01T00:00:00Z"}'
end

done = common.done
