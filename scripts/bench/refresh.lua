-- POST /token, grant_type=refresh_token for a public client: each request presents a different,
-- unused refresh token read from BENCH_TOKENS (one per line), so every request is a real rotation.
-- Thread k of n takes the lines k, k+n, k+2n, ...
local threads = {}
local counter = 0

function setup(thread)
    thread:set("index", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

function init(args)
    local n = tonumber(os.getenv("BENCH_THREADS_TOTAL") or "1")
    tokens = {}
    local line_number = 0
    local file = assert(io.open(assert(os.getenv("BENCH_TOKENS"), "BENCH_TOKENS is not set"), "r"))
    for line in string.gmatch(file:read("*a"), "[^\n]+") do
        if line_number % n == index then table.insert(tokens, line) end
        line_number = line_number + 1
    end
    file:close()
    next_token = 1
    client_id = os.getenv("BENCH_CLIENT_ID") or "bench-refresh"
end

function request()
    local token = tokens[next_token]
    if token == nil then
        -- Out of tokens: an unknown token answers 400 and the run is reported invalid.
        token = "tsr_exhausted"
    end
    next_token = next_token + 1
    return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
        "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. token)
end

-- The shared report: scripts/bench/report.lua, next to this file.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "report.lua")
