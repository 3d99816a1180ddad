import JOSE
import Foundation
import OAuth
import Synchronization

/// Security events, one JSON object per line on standard output, apart from the operational
/// log (standard error). Every line has `time`, `event`, `request_id` and `source` (the client's
/// address); never a secret, password, code or token — a token appears only by its `jti`.
public struct AuditLog: Sendable {
    public enum Event: String, Sendable {
        case loginSucceeded = "login_succeeded"
        case loginFailed = "login_failed"
        case loginThrottled = "login_throttled"
        case clientAuthenticationFailed = "client_authentication_failed"
        case tokenIssued = "token_issued"
        case codeReused = "authorization_code_reused"
        case refreshReuseDetected = "refresh_reuse_detected"
        case refreshGraceRetry = "refresh_grace_retry"
        case familyRevoked = "family_revoked"
        case tokenRevoked = "token_revoked"
        case consentGranted = "consent_granted"
        case consentDenied = "consent_denied"
        case logout
        case keyRotated = "key_rotated"
        case rateLimited = "rate_limited"
    }

    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void = AuditLog.standardOutput) { self.sink = sink }

    /// Lines are written whole under a lock, so concurrent events never interleave.
    private static let outputLock = Mutex(())
    public static let standardOutput: @Sendable (String) -> Void = { line in
        outputLock.withLock { _ in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }

    public func record(_ event: Event, _ fields: KeyValuePairs<String, String> = [:]) {
        var line = "{\"time\":\(JSONText.string(Logger.timestamp())),\"event\":\(JSONText.string(event.rawValue)),"
            + "\"request_id\":\(JSONText.string(RequestContext.requestID)),\"source\":\(JSONText.string(RequestContext.sourceAddress))"
        for (key, value) in fields {
            line += ",\(JSONText.string(key)):\(JSONText.string(value))"
        }
        sink(line + "}")
    }
}

/// What every log line of a request can name: its id and where it came from. Set by the router
/// for the duration of each request (task-local, so it follows the request's tasks).
public enum RequestContext {
    @TaskLocal public static var requestID = "-"
    @TaskLocal public static var sourceAddress = "-"

    /// A new request id: 64 random bits in hex.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
