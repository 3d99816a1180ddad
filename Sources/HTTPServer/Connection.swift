/// One client connection, owned by exactly one event loop thread.
///
/// States, explicit: reading requests (possibly several pipelined, each with a response
/// slot), then — after an error, `Connection: close`, end of input or shutdown — draining
/// the slots without parsing more, then either closed or lingering (write side shut,
/// unread input discarded for a bounded time so the client sees the last response).
final class Connection {
    /// A response position in pipeline order; filled when its handler finishes.
    struct Slot {
        var sequence: UInt64
        /// Bytes already serialized (interim `100 Continue`, or a server-made error response).
        var ready: [UInt8]?
        var response: HTTPResponse?
        var context: HTTPResponseEncoder.Context
    }

    let id: UInt64
    let fd: Int32
    let remoteAddress: String
    let remotePort: UInt16

    var parser: HTTPRequestParser
    /// The TLS session on a TLS listener (nil: plain HTTP).
    var tls: TLSConnection?
    /// Received bytes not yet consumed by the parser, from `inboundStart`.
    var inbound: [UInt8] = []
    var inboundStart = 0

    var slots: [Slot] = []
    var nextSequence: UInt64 = 0
    /// Serialized bytes not yet sent, from `outboundSent`.
    var outbound: [UInt8] = []
    var outboundSent = 0

    /// No more requests will be parsed (error answered, `Connection: close`, overload or shutdown).
    var stopsParsing = false
    /// The peer closed its sending side.
    var isReadClosed = false
    /// Close (or linger) once `outbound` is sent.
    var closesAfterFlush = false
    /// The write side is shut down and input is being discarded until `lingerDeadline`.
    var isLingering = false
    var isClosed = false

    /// Whether `100 Continue` was already queued for the request whose body is being read.
    var sentContinue = false
    /// When the head being read started to arrive (or the connection was accepted).
    var headStartedAt: UInt64?
    /// When the body being read started (its head completed).
    var bodyStartedAt: UInt64?
    /// When the connection last became idle between requests.
    var idleSince: UInt64
    /// When a send last made progress.
    var lastWriteProgress: UInt64
    var lingerDeadline: UInt64 = 0

    /// The epoll interest currently registered.
    var registeredEvents: UInt32
    /// The earliest time something must happen on this connection (0 = none).
    var deadline: UInt64 = 0

    /// Input buffer capacity kept between requests; a larger buffer (after a big body) is released
    /// so idle connections do not pin memory.
    static let retainedInboundCapacity = 64 * 1024
    /// Output buffer capacity kept between responses; larger is released for the same reason.
    static let retainedOutboundCapacity = 256 * 1024

    init(id: UInt64, fd: Int32, remoteAddress: String, remotePort: UInt16, limits: HTTPServerLimits, now: UInt64, registeredEvents: UInt32) {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.parser = HTTPRequestParser(limits: limits)
        self.headStartedAt = now
        self.idleSince = now
        self.lastWriteProgress = now
        self.registeredEvents = registeredEvents
    }

    var hasUnsentOutput: Bool { outboundSent < outbound.count }

    var unsentOutputCount: Int { outbound.count - outboundSent }

    var hasBufferedInput: Bool { inboundStart < inbound.count }

    /// Nothing in flight, nothing to send, no request partly received.
    var isIdle: Bool { slots.isEmpty && !hasUnsentOutput && !hasBufferedInput && !parser.isMidRequest }

    /// Drops consumed input, keeping the buffer small.
    func compactInbound() {
        if inboundStart >= inbound.count {
            if inbound.capacity > Self.retainedInboundCapacity {
                inbound = []
            } else {
                inbound.removeAll(keepingCapacity: true)
            }
            inboundStart = 0
        } else if inboundStart > 0 {
            inbound.removeFirst(inboundStart)
            inboundStart = 0
        }
    }
}
