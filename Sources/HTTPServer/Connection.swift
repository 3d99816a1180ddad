/// One client connection, owned by exactly one event loop thread.
///
/// Its life is the `State` the loop switches on: reading requests (possibly several
/// pipelined, each with a response slot); then, after an error, `Connection: close`, end of
/// input, overload or shutdown, draining the slots without parsing more; then closing once the
/// last response is sent, directly or after lingering (write side shut, unread input discarded
/// for a bounded time so the client sees the last response).
final class Connection {
    enum State: Equatable {
        /// Parsing requests and answering them in order.
        case reading
        /// No more requests will be parsed (error answered, `Connection: close`, overload or
        /// shutdown); the ones already parsed are still answered. `isPeerClosed`: the client
        /// closed its sending side.
        case draining(isPeerClosed: Bool)
        /// The last response is queued: no slot is left; close (or linger) once the output is sent.
        case closingAfterFlush(isPeerClosed: Bool)
        /// The write side is shut down; input is discarded until the deadline, then the connection closes.
        case lingering(until: UInt64)
        /// The descriptor is closed and the loop has forgotten the connection.
        case closed
    }

    /// A response position in pipeline order; filled when its handler finishes.
    struct Slot {
        var sequence: UInt64
        /// Bytes already serialized (interim `100 Continue`, or a server-made error response).
        var ready: [UInt8]?
        var response: HTTPResponse?
        var context: HTTPResponseEncoder.Context
    }

    let id: UInt64
    /// The socket, registered with the loop's epoll under `id`.
    let fd: Int32
    /// Reads and writes the connection's bytes (plain, or a TLS session over `fd`).
    let transport: any ConnectionTransport
    /// What the last blocked read waits for (a TLS read may need the socket writable).
    var readWaitsFor = SocketReadiness.readable
    /// What the last blocked write waits for (a TLS write may need the socket readable).
    var writeWaitsFor = SocketReadiness.writable
    let remoteAddress: String
    let remotePort: UInt16
    /// The source this connection counts against for `maxConnectionsPerSource` (nil: not counted).
    let source: SourceAddressKey?

    var parser: HTTPRequestParser
    /// Received bytes not yet consumed by the parser, from `inboundStart`.
    var inbound: [UInt8] = []
    var inboundStart = 0

    var slots: [Slot] = []
    var nextSequence: UInt64 = 0
    /// Serialized bytes not yet sent, from `outboundSent`.
    var outbound: [UInt8] = []
    var outboundSent = 0

    var state = State.reading

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

    /// The epoll interest currently registered.
    var registeredEvents: UInt32
    /// The earliest time something must happen on this connection (0 = none).
    var deadline: UInt64 = 0

    /// Input buffer capacity kept between requests; a larger buffer (after a big body) is released
    /// so idle connections do not pin memory.
    static let retainedInboundCapacity = 64 * 1024
    /// Output buffer capacity kept between responses; larger is released for the same reason.
    static let retainedOutboundCapacity = 256 * 1024

    init(id: UInt64, fd: Int32, transport: any ConnectionTransport, remoteAddress: String, remotePort: UInt16, source: SourceAddressKey?,
         limits: HTTPServerLimits, now: UInt64, registeredEvents: UInt32) {
        self.id = id
        self.fd = fd
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.source = source
        self.parser = HTTPRequestParser(limits: limits)
        self.headStartedAt = now
        self.idleSince = now
        self.lastWriteProgress = now
        self.registeredEvents = registeredEvents
    }

    var isClosed: Bool { state == .closed }

    /// Stops parsing requests; those already parsed are still answered.
    func stopReading() {
        if state == .reading {
            state = .draining(isPeerClosed: false)
        }
    }

    /// The response just queued is the last: close once it is sent.
    func closeAfterFlush() {
        switch state {
        case .reading:
            state = .closingAfterFlush(isPeerClosed: false)
        case .draining(let isPeerClosed):
            state = .closingAfterFlush(isPeerClosed: isPeerClosed)
        case .closingAfterFlush, .lingering, .closed:
            break
        }
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
