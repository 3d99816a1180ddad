import TLS

/// TLS for a listener: where new connections get their context, and who hears about handshakes.
public struct HTTPServerTLS: Sendable {
    /// The context source; each new connection takes `current`, so a reload applies to new connections
    /// while open ones finish on the context they started with.
    public var contexts: TLSReloader
    /// Told about each handshake's outcome (for metrics), on the event-loop thread: keep it short.
    public var onHandshake: (@Sendable (TLSHandshakeOutcome) -> Void)?

    public init(contexts: TLSReloader, onHandshake: (@Sendable (TLSHandshakeOutcome) -> Void)? = nil) {
        self.contexts = contexts
        self.onHandshake = onHandshake
    }
}

/// How a connection's TLS handshake ended.
public enum TLSHandshakeOutcome: Sendable, Equatable {
    case completed(resumed: Bool)
    case failed(TLSHandshakeFailure)
}

/// A connection's TLS session and what it is waiting for, owned by the connection's loop thread.
final class TLSConnection {
    let session: TLSSession
    var isHandshaking = true
    /// When the handshake started (accept time); the handshake deadline counts from here.
    let handshakeStartedAt: UInt64
    /// A read needs the socket writable (a TLS 1.3 key update answer or a ticket still to send).
    var readWantsWrite = false
    /// A write needs the socket readable.
    var writeWantsRead = false
    /// A fatal TLS error happened: no close_notify may follow (OpenSSL forbids SSL_shutdown then).
    var isBroken = false
    var isCloseNotifySent = false
    /// The peer's close_notify arrived behind data that was returned first; the end of input is still to report.
    var sawCloseNotify = false

    init(session: TLSSession, now: UInt64) {
        self.session = session
        self.handshakeStartedAt = now
    }
}
