import Foundation
import HTTPServer
import Synchronization

/// Counters and histograms in the Prometheus text exposition format (version 0.0.4), served at
/// `GET /metrics`. Label values come from fixed sets (endpoints, grant types, limits), never from
/// request input, so the series cannot grow without bound.
public final class Metrics: Sendable {
    /// Request-latency buckets in seconds.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: Metrics.buckets.count)
        var sum = 0.0
        var total: UInt64 = 0
    }

    private struct State {
        var requests: [String: UInt64] = [:]          // "endpoint|status"
        var latency: [String: Histogram] = [:]        // endpoint
        var tokensIssued: [String: UInt64] = [:]      // grant type
        var refreshReuse: UInt64 = 0
        var revocations: [String: UInt64] = [:]       // kind
        var rateLimited: [String: UInt64] = [:]       // limit
        var loginFailures: UInt64 = 0
        var exchanges: [String: UInt64] = [:]         // "subject|mode"
        var jwksFetches: [String: UInt64] = [:]       // result
    }

    private let state = Mutex(State())
    /// Gauges read when scraped (pool, Argon2, keys): each appends its lines.
    private let gauges = Mutex<[@Sendable () -> String]>([])

    public init() {}

    func recordRequest(endpoint: String, status: Int, seconds: Double) {
        state.withLock { state in
            state.requests["\(endpoint)|\(status)", default: 0] += 1
            var histogram = state.latency[endpoint] ?? Histogram()
            if let index = Self.buckets.firstIndex(where: { seconds <= $0 }) { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.total += 1
            state.latency[endpoint] = histogram
        }
    }

    func tokenIssued(grantType: String) { state.withLock { $0.tokensIssued[grantType, default: 0] += 1 } }
    func refreshReuseDetected() { state.withLock { $0.refreshReuse += 1 } }
    func revoked(_ kind: String) { state.withLock { $0.revocations[kind, default: 0] += 1 } }
    func rateLimited(_ limit: String) { state.withLock { $0.rateLimited[limit, default: 0] += 1 } }
    func loginFailed() { state.withLock { $0.loginFailures += 1 } }
    /// A token exchange: the kind of subject token (`access_token`, `id_token`, `external`) and
    /// whether an actor was named (`delegation`) or not (`impersonation`).
    func tokenExchanged(subject: String, delegated: Bool) {
        state.withLock { $0.exchanges["\(subject)|\(delegated ? "delegation" : "impersonation")", default: 0] += 1 }
    }
    func jwksFetched(success: Bool) { state.withLock { $0.jwksFetches[success ? "ok" : "error", default: 0] += 1 } }

    func addGauges(_ render: @escaping @Sendable () -> String) { gauges.withLock { $0.append(render) } }

    /// The exposition text.
    public func render() -> String {
        var out = ""
        state.withLock { state in
            out += "# HELP tessera_http_requests_total HTTP requests by endpoint and status.\n# TYPE tessera_http_requests_total counter\n"
            for (key, count) in state.requests.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "|", maxSplits: 1)
                out += "tessera_http_requests_total{endpoint=\"\(parts[0])\",status=\"\(parts[1])\"} \(count)\n"
            }
            out += "# HELP tessera_http_request_duration_seconds Time from a complete request to its response.\n"
                + "# TYPE tessera_http_request_duration_seconds histogram\n"
            for (endpoint, histogram) in state.latency.sorted(by: { $0.key < $1.key }) {
                var cumulative: UInt64 = 0
                for (index, bound) in Self.buckets.enumerated() {
                    cumulative += histogram.counts[index]
                    out += "tessera_http_request_duration_seconds_bucket{endpoint=\"\(endpoint)\",le=\"\(bound)\"} \(cumulative)\n"
                }
                out += "tessera_http_request_duration_seconds_bucket{endpoint=\"\(endpoint)\",le=\"+Inf\"} \(histogram.total)\n"
                out += "tessera_http_request_duration_seconds_sum{endpoint=\"\(endpoint)\"} \(histogram.sum)\n"
                out += "tessera_http_request_duration_seconds_count{endpoint=\"\(endpoint)\"} \(histogram.total)\n"
            }
            out += Self.counters("tessera_tokens_issued_total", "Access tokens issued by grant type.", label: "grant_type", state.tokensIssued)
            out += "# HELP tessera_refresh_reuse_detected_total Rotated refresh tokens presented again (families revoked).\n"
                + "# TYPE tessera_refresh_reuse_detected_total counter\ntessera_refresh_reuse_detected_total \(state.refreshReuse)\n"
            out += Self.counters("tessera_revocations_total", "Revocations by kind.", label: "kind", state.revocations)
            out += Self.counters("tessera_rate_limited_total", "Requests refused by a rate limit.", label: "limit", state.rateLimited)
            out += "# HELP tessera_login_failures_total Failed browser logins.\n# TYPE tessera_login_failures_total counter\n"
                + "tessera_login_failures_total \(state.loginFailures)\n"
            out += "# HELP tessera_token_exchanges_total Token exchanges (RFC 8693) by subject token kind and mode.\n"
                + "# TYPE tessera_token_exchanges_total counter\n"
            for (key, count) in state.exchanges.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "|", maxSplits: 1)
                out += "tessera_token_exchanges_total{subject=\"\(parts[0])\",mode=\"\(parts[1])\"} \(count)\n"
            }
            out += "# HELP tessera_trusted_issuer_jwks_fetches_total Fetches of trusted issuers' published keys by result.\n"
                + "# TYPE tessera_trusted_issuer_jwks_fetches_total counter\n"
            for (result, count) in state.jwksFetches.sorted(by: { $0.key < $1.key }) {
                out += "tessera_trusted_issuer_jwks_fetches_total{result=\"\(result)\"} \(count)\n"
            }
        }
        for render in gauges.withLock({ $0 }) { out += render() }
        return out
    }

    /// `GET /metrics`.
    func response(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")]),
                     body: Array(render().utf8))
    }

    static let path = "/metrics"
}

