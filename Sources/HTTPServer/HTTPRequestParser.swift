#if canImport(Glibc)
import Glibc
#endif

/// The outcome of one parser step, in the picohttpparser style.
enum HTTPParseResult {
    /// A whole request was parsed from the first `consumed` bytes.
    case complete(ParsedRequest, consumed: Int)
    /// No whole request yet; the first `consumed` bytes were taken in (as body) and must be dropped.
    case needMoreData(consumed: Int)
    /// The input is not an acceptable request; answer `error.status` and close.
    case invalid(HTTPParseError)
}

private let cr: UInt8 = 0x0D
private let lf: UInt8 = 0x0A
private let space: UInt8 = 0x20
private let tab: UInt8 = 0x09

/// `tchar` from RFC 9110 §5.6.2.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
    default: false
    }
}

/// `field-vchar` / SP / HTAB from RFC 9110 §5.5 (obs-text allowed, controls and DEL not).
@inline(__always)
private func isFieldValueByte(_ byte: UInt8) -> Bool {
    byte == tab || (byte >= 0x20 && byte != 0x7F)
}

@inline(__always)
private func isHexDigit(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x46, 0x61...0x66: true
    default: false
    }
}

/// `unreserved` from RFC 3986 §2.3.
@inline(__always)
private func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: true
    default: false
    }
}

/// `sub-delims` from RFC 3986 §2.2.
@inline(__always)
private func isSubDelimiter(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: true
    default: false
    }
}

/// Compares bytes against a lowercase ASCII literal, ignoring the bytes' case.
@inline(__always)
private func bytes(_ bytes: UnsafeRawBufferPointer, equalLowercase literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    return literal.withUTF8Buffer { expected in
        for index in 0..<expected.count where asciiLowercased(bytes[index]) != expected[index] {
            return false
        }
        return true
    }
}

