import TLS

/// A complete HTTP request as handed to a responder.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The raw request-target, e.g. `/authorize?client_id=a`.
    public var target: String
    /// The request-target before `?`, not percent-decoded.
    public var path: String
    /// The raw query after `?`, if the target has one.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body with any chunked framing removed.
    public var body: [UInt8]
    /// The IP literal of the socket peer, e.g. `127.0.0.1` or `::1`.
    public var remoteAddress: String
    public var remotePort: UInt16
    /// The client certificate verified in this connection's TLS handshake, on a listener that asks for
    /// one. (A certificate forwarded by a proxy is the application's to read from the headers.)
    public var clientCertificate: ClientCertificate?

    public init(
        method: HTTPMethod,
        target: String,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        remoteAddress: String = "127.0.0.1",
        remotePort: UInt16 = 0,
        clientCertificate: ClientCertificate? = nil
    ) {
        self.method = method
        self.target = target
        if let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            self.path = String(target[..<mark])
            self.query = String(target[target.index(after: mark)...])
        } else {
            self.path = target
            self.query = nil
        }
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.clientCertificate = clientCertificate
    }
}
