/// Size and count limits; each bounds memory or work an untrusted client can make the server spend.
public struct HTTPServerLimits: Sendable {
    /// Longest request line (method, target, version) in bytes; longer answers 414.
    /// Bounds the buffer a client can fill before the server knows what it wants.
    public var maxRequestLineBytes: Int = 8 * 1024

    /// Largest request head (request line plus header fields, and the trailer section of a
    /// chunked body) in bytes; larger answers 431. Bounds per-connection head memory.
    public var maxHeaderBytes: Int = 32 * 1024

    /// Most header field lines in one request; more answers 431.
    /// Bounds parsing work and the size of the header list per request.
    public var maxHeaderCount: Int = 100

    /// Largest request body in bytes after chunked decoding; larger answers 413.
    /// Bounds the memory one request can pin.
    public var maxBodyBytes: Int = 1024 * 1024

    /// Longest chunk extension (`;name=value` after a chunk size) in bytes; longer answers 400.
    /// Extensions are ignored, so this bounds bytes a client can make the server scan for nothing.
    public var maxChunkExtensionBytes: Int = 1024

    /// Open client connections across all event loops; a connection over the limit is
    /// answered 503 and closed at once. Bounds descriptors and per-connection memory.
    public var maxConnections: Int = 10_000

    /// Open connections from one source (an IPv4 address, or an IPv6 /64: see `SourceAddressKey`)
    /// across all event loops; a connection over the limit is answered 503 and closed at once, and
    /// counted in `HTTPServerStatistics.connectionsRefusedPerSource`. Bounds the share of
    /// `maxConnections` one client can take, so a single source cannot lock others out. Generous
    /// by default, for clients behind NATs and proxies that share one address; 0: no limit.
    public var maxConnectionsPerSource: Int = 256

    /// Requests being handled at once across the server; over the limit the server answers
    /// 503 with `Retry-After` without calling the handler. Bounds queued work and task memory.
    public var maxInFlightRequests: Int = 1024

    /// Requests one connection may have parsed but not yet answered (pipelining depth); the
    /// server stops reading that connection until answers drain. Bounds one client's share.
    public var maxPipelinedRequestsPerConnection: Int = 16

    /// Response bytes queued for one slow-reading connection before the server stops reading
    /// more requests from it. Bounds memory held for clients that send but do not read.
    public var maxBufferedResponseBytes: Int = 4 * 1024 * 1024

    public init() {}
}