@inline(__always)
private func string(_ bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// An incremental HTTP/1.1 request parser (RFC 9112), strict about framing so that no
/// request can be read two ways by two parsers (request smuggling).
///
/// Contract: the caller keeps unconsumed input, passes it again with new bytes appended,
/// and drops exactly `consumed` bytes from the front after each call. The parser never
/// keeps pointers into the input. Scanning for the end of the head resumes where the last
/// call stopped, so trickled input costs linear time.
struct HTTPRequestParser {
    private struct HeadScan {
        /// Where the request line starts (after ignored leading blank lines).
        var headStart = 0
        /// Where the line being scanned starts.
        var lineStart = 0
        /// Where the search for the next LF resumes.
        var scanIndex = 0
        var fieldLines = 0
        var hasRequestLine = false
    }

    private enum BodyProgress {
        case remaining(Int)
        case chunked(ChunkedBodyDecoder)
    }

    private enum State {
        case head(HeadScan)
        case body(HTTPRequestHead, BodyProgress, [UInt8])
    }

    let limits: HTTPServerLimits
    private var state: State = .head(HeadScan())

    init(limits: HTTPServerLimits) {
        self.limits = limits
    }

    /// The head of the request whose body is being read, if any.
    var headAwaitingBody: HTTPRequestHead? {
        if case .body(let head, _, _) = state { return head }
        return nil
    }

    /// Whether part of a request has been taken in (its head is complete or bytes were scanned).
    var isMidRequest: Bool {
        switch state {
        case .head(let scan): scan.scanIndex > 0
        case .body: true
        }
    }

    mutating func parse(_ input: UnsafeRawBufferPointer) -> HTTPParseResult {
        switch state {
        case .head(var scan):
            let result = scanHead(input, &scan)
            switch result {
            case .incomplete:
                state = .head(scan)
                return .needMoreData(consumed: 0)
            case .failed(let error):
                state = .head(HeadScan())
                return .invalid(error)
            case .complete(let headEnd):
                state = .head(HeadScan())
                let head: HTTPRequestHead
                switch parseHead(UnsafeRawBufferPointer(rebasing: input[scan.headStart..<headEnd])) {
                case .success(let parsed): head = parsed
                case .failure(let error): return .invalid(error)
                }
                let rest = UnsafeRawBufferPointer(rebasing: input[headEnd...])
                switch head.framing {
                case .none:
                    return .complete(ParsedRequest(head: head, body: []), consumed: headEnd)
                case .contentLength(let length):
                    if length == 0 {
                        return .complete(ParsedRequest(head: head, body: []), consumed: headEnd)
                    }
                    return parseBody(rest, head: head, progress: .remaining(length), body: [], alreadyConsumed: headEnd)
                case .chunked:
                    let decoder = ChunkedBodyDecoder(
                        maxBodyBytes: limits.maxBodyBytes,
                        maxExtensionBytes: limits.maxChunkExtensionBytes,
                        maxTrailerBytes: limits.maxHeaderBytes
                    )
                    return parseBody(rest, head: head, progress: .chunked(decoder), body: [], alreadyConsumed: headEnd)
                }
            }
        case .body(let head, let progress, let body):
            state = .head(HeadScan())
            return parseBody(input, head: head, progress: progress, body: body, alreadyConsumed: 0)
        }
    }

    private mutating func parseBody(
        _ input: UnsafeRawBufferPointer,
        head: HTTPRequestHead,
        progress: BodyProgress,
        body: [UInt8],
        alreadyConsumed: Int
    ) -> HTTPParseResult {
        var body = body
        switch progress {
        case .remaining(let remaining):
            if body.isEmpty {
                // Reserve for what is here, not what is promised: a promise costs the client nothing.
                body.reserveCapacity(min(remaining, max(input.count, 16 * 1024)))
            }
            let take = min(remaining, input.count)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<take]))
            if take == remaining {
                return .complete(ParsedRequest(head: head, body: body), consumed: alreadyConsumed + take)
            }
            state = .body(head, .remaining(remaining - take), body)
            return .needMoreData(consumed: alreadyConsumed + take)
        case .chunked(var decoder):
            switch decoder.decode(input, into: &body) {
            case .done(let consumed):
                return .complete(ParsedRequest(head: head, body: body), consumed: alreadyConsumed + consumed)
            case .needMoreData:
                state = .body(head, .chunked(decoder), body)
                return .needMoreData(consumed: alreadyConsumed + input.count)
            case .invalid(let error):
                return .invalid(error)
            }
        }
    }

    // MARK: Finding the end of the head

    private enum ScanResult {
        case incomplete
        case complete(headEnd: Int)
        case failed(HTTPParseError)
    }

    /// Finds the blank line that ends the head, enforcing line endings and the size limits on the way.
    private func scanHead(_ input: UnsafeRawBufferPointer, _ scan: inout HeadScan) -> ScanResult {
        guard let base = input.baseAddress else { return .incomplete }
        let count = input.count
        while scan.scanIndex < count {
            guard let found = memchr(base + scan.scanIndex, Int32(lf), count - scan.scanIndex) else {
                scan.scanIndex = count
                break
            }
            let lineFeed = base.distance(to: UnsafeRawPointer(found))
            scan.scanIndex = lineFeed + 1
            if !scan.hasRequestLine {
                let lineLength = lineFeed - scan.lineStart - (lineFeed > scan.lineStart && input[lineFeed - 1] == cr ? 1 : 0)
                if lineLength > limits.maxRequestLineBytes {
                    return .failed(.requestLineTooLong)
                }
            }
            if lineFeed + 1 > limits.maxHeaderBytes {
                return .failed(.headerTooLarge)
            }
            // RFC 9112 §2.2: a recipient MAY accept bare LF, but two parsers that disagree
            // about line ends can frame differently; this server requires CRLF.
            guard lineFeed > scan.lineStart, input[lineFeed - 1] == cr else {
                return .failed(.bareLineFeed)
            }
            let isBlank = lineFeed - 1 == scan.lineStart
            if !scan.hasRequestLine {
                if isBlank {
                    // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line
                    // SHOULD ignore at least one empty line (CRLF) received prior to the request-line."
                    scan.headStart = lineFeed + 1
                } else {
                    scan.hasRequestLine = true
                }
            } else if isBlank {
                return .complete(headEnd: lineFeed + 1)
            } else {
                scan.fieldLines += 1
                if scan.fieldLines > limits.maxHeaderCount {
                    return .failed(.tooManyHeaderFields)
                }
            }
            scan.lineStart = lineFeed + 1
        }
        if !scan.hasRequestLine {
            let partial = count - scan.lineStart - (count > scan.lineStart && input[count - 1] == cr ? 1 : 0)
            if partial > limits.maxRequestLineBytes {
                return .failed(.requestLineTooLong)
            }
        }
        if count > limits.maxHeaderBytes {
            return .failed(.headerTooLarge)
        }
        return .incomplete
    }

    // MARK: Parsing a complete head

    /// Parses a head whose lines are all known to end in CRLF, ending with the blank line.
    private func parseHead(_ head: UnsafeRawBufferPointer) -> Result<HTTPRequestHead, HTTPParseError> {
        guard let base = head.baseAddress,
              let firstLineFeed = memchr(base, Int32(lf), head.count)
        else { return .failure(.malformedRequestLine) }
        let requestLineEnd = base.distance(to: UnsafeRawPointer(firstLineFeed)) - 1
        let requestLine = UnsafeRawBufferPointer(rebasing: head[0..<requestLineEnd])

        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
        guard let firstSpace = requestLine.firstIndex(of: space) else { return .failure(.malformedRequestLine) }
        let methodBytes = UnsafeRawBufferPointer(rebasing: requestLine[0..<firstSpace])
        guard !methodBytes.isEmpty else { return .failure(.malformedRequestLine) }
        for byte in methodBytes where !isTokenByte(byte) {
            return .failure(.invalidMethod)
        }
        let targetStart = firstSpace + 1
        var targetEnd = targetStart
        while targetEnd < requestLine.count && requestLine[targetEnd] != space {
            let byte = requestLine[targetEnd]
            // RFC 3986 characters only: no controls, DEL, non-ASCII, or fragment.
            guard byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#") else {
                return .failure(.invalidTarget)
            }
            targetEnd += 1
        }
        guard targetEnd > targetStart, targetEnd < requestLine.count else { return .failure(.malformedRequestLine) }
        let versionBytes = UnsafeRawBufferPointer(rebasing: requestLine[(targetEnd + 1)...])
        let version: HTTPVersion
        switch parseVersion(versionBytes) {
        case .success(let parsed): version = parsed
        case .failure(let error): return .failure(error)
        }
        let method = methodFromBytes(methodBytes)
        // RFC 9110 §9.1: "An origin server that receives a request method that is unrecognized or not
        // implemented SHOULD respond with the 501 (Not Implemented) status code." Methods are
        // case-sensitive, so `get` is not GET.
        guard Self.recognizedMethods.contains(method) else { return .failure(.unrecognizedMethod) }
        let targetBytes = UnsafeRawBufferPointer(rebasing: requestLine[targetStart..<targetEnd])
        // RFC 9112 §3.2: origin-form for ordinary requests; asterisk-form only for server-wide OPTIONS.
        // Absolute- and authority-form are for proxies, which this server is not.
        if targetBytes[0] != UInt8(ascii: "/") {
            guard targetBytes.count == 1, targetBytes[0] == UInt8(ascii: "*"), method == .OPTIONS else {
                return .failure(.invalidTarget)
            }
        }

        var headers = HTTPHeaders()
        var contentLength: Int?
        var contentLengthCount = 0
        var transferEncodingCount = 0
        var transferCodings = TransferCodings()
        var hostCount = 0
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false

        var lineStart = requestLineEnd + 2
        while lineStart < head.count {
            guard let found = memchr(base + lineStart, Int32(lf), head.count - lineStart) else { break }
            let lineEnd = base.distance(to: UnsafeRawPointer(found)) - 1
            if lineEnd == lineStart { break }
            let line = UnsafeRawBufferPointer(rebasing: head[lineStart..<lineEnd])
            lineStart = lineEnd + 2

            // RFC 9112 §5.2: obs-fold is deprecated; a server may reject it with 400.
            if line[0] == space || line[0] == tab {
                return .failure(.obsoleteLineFolding)
            }
            var colon = 0
            while colon < line.count && line[colon] != UInt8(ascii: ":") {
                let byte = line[colon]
                if byte == space || byte == tab {
                    // RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad Request),
                    // any received request message that contains whitespace between a header field name and colon."
                    return .failure(.whitespaceBeforeColon)
                }
                guard isTokenByte(byte) else { return .failure(.invalidHeaderName) }
                colon += 1
            }
            guard colon > 0, colon < line.count else { return .failure(.invalidHeaderName) }
            var valueStart = colon + 1
            var valueEnd = line.count
            while valueStart < valueEnd && (line[valueStart] == space || line[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (line[valueEnd - 1] == space || line[valueEnd - 1] == tab) { valueEnd -= 1 }
            let nameBytes = UnsafeRawBufferPointer(rebasing: line[0..<colon])
            let valueBytes = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
            // RFC 9110 §5.5: field values must not contain CR, LF, NUL or other controls.
            for byte in valueBytes where !isFieldValueByte(byte) {
                return .failure(.invalidHeaderValue)
            }

            switch nameBytes.count {
            case 4 where bytes(nameBytes, equalLowercase: "host"):
                hostCount += 1
                // RFC 9112 §3.2: a server MUST answer 400 to a request with "a Host header field with
                // an invalid field value".
                guard isValidHost(valueBytes) else { return .failure(.invalidHost) }
            case 6 where bytes(nameBytes, equalLowercase: "expect"):
                // RFC 9110 §10.1.1: "A server that receives an Expect field value containing a member
                // other than 100-continue MAY respond with a 417 (Expectation Failed)"; and a server
                // "MUST ignore" a 100-continue expectation in an HTTP/1.0 request.
                if bytes(valueBytes, equalLowercase: "100-continue") {
                    expectsContinue = version == .http1_1
                } else {
                    return .failure(.unsupportedExpectation)
                }
            case 10 where bytes(nameBytes, equalLowercase: "connection"):
                forEachListMember(valueBytes) { member in
                    if bytes(member, equalLowercase: "close") {
                        connectionClose = true
                    } else if bytes(member, equalLowercase: "keep-alive") {
                        connectionKeepAlive = true
                    }
                }
            case 14 where bytes(nameBytes, equalLowercase: "content-length"):
                contentLengthCount += 1
                // RFC 9112 §6.3: a message with an invalid Content-Length is unrecoverable; even
                // repeated equal values are refused, so no two parsers can disagree on the length.
                if contentLengthCount > 1 { return .failure(.duplicateContentLength) }
                guard let length = parseContentLength(valueBytes) else { return .failure(.invalidContentLength) }
                contentLength = length
            case 17 where bytes(nameBytes, equalLowercase: "transfer-encoding"):
                transferEncodingCount += 1
                forEachListMember(valueBytes) { member in transferCodings.add(member) }
            default:
                break
            }
            headers.add(name: string(nameBytes), value: string(valueBytes))
        }

        // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
        // request message that lacks a Host header field and to any request message that contains
        // more than one Host header field line".
        if hostCount > 1 || (hostCount == 0 && version == .http1_1) {
            return .failure(.invalidHost)
        }
        let framing: HTTPRequestHead.Framing
        if transferEncodingCount > 0 {
            // RFC 9112 §6.1: Content-Length with Transfer-Encoding "ought to be handled as an error";
            // refusing it is the only safe choice (request smuggling).
            if contentLengthCount > 0 { return .failure(.contentLengthWithTransferEncoding) }
            // RFC 9112 §6.1: a server that receives Transfer-Encoding in HTTP/1.0 "MUST treat the
            // message as if the framing is faulty".
            guard version == .http1_1 else { return .failure(.invalidTransferEncoding) }
            // RFC 9112 §6.3: "If a Transfer-Encoding header field is present in a request and the
            // chunked transfer coding is not the final encoding, the message body length cannot be
            // determined reliably; the server MUST respond with the 400 (Bad Request) status code";
            // and RFC 9112 §7: "A sender MUST NOT apply the chunked transfer coding more than once".
            guard transferCodings.isChunkedOnceAndLast else { return .failure(.invalidTransferEncoding) }
            // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does
            // not understand SHOULD respond with 501 (Not Implemented)." Chunked is the only one here.
            guard !transferCodings.hasOtherCoding else { return .failure(.unimplementedTransferCoding) }
            framing = .chunked
        } else if let contentLength {
            if contentLength > limits.maxBodyBytes { return .failure(.bodyTooLarge) }
            framing = .contentLength(contentLength)
        } else {
            framing = .none
        }
        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
        let isKeepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return .success(HTTPRequestHead(
            method: method,
            target: string(targetBytes),
            version: version,
            headers: headers,
            framing: framing,
            isKeepAlive: isKeepAlive,
            expectsContinue: expectsContinue && framing != .none
        ))
    }

    /// The methods RFC 9110 §9.3 defines, and PATCH (RFC 5789); any other is answered 501.
    static let recognizedMethods: Set<HTTPMethod> = [.GET, .HEAD, .POST, .PUT, .DELETE, .CONNECT, .OPTIONS, .TRACE, .PATCH]

    /// The transfer codings named by a request's `Transfer-Encoding` field lines, in order.
    private struct TransferCodings {
        var count = 0
        var chunkedCount = 0
        var isLastChunked = false
        /// A coding other than chunked, such as gzip: understood by the grammar, not implemented here.
        var hasOtherCoding = false
        /// A member that is not `token *( OWS ";" OWS transfer-parameter )`.
        var isMalformed = false

        mutating func add(_ member: UnsafeRawBufferPointer) {
            count += 1
            var nameEnd = 0
            while nameEnd < member.count && member[nameEnd] != UInt8(ascii: ";") { nameEnd += 1 }
            let name = UnsafeRawBufferPointer(rebasing: member[0..<nameEnd])
            isLastChunked = nameEnd == member.count && bytes(name, equalLowercase: "chunked")
            if isLastChunked {
                chunkedCount += 1
            } else if !name.isEmpty && name.allSatisfy(isTokenByte) {
                hasOtherCoding = true
            } else {
                isMalformed = true
            }
        }

        /// Chunked is applied exactly once, last, and every member is well formed.
        var isChunkedOnceAndLast: Bool { count > 0 && !isMalformed && isLastChunked && chunkedCount == 1 }
    }

    private func parseVersion(_ bytes: UnsafeRawBufferPointer) -> Result<HTTPVersion, HTTPParseError> {
        // HTTP-version = "HTTP" "/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
        guard bytes.count == 8,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"),
              bytes[2] == UInt8(ascii: "T"), bytes[3] == UInt8(ascii: "P"),
              bytes[4] == UInt8(ascii: "/"), bytes[6] == UInt8(ascii: "."),
              (0x30...0x39).contains(bytes[5]), (0x30...0x39).contains(bytes[7])
        else { return .failure(.malformedVersion) }
        let version = HTTPVersion(major: Int(bytes[5] - 0x30), minor: Int(bytes[7] - 0x30))
        guard version == .http1_1 || version == .http1_0 else { return .failure(.unsupportedVersion) }
        return .success(version)
    }

    private func methodFromBytes(_ bytes: UnsafeRawBufferPointer) -> HTTPMethod {
        switch bytes.count {
        case 3 where bytes[0] == UInt8(ascii: "G") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "T"):
            .GET
        case 4 where bytes[0] == UInt8(ascii: "P") && bytes[1] == UInt8(ascii: "O") && bytes[2] == UInt8(ascii: "S") && bytes[3] == UInt8(ascii: "T"):
            .POST
        case 4 where bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "A") && bytes[3] == UInt8(ascii: "D"):
            .HEAD
        default:
            HTTPMethod(rawValue: string(bytes))
        }
    }

    /// `Content-Length = 1*DIGIT` (RFC 9110 §8.6): no sign, no spaces, no list, no overflow.
    private func parseContentLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(Int(byte - 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    /// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2), `uri-host` as RFC 3986 §3.2.2 defines it
    /// (IP-literal, IPv4address or reg-name; empty is allowed, RFC 9112 §3.2), `port = *DIGIT`.
    private func isValidHost(_ value: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        if !value.isEmpty && value[0] == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")),
                  isIPLiteral(UnsafeRawBufferPointer(rebasing: value[1..<close]))
            else { return false }
            index = close + 1
        } else {
            // reg-name = *( unreserved / pct-encoded / sub-delims ), which covers IPv4address.
            while index < value.count && value[index] != UInt8(ascii: ":") {
                if value[index] == UInt8(ascii: "%") {
                    guard index + 2 < value.count, isHexDigit(value[index + 1]), isHexDigit(value[index + 2]) else { return false }
                    index += 3
                    continue
                }
                guard isUnreserved(value[index]) || isSubDelimiter(value[index]) else { return false }
                index += 1
            }
        }
        if index == value.count { return true }
        guard value[index] == UInt8(ascii: ":") else { return false }
        for byte in value[(index + 1)...] where !(0x30...0x39).contains(byte) {
            return false
        }
        return true
    }

    /// `IP-literal` between the brackets: an IPv6 address, or `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
    private func isIPLiteral(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return false }
        if bytes[0] == UInt8(ascii: "v") || bytes[0] == UInt8(ascii: "V") {
            guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")), dot > 1, dot + 1 < bytes.count else { return false }
            return bytes[1..<dot].allSatisfy(isHexDigit)
                && bytes[(dot + 1)...].allSatisfy { isUnreserved($0) || isSubDelimiter($0) || $0 == UInt8(ascii: ":") }
        }
        // The longest IPv6 text form is 45 characters (INET6_ADDRSTRLEN less its terminator).
        guard bytes.count <= 45, bytes.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
            return false
        }
        var text = [CChar](repeating: 0, count: 46)
        for (offset, byte) in bytes.enumerated() { text[offset] = CChar(bitPattern: byte) }
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    /// Calls `body` with each non-empty member of a comma-separated list, OWS trimmed.
    private func forEachListMember(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var memberStart = start
            var memberEnd = end
            while memberStart < memberEnd && (bytes[memberStart] == space || bytes[memberStart] == tab) { memberStart += 1 }
            while memberEnd > memberStart && (bytes[memberEnd - 1] == space || bytes[memberEnd - 1] == tab) { memberEnd -= 1 }
            if memberEnd > memberStart {
                body(UnsafeRawBufferPointer(rebasing: bytes[memberStart..<memberEnd]))
            }
            start = end + 1
        }
    }
}
