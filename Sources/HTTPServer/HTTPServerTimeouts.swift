/// Time limits; each bounds how long a client can hold a connection without making progress.
public struct HTTPServerTimeouts: Sendable {
    /// Time for a whole request head to arrive, from its first byte (or from accept for a new
    /// connection). Bounds slowloris attacks that trickle header bytes to hold connections open.
    public var headerRead: Duration = .seconds(10)

    /// Time for a whole request body to arrive after its head. Bounds slow-body (R.U.D.Y.) attacks.
    public var bodyRead: Duration = .seconds(30)

    /// Time an idle keep-alive connection is kept between requests. Bounds descriptors held by idle clients.
    public var keepAliveIdle: Duration = .seconds(60)

    /// Time a write may wait for the client to accept more bytes (between two successful sends).
    /// Bounds clients that request but never read (slow-read attacks).
    public var write: Duration = .seconds(30)

    /// Time spent discarding unread input after an error response and half-close, so the client
    /// can read the response before the socket is closed (and a reset discards it). Bounds that courtesy.
    public var lingeringClose: Duration = .seconds(2)

    /// Time for a TLS handshake to complete, from accept. Bounds clients that open TLS connections and
    /// stall (or trickle) the handshake to hold descriptors and handshake state.
    public var tlsHandshake: Duration = .seconds(10)

    public init() {}
}
