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

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    io.write(string.format('{"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"non2xx":%d,"socket_errors":%d}\n',
        summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
        summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
