-- POST /token, grant_type=client_credentials with client_secret_basic.
-- Environment: BENCH_BASIC = base64(form(client_id) ":" form(secret)), BENCH_SCOPE.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. assert(os.getenv("BENCH_BASIC"), "BENCH_BASIC is not set")
wrk.body = "grant_type=client_credentials&scope=" .. (os.getenv("BENCH_SCOPE") or "bench")

-- One JSON line at the end: requests/s, latency percentiles in ms, responses outside 2xx/3xx.
function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    io.write(string.format('{"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"non2xx":%d,"socket_errors":%d}\n',
        summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
        summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
