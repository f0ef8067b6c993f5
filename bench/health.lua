-- bench/health.lua: GET /health (no auth).  Also used for the nginx
-- static yardstick, which answers the same JSON at the same path.
local common = dofile((os.getenv("BENCH_LUA_DIR") or "bench") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/health"

done = common.done
