-- POST /introspect (RFC 7662) with client_secret_basic, the same token on every request.
-- Environment: BENCH_BASIC = base64(form(client_id) ":" form(secret)); BENCH_TOKEN (form-safe);
-- BENCH_HINT (optional token_type_hint).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
wrk.body = "token=" .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
    .. (os.getenv("BENCH_HINT") and ("&token_type_hint=" .. os.getenv("BENCH_HINT")) or "")

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    io.write(string.format('{"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"non2xx":%d,"socket_errors":%d}\n',
        summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
        summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
