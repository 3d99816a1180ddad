/// A parsed request head plus the framing and connection decisions derived from it.
struct HTTPRequestHead: Sendable {
    enum Framing: Equatable, Sendable {
        case none
        case contentLength(Int)
        case chunked
    }

    var method: HTTPMethod
    var target: String
    var version: HTTPVersion
    var headers: HTTPHeaders
    var framing: Framing
    /// Whether the connection may carry another request after this one.
    var isKeepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    var expectsContinue: Bool
}

/// A complete request as the parser produces it.
struct ParsedRequest: Sendable {
    var head: HTTPRequestHead
    var body: [UInt8]
}
