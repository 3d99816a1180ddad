import Foundation
import HTTPServer
import Synchronization
import Testing
@testable import AuthServer

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 += duration } }
}

@Suite struct RateLimiterTests {
    @Test("A bucket allows its burst, then refuses with the seconds until the next token, and refills at its rate")
    func bucket() {
        let clock = ManualClock()
        let limiter = RateLimiter(name: "test", rate: 2, burst: 4, clock: { clock.now })
        for _ in 0..<4 { #expect(limiter.take("a") == nil) }
        #expect(limiter.take("a") == 1)
        #expect(limiter.take("b") == nil, "another key has its own bucket")
        clock.advance(.milliseconds(500))
        #expect(limiter.take("a") == nil, "one token after half a second at 2/s")
        #expect(limiter.take("a") == 1)
        clock.advance(.seconds(60))
        for _ in 0..<4 { #expect(limiter.take("a") == nil) }
        #expect(limiter.take("a") != nil, "refill stops at the burst")
    }

    @Test("retryAfter looks without taking; a zero rate turns the limit off")
    func peekAndOff() {
        let clock = ManualClock()
        let limiter = RateLimiter(name: "test", rate: 1, burst: 1, clock: { clock.now })
        #expect(limiter.retryAfter("a") == nil)
        #expect(limiter.retryAfter("a") == nil, "looking takes nothing")
        #expect(limiter.take("a") == nil)
        #expect(limiter.retryAfter("a") == 1)
        let off = RateLimiter(name: "off", rate: 0)
        for _ in 0..<1_000 { #expect(off.take("a") == nil) }
    }
}

@Suite struct SourceAddressTests {
    @Test("Networks contain their addresses, IPv4 and IPv6, IPv4-mapped included", arguments: [
        ("10.0.0.0/8", "10.200.3.4", true), ("10.0.0.0/8", "11.0.0.1", false), ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.2", false), ("192.168.1.0/25", "192.168.1.127", true), ("192.168.1.0/25", "192.168.1.128", false),
        ("2001:db8::/32", "2001:db8:1::5", true), ("2001:db8::/32", "2001:db9::1", false), ("::1", "::1", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("10.0.0.0/8", "not an address", false), ("0.0.0.0/0", "8.8.8.8", true),
    ])
    func contains(network: String, address: String, expected: Bool) throws {
        #expect(try IPNetwork(parsing: network).contains(address) == expected)
    }

    @Test("Bad networks are refused", arguments: ["10.0.0.0/33", "::/129", "example.com", "10.0.0.0/-1", "10.0.0.0/8/8", "", "1.2.3.4/x"])
    func refused(text: String) {
        #expect(throws: ValueError.self) { try IPNetwork(parsing: text) }
    }

    static func request(peer: String, forwardedFor: [String]) -> HTTPRequest {
        HTTPRequest(method: .GET, target: "/", headers: HTTPHeaders(forwardedFor.map { ("X-Forwarded-For", $0) }), remoteAddress: peer)
    }

    @Test("X-Forwarded-For is read only from trusted proxies, right to left, past trusted hops")
    func resolve() throws {
        let none = SourceAddressResolver(trustedProxies: [])
        #expect(none.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["203.0.113.7"])) == "127.0.0.1")
        let trusted = SourceAddressResolver(trustedProxies: [try IPNetwork(parsing: "127.0.0.1"), try IPNetwork(parsing: "10.0.0.0/8")])
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["203.0.113.7"])) == "203.0.113.7")
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["198.51.100.1, 203.0.113.7, 10.1.1.1"])) == "203.0.113.7")
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["198.51.100.1", "203.0.113.7"])) == "203.0.113.7",
                "several header fields are one list")
        #expect(trusted.resolve(Self.request(peer: "192.0.2.9", forwardedFor: ["203.0.113.7"])) == "192.0.2.9", "an untrusted peer's header is ignored")
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["garbage"])) == "127.0.0.1")
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: ["10.0.0.5"])) == "127.0.0.1", "only trusted hops: the peer")
        #expect(trusted.resolve(Self.request(peer: "127.0.0.1", forwardedFor: [])) == "127.0.0.1")
    }
}

@Suite struct MetricsTests {
    @Test("The exposition is Prometheus text: cumulative buckets ending in +Inf equal to the count")
    func exposition() {
        let metrics = Metrics()
        metrics.recordRequest(endpoint: "/token", status: 200, seconds: 0.0007)
        metrics.recordRequest(endpoint: "/token", status: 200, seconds: 0.003)
        metrics.recordRequest(endpoint: "/token", status: 400, seconds: 30)
        metrics.tokenIssued(grantType: "client_credentials")
        metrics.rateLimited("token_per_client")
        metrics.addGauges { "tessera_test_gauge 7\n" }
        let text = metrics.render()
        #expect(text.contains("tessera_http_requests_total{endpoint=\"/token\",status=\"200\"} 2\n"))
        #expect(text.contains("tessera_http_requests_total{endpoint=\"/token\",status=\"400\"} 1\n"))
        #expect(text.contains("tessera_http_request_duration_seconds_bucket{endpoint=\"/token\",le=\"0.001\"} 1\n"))
        #expect(text.contains("tessera_http_request_duration_seconds_bucket{endpoint=\"/token\",le=\"0.005\"} 2\n"))
        #expect(text.contains("tessera_http_request_duration_seconds_bucket{endpoint=\"/token\",le=\"2.5\"} 2\n"))
        #expect(text.contains("tessera_http_request_duration_seconds_bucket{endpoint=\"/token\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("tessera_http_request_duration_seconds_count{endpoint=\"/token\"} 3\n"))
        #expect(text.contains("tessera_tokens_issued_total{grant_type=\"client_credentials\"} 1\n"))
        #expect(text.contains("tessera_rate_limited_total{limit=\"token_per_client\"} 1\n"))
        #expect(text.hasSuffix("tessera_test_gauge 7\n"))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2, "sample line \(line)")
        }
    }
}

@Suite struct AuditLogTests {
    @Test("An audit line is one JSON object with time, event, request id, source and the fields")
    func line() throws {
        let lines = Mutex<[String]>([])
        let audit = AuditLog(sink: { line in lines.withLock { $0.append(line) } })
        RequestContext.$requestID.withValue("abc123") {
            RequestContext.$sourceAddress.withValue("203.0.113.7") {
                audit.record(.tokenIssued, ["client_id": "svc \"quoted\"", "jti": "j1"])
            }
        }
        let recorded = try #require(lines.withLock { $0.first })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(recorded.utf8)) as? [String: String])
        #expect(object["event"] == "token_issued")
        #expect(object["request_id"] == "abc123")
        #expect(object["source"] == "203.0.113.7")
        #expect(object["client_id"] == "svc \"quoted\"")
        #expect(object["jti"] == "j1")
        #expect(object["time"]?.hasSuffix("Z") == true)
        #expect(!recorded.contains("\n"))
    }

    @Test("Request ids are 16 hex digits and differ")
    func requestIDs() {
        let ids = (0..<100).map { _ in RequestContext.newRequestID() }
        #expect(Set(ids).count == 100)
        #expect(ids.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) })
    }
}
