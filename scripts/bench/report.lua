-- Shared by the wrk scripts (dofile'd): one JSON line at the end with requests/s, latency
-- percentiles in ms, responses outside 2xx/3xx and socket errors.
function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    io.write(string.format('{"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"non2xx":%d,"socket_errors":%d}\n',
        summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
        summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
