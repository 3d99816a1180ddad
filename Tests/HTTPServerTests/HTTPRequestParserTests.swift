import Testing
@testable import HTTPServer

/// What feeding some input to a parser produced, rendered for comparison across splits.
private struct ParseOutcome: Equatable, CustomStringConvertible {
    var requests: [String] = []
    var error: HTTPParseError?

    var description: String { "requests: \(requests), error: \(String(describing: error))" }
}

private func render(_ request: ParsedRequest) -> String {
    let head = request.head
    let headers = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
    return "\(head.method) \(head.target) \(head.version) [\(headers)] \(head.framing) keepAlive=\(head.isKeepAlive) "
        + "continue=\(head.expectsContinue) body=\(String(decoding: request.body, as: UTF8.self))"
}

/// Feeds `input` in the given chunk sizes, keeping unconsumed bytes as a connection would.
private func feed(_ input: [UInt8], chunkSizes: [Int], limits: HTTPServerLimits) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    var buffer: [UInt8] = []
    var offset = 0
    for size in chunkSizes {
        buffer.append(contentsOf: input[offset..<(offset + size)])
        offset += size
        parsing: while true {
            let result = buffer.withUnsafeBytes { parser.parse($0) }
            switch result {
            case .complete(let request, let consumed):
                outcome.requests.append(render(request))
                buffer.removeFirst(consumed)
            case .needMoreData(let consumed):
                buffer.removeFirst(consumed)
                break parsing
            case .invalid(let error):
                outcome.error = error
                return outcome
            }
        }
    }
    return outcome
}

/// Every way of splitting `input` the conventions ask for: whole, byte by byte, and in two at every offset.
private func splits(of count: Int) -> [[Int]] {
    var result: [[Int]] = [[count], Array(repeating: 1, count: count)]
    for offset in 1..<max(count, 1) {
        result.append([offset, count - offset])
    }
    return result
}

/// Parses `text` every way and checks all ways agree; returns the outcome of the whole input.
private func parseEveryWay(_ text: String, limits: HTTPServerLimits = testLimits) -> ParseOutcome {
    let input = Array(text.utf8)
    let whole = feed(input, chunkSizes: [input.count], limits: limits)
    for chunks in splits(of: input.count) {
        let outcome = feed(input, chunkSizes: chunks, limits: limits)
        #expect(outcome == whole, "split \(chunks.count == input.count ? "byte by byte" : "\(chunks)") differs")
        if outcome != whole { break }
    }
    return whole
}

private let testLimits: HTTPServerLimits = {
    var limits = HTTPServerLimits()
    limits.maxRequestLineBytes = 64
    limits.maxHeaderBytes = 256
    limits.maxHeaderCount = 5
    limits.maxBodyBytes = 32
    limits.maxChunkExtensionBytes = 16
    return limits
}()

struct ValidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let expected: [String]
    var testDescription: String { name }
}

struct MalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: String
    let error: HTTPParseError
    var testDescription: String { name }
}

