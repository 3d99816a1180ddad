-- POST /introspect (RFC 7662) with client_secret_basic, the same token on every request.
-- Environment: BENCH_BASIC = base64(form(client_id) ":" form(secret)); BENCH_TOKEN (form-safe);
-- BENCH_HINT (optional token_type_hint).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
wrk.body = "token=" .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
    .. (os.getenv("BENCH_HINT") and ("&token_type_hint=" .. os.getenv("BENCH_HINT")) or "")

-- The shared report: scripts/bench/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "report.lua")