/// The route table wrapped with what every request gets: its source address resolved, a request
/// id (sent back as `X-Request-ID`) and both set for its logs, and its count and latency recorded.
struct InstrumentedResponder: HTTPResponder {
    let router: Router
    /// Paths that are endpoints; any other path is counted as "other", so that scanning for
    /// random paths cannot create new series.
    let endpoints: Set<String>
    let addresses: SourceAddressResolver
    let certificates: ClientCertificateResolver
    let metrics: Metrics

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let start = ContinuousClock.now
        var request = request
        // Both read the socket peer: the certificate first, before the peer is replaced by the forwarded address.
        request.clientCertificate = certificates.resolve(request)
        request.remoteAddress = addresses.resolve(request)
        let id = RequestContext.newRequestID()
        let response = await RequestContext.$requestID.withValue(id) {
            await RequestContext.$sourceAddress.withValue(request.remoteAddress) {
                await router.respond(to: request)
            }
        }
        return finish(response, request: request, id: id, start: start)
    }

    /// The router's fast path (on the event-loop thread), with the same request id, source address and metrics.
    func respondImmediately(to request: HTTPRequest) -> HTTPResponse? {
        let start = ContinuousClock.now
        var request = request
        request.clientCertificate = certificates.resolve(request)
        request.remoteAddress = addresses.resolve(request)
        let id = RequestContext.newRequestID()
        let response = RequestContext.$requestID.withValue(id) {
            RequestContext.$sourceAddress.withValue(request.remoteAddress) {
                router.respondImmediately(to: request)
            }
        }
        guard let response else { return nil }
        return finish(response, request: request, id: id, start: start)
    }

    private func finish(_ response: HTTPResponse, request: HTTPRequest, id: String, start: ContinuousClock.Instant) -> HTTPResponse {
        var response = response
        response.headers.replaceOrAdd(name: "X-Request-ID", value: id)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        metrics.recordRequest(endpoint: endpoints.contains(request.path) ? request.path : "other", status: Int(response.status.code), seconds: seconds)
        return response
    }
}

extension Metrics {
    /// A counter family in the Prometheus text format: its HELP and TYPE lines, then one sample per
    /// label value, sorted.
    static func counters(_ name: String, _ help: String, label: String, _ values: [String: UInt64]) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (value, count) in values.sorted(by: { $0.key < $1.key }) { out += "\(name){\(label)=\"\(value)\"} \(count)\n" }
        return out
    }
}