@Suite struct HTTPRequestParserTests {
    static let validCases: [ValidCase] = [
        ValidCase(
            name: "simple GET",
            input: "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
            expected: ["GET /healthz HTTP/1.1 [Host=a] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "query, several headers, OWS trimmed, tab and obs-text in value",
            input: "GET /authorize?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Trim:   v  \r\nX-Tab: a\tb\r\nX-Latin: caf\u{E9}\r\n\r\n",
            expected: ["GET /authorize?x=1&y=2 HTTP/1.1 [Host=a;X-Trim=v;X-Tab=a\tb;X-Latin=caf\u{E9}] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "Content-Length body",
            input: "POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
            expected: ["POST /token HTTP/1.1 [Host=a;Content-Length=11] contentLength(11) keepAlive=true continue=false body=hello world"]
        ),
        ValidCase(
            name: "Content-Length zero with leading zeros",
            input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
            expected: ["POST / HTTP/1.1 [Host=a;Content-Length=000] contentLength(0) keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "chunked body with extension and trailers",
            input: "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\nA\r\n 0123456ab\r\n0\r\nX-Trailer: t\r\nY: u\r\n\r\n",
            expected: ["POST /c HTTP/1.1 [Host=a;Transfer-Encoding=Chunked] chunked keepAlive=true continue=false body=hello 0123456ab"]
        ),
        ValidCase(
            name: "pipelined requests in order",
            input: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            expected: [
                "GET /1 HTTP/1.1 [Host=a] none keepAlive=true continue=false body=",
                "POST /2 HTTP/1.1 [Host=a;Content-Length=2] contentLength(2) keepAlive=true continue=false body=hi",
                "GET /3 HTTP/1.1 [Host=a;Connection=close] none keepAlive=false continue=false body=",
            ]
        ),
        ValidCase(
            name: "HTTP/1.0 without Host closes by default",
            input: "GET / HTTP/1.0\r\n\r\n",
            expected: ["GET / HTTP/1.0 [] none keepAlive=false continue=false body="]
        ),
        ValidCase(
            name: "HTTP/1.0 keep-alive",
            input: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            expected: ["GET / HTTP/1.0 [Connection=Keep-Alive] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "Connection list with close",
            input: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n",
            expected: ["GET / HTTP/1.1 [Host=a;Connection=keep-alive, CLOSE] none keepAlive=false continue=false body="]
        ),
        ValidCase(
            name: "leading empty line ignored (RFC 9112 §2.2)",
            input: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            expected: ["GET / HTTP/1.1 [Host=a] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "Expect 100-continue with body",
            input: "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz",
            expected: ["PUT /x HTTP/1.1 [Host=a;Expect=100-Continue;Content-Length=1] contentLength(1) keepAlive=true continue=true body=z"]
        ),
        ValidCase(
            name: "OPTIONS asterisk-form",
            input: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            expected: ["OPTIONS * HTTP/1.1 [Host=a] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "every recognized method, and an empty header value",
            input: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
                .map { "\($0) /p HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n" }.joined(),
            expected: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
                .map { "\($0) /p HTTP/1.1 [Host=a;X-Empty=] none keepAlive=true continue=false body=" }
        ),
        ValidCase(
            name: "Host forms of RFC 3986: name with port, IPv4, IPv6 and IPvFuture literals, percent-encoding, empty",
            input: ["example.com:8080", "127.0.0.1", "[::1]:443", "[2001:db8::a:b]", "[v1.x:y]", "ex%41mple.com", "a_b-c~d!$&'()*+,;=", "a:", ""]
                .map { "GET / HTTP/1.1\r\nHost: \($0)\r\n\r\n" }.joined(),
            expected: ["example.com:8080", "127.0.0.1", "[::1]:443", "[2001:db8::a:b]", "[v1.x:y]", "ex%41mple.com", "a_b-c~d!$&'()*+,;=", "a:", ""]
                .map { "GET / HTTP/1.1 [Host=\($0)] none keepAlive=true continue=false body=" }
        ),
        ValidCase(
            name: "Transfer-Encoding chunked in any case, with OWS",
            input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \r\n\r\n1\r\nx\r\n0\r\n\r\n",
            expected: ["POST / HTTP/1.1 [Host=a;Transfer-Encoding=CHUNKED] chunked keepAlive=true continue=false body=x"]
        ),
        ValidCase(
            name: "limits reached exactly are accepted",
            input: "GET /" + String(repeating: "a", count: 50) + " HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n",
            expected: ["GET /" + String(repeating: "a", count: 50) + " HTTP/1.1 [Host=a;B=1;C=1;D=1;E=1] none keepAlive=true continue=false body="]
        ),
        ValidCase(
            name: "body of exactly the limit",
            input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + String(repeating: "b", count: 32) + "\r\n0\r\n\r\n",
            expected: ["POST / HTTP/1.1 [Host=a;Transfer-Encoding=chunked] chunked keepAlive=true continue=false body=" + String(repeating: "b", count: 32)]
        ),
    ]

    @Test("Valid requests parse identically whole, byte by byte, and split at every offset", arguments: validCases)
    func validRequest(_ testCase: ValidCase) {
        let outcome = parseEveryWay(testCase.input)
        #expect(outcome.error == nil)
        #expect(outcome.requests == testCase.expected)
    }

    static let malformedCases: [MalformedCase] = [
        // Smuggling (RFC 9112 §6): every ambiguity in framing is refused.
        MalformedCase(name: "Content-Length with Transfer-Encoding", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", error: .contentLengthWithTransferEncoding),
        MalformedCase(name: "Transfer-Encoding then Content-Length", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", error: .contentLengthWithTransferEncoding),
        MalformedCase(name: "duplicate Content-Length with equal values", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", error: .duplicateContentLength),
        MalformedCase(name: "duplicate Content-Length with different values", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 4\r\n\r\nabc", error: .duplicateContentLength),
        MalformedCase(name: "Content-Length list", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", error: .invalidContentLength),
        MalformedCase(name: "Content-Length with plus sign", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", error: .invalidContentLength),
        MalformedCase(name: "Content-Length negative", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", error: .invalidContentLength),
        MalformedCase(name: "Content-Length with inner space", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", error: .invalidContentLength),
        MalformedCase(name: "Content-Length hexadecimal", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", error: .invalidContentLength),
        MalformedCase(name: "Content-Length empty", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", error: .invalidContentLength),
        MalformedCase(name: "Content-Length overflow", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", error: .invalidContentLength),
        // RFC 9112 §6.3: chunked must be the final coding (400); RFC 9112 §6.1: a coding the server
        // does not implement before it is 501.
        MalformedCase(name: "Transfer-Encoding gzip alone (chunked not final)", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding chunked, gzip (chunked not final)", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding gzip, chunked is not implemented", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", error: .unimplementedTransferCoding),
        MalformedCase(name: "Transfer-Encoding gzip then chunked on two lines is not implemented", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", error: .unimplementedTransferCoding),
        MalformedCase(name: "Transfer-Encoding deflate, identity, chunked is not implemented", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate,identity ,chunked\r\n\r\n", error: .unimplementedTransferCoding),
        MalformedCase(name: "Transfer-Encoding chunked twice", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding chunked twice in one list", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding with trailing garbage", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding chunked with a parameter", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding empty", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding list of nothing", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding coding that is not a token", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: g(zip, chunked\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding in HTTP/1.0", input: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", error: .invalidTransferEncoding),
        MalformedCase(name: "Transfer-Encoding gzip, chunked with Content-Length is a framing conflict", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 1\r\n\r\n", error: .contentLengthWithTransferEncoding),
        MalformedCase(name: "chunk size not hexadecimal", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk size empty", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk size with sign", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk size with trailing space", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk size overflow", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk data without CRLF", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", error: .invalidChunkFraming),
        MalformedCase(name: "chunk size line ending in bare LF", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", error: .invalidChunkSize),
        MalformedCase(name: "chunk extension too long", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;" + String(repeating: "e", count: 17) + "\r\nabc\r\n0\r\n\r\n", error: .chunkExtensionTooLong),
        MalformedCase(name: "chunked body over the limit", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n11\r\n", error: .bodyTooLarge),
        MalformedCase(name: "trailer with bare LF", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", error: .invalidChunkFraming),
        MalformedCase(name: "trailer with obs-fold", input: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n z\r\n\r\n", error: .obsoleteLineFolding),
        MalformedCase(name: "obs-fold continuation line", input: "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", error: .obsoleteLineFolding),
        MalformedCase(name: "obs-fold with tab", input: "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n", error: .obsoleteLineFolding),
        MalformedCase(name: "bare LF after request line", input: "GET / HTTP/1.1\nHost: a\r\n\r\n", error: .bareLineFeed),
        MalformedCase(name: "bare LF after header", input: "GET / HTTP/1.1\r\nHost: a\n\r\n", error: .bareLineFeed),
        MalformedCase(name: "bare LF ending the head", input: "GET / HTTP/1.1\r\nHost: a\r\n\n", error: .bareLineFeed),
        MalformedCase(name: "whitespace before colon", input: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc", error: .whitespaceBeforeColon),
        MalformedCase(name: "tab before colon", input: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", error: .whitespaceBeforeColon),
        MalformedCase(name: "header name with invalid character", input: "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", error: .invalidHeaderName),
        MalformedCase(name: "header without colon", input: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", error: .invalidHeaderName),
        MalformedCase(name: "empty header name", input: "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", error: .invalidHeaderName),
        MalformedCase(name: "NUL in header value", input: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", error: .invalidHeaderValue),
        MalformedCase(name: "bare CR in header value", input: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", error: .invalidHeaderValue),
        MalformedCase(name: "DEL in header value", input: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}\r\n\r\n", error: .invalidHeaderValue),
        MalformedCase(name: "method with invalid character", input: "G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidMethod),
        // RFC 9110 §9.1: methods are case-sensitive; an unrecognized one is 501.
        MalformedCase(name: "unknown method", input: "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", error: .unrecognizedMethod),
        MalformedCase(name: "lower-case get", input: "get / HTTP/1.1\r\nHost: a\r\n\r\n", error: .unrecognizedMethod),
        MalformedCase(name: "mixed-case Post", input: "Post / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", error: .unrecognizedMethod),
        MalformedCase(name: "extension method", input: "PROPFIND /p HTTP/1.1\r\nHost: a\r\n\r\n", error: .unrecognizedMethod),
        MalformedCase(name: "empty method", input: " / HTTP/1.1\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        MalformedCase(name: "two spaces after method", input: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        MalformedCase(name: "missing version", input: "GET /\r\nHost: a\r\n\r\n", error: .malformedRequestLine),
        MalformedCase(name: "absolute-form target", input: "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        MalformedCase(name: "authority-form target", input: "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        MalformedCase(name: "asterisk-form outside OPTIONS", input: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        MalformedCase(name: "control character in target", input: "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        MalformedCase(name: "fragment in target", input: "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", error: .invalidTarget),
        MalformedCase(name: "lowercase version", input: "GET / http/1.1\r\nHost: a\r\n\r\n", error: .malformedVersion),
        MalformedCase(name: "version with trailing space", input: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", error: .malformedVersion),
        MalformedCase(name: "HTTP/2.0 is not supported", input: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        MalformedCase(name: "HTTP/0.9 version is not supported", input: "GET / HTTP/0.9\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        MalformedCase(name: "HTTP/1.2 is not supported", input: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", error: .unsupportedVersion),
        MalformedCase(name: "missing Host in HTTP/1.1", input: "GET / HTTP/1.1\r\nX: y\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "two Host fields", input: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "two equal Host fields", input: "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", error: .invalidHost),
        // RFC 9112 §3.2: a Host field with an invalid value is 400.
        MalformedCase(name: "Host with a space", input: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with a path", input: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with userinfo", input: "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with a port that is not a number", input: "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with two ports", input: "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host as a list", input: "GET / HTTP/1.1\r\nHost: a,b c\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with a bad percent-encoding", input: "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with an unclosed IPv6 literal", input: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with an invalid IPv6 literal", input: "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with an unbracketed IPv6 address", input: "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with text after the IPv6 literal", input: "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "Host with non-ASCII", input: "GET / HTTP/1.1\r\nHost: caf\u{E9}\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "invalid Host in HTTP/1.0", input: "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", error: .invalidHost),
        MalformedCase(name: "unknown expectation", input: "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nz", error: .unsupportedExpectation),
        MalformedCase(name: "request line over the limit", input: "GET /" + String(repeating: "a", count: 51) + " HTTP/1.1\r\nHost: a\r\n\r\n", error: .requestLineTooLong),
        MalformedCase(name: "request line over the limit without line end", input: "GET /" + String(repeating: "a", count: 80), error: .requestLineTooLong),
        MalformedCase(name: "head over the limit", input: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 240) + "\r\n\r\n", error: .headerTooLarge),
        MalformedCase(name: "head over the limit without end", input: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 300), error: .headerTooLarge),
        MalformedCase(name: "too many header fields", input: "GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n\r\n", error: .tooManyHeaderFields),
        MalformedCase(name: "Content-Length over the body limit", input: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 33\r\n\r\n", error: .bodyTooLarge),
        MalformedCase(name: "error after a valid pipelined request", input: "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n", error: .invalidHost),
    ]

    @Test("Malformed and smuggling requests are refused with the right error, however split", arguments: malformedCases)
    func malformedRequest(_ testCase: MalformedCase) {
        let outcome = parseEveryWay(testCase.input)
        #expect(outcome.error == testCase.error)
    }

    @Test("Errors map to 400, 413, 414, 417, 431, 501 and 505")
    func errorStatuses() {
        #expect(HTTPParseError.requestLineTooLong.status.code == 414)
        #expect(HTTPParseError.headerTooLarge.status.code == 431)
        #expect(HTTPParseError.tooManyHeaderFields.status.code == 431)
        #expect(HTTPParseError.bodyTooLarge.status.code == 413)
        #expect(HTTPParseError.unsupportedExpectation.status.code == 417)
        #expect(HTTPParseError.unsupportedVersion.status.code == 505)
        #expect(HTTPParseError.contentLengthWithTransferEncoding.status.code == 400)
        #expect(HTTPParseError.invalidHost.status.code == 400)
        #expect(HTTPParseError.invalidTransferEncoding.status.code == 400)
        #expect(HTTPParseError.unrecognizedMethod.status.code == 501)
        #expect(HTTPParseError.unimplementedTransferCoding.status.code == 501)
    }

    @Test("Mutated and random inputs never crash the parser")
    func mutatedInputsDoNotCrash() {
        var generator = SplitMix64(seed: 0x7E55E7A)
        let seeds = Self.validCases.map { Array($0.input.utf8) }
        for round in 0..<3000 {
            var input = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(generator.next() % 4)) where !input.isEmpty {
                let position = Int(generator.next() % UInt64(input.count))
                switch generator.next() % 3 {
                case 0: input[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: input.remove(at: position)
                default: input.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
            }
            let whole = feed(input, chunkSizes: [input.count], limits: testLimits)
            let trickled = feed(input, chunkSizes: Array(repeating: 1, count: input.count), limits: testLimits)
            #expect(whole == trickled)
        }
    }

    @Test("A head trickled one byte at a time is scanned in linear time")
    func trickledHeadIsLinear() {
        var limits = HTTPServerLimits()
        limits.maxHeaderCount = 10_000
        let line = "X-Padding: " + String(repeating: "p", count: 20) + "\r\n"
        let text = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: line, count: 900) + "\r\n"
        let input = Array(text.utf8)
        #expect(input.count <= limits.maxHeaderBytes)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            let outcome = feed(input, chunkSizes: Array(repeating: 1, count: input.count), limits: limits)
            #expect(outcome.requests.count == 1)
        }
        #expect(elapsed < .seconds(2))
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
