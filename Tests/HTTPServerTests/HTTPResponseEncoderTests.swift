#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HTTPServer

@Suite struct HTTPResponseEncoderTests {
    private func encode(_ response: HTTPResponse, isHead: Bool = false, isClosing: Bool = false) -> String {
        var bytes: [UInt8] = []
        HTTPResponseEncoder.encode(
            response,
            context: .init(isHead: isHead, isHTTP10KeepAlive: false, isClosing: isClosing),
            dateLine: Array("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".utf8),
            into: &bytes
        )
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("Content-Length, Date and Connection are the server's; handler values are replaced")
    func serverOwnedHeaders() {
        let text = encode(HTTPResponse(headers: ["Content-Length": "7", "Connection": "keep-alive", "X": "y"], body: [0x61]), isClosing: true)
        #expect(text == "HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 1\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\na")
    }

    @Test("HEAD keeps Content-Length but sends no body (RFC 9110 §9.3.2)")
    func headDropsBody() {
        #expect(encode(HTTPResponse(body: Array("hello".utf8)), isHead: true).hasSuffix("Content-Length: 5\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"))
    }

    @Test("204 and 304 carry neither Content-Length nor body")
    func noBodyStatuses() {
        #expect(encode(HTTPResponse(status: .noContent, body: [1])) == "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
        #expect(!encode(HTTPResponse(status: .notModified)).contains("Content-Length"))
    }

    @Test("Date is formatted as IMF-fixdate (RFC 9110 §5.6.7)")
    func dateFormat() {
        var fields = tm()
        fields.tm_year = 94
        fields.tm_mon = 10
        fields.tm_mday = 6
        fields.tm_wday = 0
        fields.tm_hour = 8
        fields.tm_min = 49
        fields.tm_sec = 37
        #expect(String(decoding: DateHeaderCache.format(fields), as: UTF8.self) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
    }

    @Test("Status codes carry their standard reason phrases")
    func reasonPhrases() {
        #expect(HTTPStatus(code: 431).reasonPhrase == "Request Header Fields Too Large")
        #expect(HTTPStatus.serviceUnavailable.code == 503)
        #expect(HTTPStatus(code: 799).reasonPhrase == "")
        #expect(HTTPStatus(code: 200, reasonPhrase: "Fine") == .ok)
    }
}
