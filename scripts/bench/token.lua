-- POST /token, grant_type=client_credentials with client_secret_basic (or another grant's body).
-- Environment: BENCH_BASIC = base64(form(client_id) ":" form(secret)), BENCH_SCOPE; BENCH_BODY, when set,
-- is the whole form body instead (a token exchange).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
wrk.body = os.getenv("BENCH_BODY") or ("grant_type=client_credentials&scope=" .. (os.getenv("BENCH_SCOPE") or "bench"))

-- The shared report: scripts/bench/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "report.lua")
