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

/// A connection's bytes through a TLS session over its socket: the handshake is driven by the first
/// reads (each `wouldBlock` names the readiness the session waits for), then reads decrypt and writes
/// encrypt. Everything runs inline on the connection's loop thread: no extra thread hop.
final class TLSTransport: ConnectionTransport {
    let fd: Int32
    let session: TLSSession
    private let onHandshake: (@Sendable (TLSHandshakeOutcome) -> Void)?
    private(set) var isHandshaking = true
    /// When the handshake started (accept time); `HTTPServerTimeouts.tlsHandshake` counts from here.
    let handshakeStartedAt: UInt64
    /// Called once when the handshake completes (the loop restarts the head's read timer from there).
    var onEstablished: (() -> Void)?
    /// A fatal TLS error happened: no close_notify may follow (OpenSSL forbids SSL_shutdown then).
    private var isBroken = false
    private var isCloseNotifySent = false
    /// The peer's close_notify arrived behind data that was returned first: the end of input is still to
    /// report, and the socket will not signal for it.
    private var isEndOfInputPending = false

    /// A session for an accepted socket; nil when out of memory.
    init?(fd: Int32, tls: HTTPServerTLS, now: UInt64) {
        guard let session = try? TLSSession(context: tls.contexts.current, socket: fd) else { return nil }
        self.fd = fd
        self.session = session
        self.onHandshake = tls.onHandshake
        self.handshakeStartedAt = now
    }

    /// The verified client certificate, once the handshake is complete.
    var clientCertificate: ClientCertificate? { session.clientCertificate }

    /// The loop's handshake deadline passed: counted, then the loop closes the connection.
    func handshakeTimedOut() {
        guard isHandshaking else { return }
        isBroken = true
        onHandshake?(.failed(.timeout))
    }

    /// Advances the handshake; nil once it is complete, else what the caller returns.
    private func advanceHandshake() -> TransportResult? {
        switch session.handshake() {
        case .complete:
            isHandshaking = false
            onHandshake?(.completed(resumed: session.isResumed))
            onEstablished?()
            onEstablished = nil
            return nil
        case .wantRead:
            return .wouldBlock(.readable)
        case .wantWrite:
            return .wouldBlock(.writable)
        case .failed(let reason):
            // Garbage, an old protocol, a refused certificate: an alert, if any, went out from inside the
            // session; nothing else may be sent, and the loop closes the connection.
            isBroken = true
            onHandshake?(.failed(reason))
            return .failed(0)
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        if isHandshaking, let step = advanceHandshake() { return step }
        if isEndOfInputPending { return .endOfFile }
        // Several records per call while the buffer has room: fewer passes through the loop.
        var total = 0
        while total < buffer.count {
            switch session.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...])) {
            case .bytes(let count):
                total += count
            case .wantRead:
                return total > 0 ? .transferred(total) : .wouldBlock(.readable)
            case .wantWrite:
                return total > 0 ? .transferred(total) : .wouldBlock(.writable)
            case .closed:
                if total > 0 { isEndOfInputPending = true }
                return total > 0 ? .transferred(total) : .endOfFile
            case .failed:
                isBroken = true
                return total > 0 ? .transferred(total) : .failed(0)
            }
        }
        return .transferred(total)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportResult {
        if isHandshaking, let step = advanceHandshake() { return step }
        switch session.write(bytes) {
        case .wrote(let count): return .transferred(count)
        case .wantWrite: return .wouldBlock(.writable)
        case .wantRead: return .wouldBlock(.readable)
        case .failed:
            isBroken = true
            return .failed(0)
        }
    }

    var hasBufferedInput: Bool { !isHandshaking && (isEndOfInputPending || session.bufferedPlaintextCount > 0) }

    func shutdownWrite() {
        sendCloseNotify()
        System.shutdownWrite(fd)
    }

    func close() {
        sendCloseNotify()
        System.close(fd)
    }

    /// Sends close_notify once (RFC 8446 §6.1): one non-blocking attempt, never after a fatal error or
    /// before the handshake completed, never waiting for the peer's.
    private func sendCloseNotify() {
        guard !isHandshaking, !isBroken, !isCloseNotifySent else { return }
        isCloseNotifySent = true
        _ = session.shutdown()
    }
}
