import HTTPServer
import Postgres

/// `GET /healthz` (the process is alive) and `GET /readyz` (it can serve: PostgreSQL answers).
struct HealthEndpoints: Sendable {
    let pool: PostgresPool

    private static let alive = Array(#"{"status":"ok"}"#.utf8)
    private static let ready = Array(#"{"status":"ready"}"#.utf8)
    private static let notReady = Array(#"{"status":"unavailable","reason":"database"}"#.utf8)

    func liveness(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: Self.headers, body: Self.alive)
    }

    func readiness(_ request: HTTPRequest) async -> HTTPResponse {
        if await pool.ping() {
            return HTTPResponse(status: .ok, headers: Self.headers, body: Self.ready)
        }
        var headers = Self.headers
        headers.add(name: "Retry-After", value: "1")
        return HTTPResponse(status: .serviceUnavailable, headers: headers, body: Self.notReady)
    }

    /// Probes must never be cached by a proxy: a stale "ready" hides an outage.
    private static let headers = HTTPHeaders([("Content-Type", "application/json"), ("Cache-Control", "no-store")])
}
