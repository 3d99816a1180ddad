import HTTPServer

/// `GET /healthz` (the process is alive) and `GET /readyz` (it can serve: storage answers).
struct HealthEndpoints: Sendable {
    /// Whether storage answers now, within a bound of its own.
    let isStorageReady: @Sendable () async -> Bool

    private static let alive = Array(#"{"status":"ok"}"#.utf8)
    private static let ready = Array(#"{"status":"ready"}"#.utf8)
    private static let notReady = Array(#"{"status":"unavailable","reason":"database"}"#.utf8)

    func liveness(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: Self.headers, body: Self.alive)
    }

    func readiness(_ request: HTTPRequest) async -> HTTPResponse {
        if await isStorageReady() {
            return HTTPResponse(status: .ok, headers: Self.headers, body: Self.ready)
        }
        var headers = Self.headers
        headers.add(name: "Retry-After", value: "1")
        return HTTPResponse(status: .serviceUnavailable, headers: headers, body: Self.notReady)
    }

    /// Probes must never be cached by a proxy: a stale "ready" hides an outage.
    private static let headers = HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
}
