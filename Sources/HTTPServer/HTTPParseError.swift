/// Why a request could not be parsed; each maps to the status the server answers before closing.
public enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The request line exceeds `maxRequestLineBytes` (414).
    case requestLineTooLong
    /// The head (or a chunked trailer section) exceeds `maxHeaderBytes` (431).
    case headerTooLarge
    /// More than `maxHeaderCount` header fields (431).
    case tooManyHeaderFields
    /// The body exceeds `maxBodyBytes` (413).
    case bodyTooLarge
    /// A well-formed version other than HTTP/1.0 or HTTP/1.1 (505).
    case unsupportedVersion
    /// An `Expect` value other than `100-continue` (417).
    case unsupportedExpectation
    /// A line ends in LF without the CR the grammar requires (400).
    case bareLineFeed
    /// The request line is not `method SP request-target SP HTTP-version` (400).
    case malformedRequestLine
    /// The method contains a character outside `tchar` (400).
    case invalidMethod
    /// A well-formed method the server does not know, such as `FOO` or a lower-case `get` (501).
    case unrecognizedMethod
    /// The request-target is not origin-form (or `*` for OPTIONS), or contains invalid bytes (400).
    case invalidTarget
    /// The version is not `HTTP/DIGIT.DIGIT` (400).
    case malformedVersion
    /// A header line starts with whitespace: obsolete line folding (400).
    case obsoleteLineFolding
    /// Whitespace between a field name and its colon (400).
    case whitespaceBeforeColon
    /// A field name is empty, lacks a colon, or contains a character outside `tchar` (400).
    case invalidHeaderName
    /// A field value contains a control character (400).
    case invalidHeaderValue
    /// An HTTP/1.1 request without `Host`, more than one `Host`, or a `Host` that is not `uri-host [":" port]` (400).
    case invalidHost
    /// `Content-Length` is not a plain decimal number that fits (400).
    case invalidContentLength
    /// More than one `Content-Length` field, even with equal values (400).
    case duplicateContentLength
    /// Both `Content-Length` and `Transfer-Encoding` (400).
    case contentLengthWithTransferEncoding
    /// `Transfer-Encoding` whose final coding is not `chunked`, that applies `chunked` twice, is not a
    /// list of codings, or is in an HTTP/1.0 request (400).
    case invalidTransferEncoding
    /// `Transfer-Encoding` ending in `chunked` with another coding the server does not implement, such as `gzip, chunked` (501).
    case unimplementedTransferCoding
    /// A chunk size that is empty, not hexadecimal, or overflows (400).
    case invalidChunkSize
    /// Chunk data not followed by CRLF, or a malformed chunk line or trailer (400).
    case invalidChunkFraming
    /// A chunk extension longer than `maxChunkExtensionBytes` (400).
    case chunkExtensionTooLong

    /// The status the server answers with.
    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: .uriTooLong
        case .headerTooLarge, .tooManyHeaderFields: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedExpectation: .expectationFailed
        case .unrecognizedMethod, .unimplementedTransferCoding: .notImplemented
        default: .badRequest
        }
    }

    public var description: String {
        switch self {
        case .requestLineTooLong: "request line too long"
        case .headerTooLarge: "request header section too large"
        case .tooManyHeaderFields: "too many header fields"
        case .bodyTooLarge: "request body too large"
        case .unsupportedVersion: "HTTP version not supported"
        case .unsupportedExpectation: "unsupported expectation"
        case .bareLineFeed: "line ends in bare LF"
        case .malformedRequestLine: "malformed request line"
        case .invalidMethod: "invalid method"
        case .unrecognizedMethod: "method not implemented"
        case .invalidTarget: "invalid request-target"
        case .malformedVersion: "malformed HTTP version"
        case .obsoleteLineFolding: "obsolete line folding"
        case .whitespaceBeforeColon: "whitespace between field name and colon"
        case .invalidHeaderName: "invalid header field name"
        case .invalidHeaderValue: "invalid header field value"
        case .invalidHost: "missing, repeated or invalid Host"
        case .invalidContentLength: "invalid Content-Length"
        case .duplicateContentLength: "repeated Content-Length"
        case .contentLengthWithTransferEncoding: "Content-Length with Transfer-Encoding"
        case .invalidTransferEncoding: "invalid Transfer-Encoding"
        case .unimplementedTransferCoding: "transfer coding not implemented"
        case .invalidChunkSize: "invalid chunk size"
        case .invalidChunkFraming: "invalid chunk framing"
        case .chunkExtensionTooLong: "chunk extension too long"
        }
    }
}
