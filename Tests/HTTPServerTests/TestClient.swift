import Foundation
import HTTPServer
#if canImport(Glibc)
import Glibc
#endif

/// A response as a raw test client read it.
struct ClientResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking POSIX TCP client, so tests exercise the server through real sockets and nothing of ours.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address, so the server sees
    /// another peer) when given; reads time out after `readTimeout` seconds.
    /// - Parameter receiveBuffer: a fixed receive buffer size in bytes (set before connecting, which
    ///   turns off the kernel's autotuning: with it, a buffer can grow to tens of megabytes).
    init(port: UInt16, source: String? = nil, readTimeout: Double = 5, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(description: "socket failed") }
        var timeout = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - Double(Int(readTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw TestClientError(description: "bind to \(source) failed")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            Glibc.close(fd)
            throw TestClientError(description: "connect failed: errno \(error)")
        }
    }

    deinit {
        Glibc.close(fd)
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return }
            sent += count
        }
    }

    /// Half-closes: the server sees end of input, and the client can still read.
    func shutdownWrite() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads more bytes into the buffer; false on end of file, reset or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads one response; `isHead` means the response has no body whatever its Content-Length.
    func readResponse(isHead: Bool = false) -> ClientResponse? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if buffer.count >= 4 {
                for index in 0...(buffer.count - 4) where Array(buffer[index..<(index + 4)]) == terminator {
                    headEnd = index + 4
                    break
                }
            }
            if headEnd == nil && !fill() { return nil }
        }
        guard let headEnd else { return nil }
        let headText = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers: [(String, String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        buffer.removeFirst(headEnd)
        var response = ClientResponse(status: status, headers: headers, body: [])
        let hasNoBody = isHead || status < 200 || status == 204 || status == 304
        let length = hasNoBody ? 0 : Int(response.header("Content-Length") ?? "0") ?? 0
        while buffer.count < length {
            if !fill() { return nil }
        }
        response.body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return response
    }

    /// Waits for some bytes and discards them; returns their count (0 on end of file, reset or timeout).
    func readSome() -> Int {
        if !buffer.isEmpty {
            defer { buffer = [] }
            return buffer.count
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return max(0, count)
    }

    /// Reads until end of file, reset or timeout; returns the byte count.
    func drain() -> Int {
        var total = buffer.count
        buffer = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return total }
            total += count
        }
    }

    /// Whether the server refused the connection: a 503 then the end, or the end at once.
    func isRefused() -> Bool {
        if let response = readResponse(), response.status != 503 { return false }
        return isClosedByServer()
    }

    /// Whether the server closed the connection (end of file or reset) before `seconds` passed.
    func isClosedByServer(within seconds: Double = 3) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, 0)
            if count == 0 { return true }
            if count < 0 {
                let error = errno
                if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { continue }
                return true
            }
        }
        return false
    }
}

/// Runs blocking client code on its own thread, keeping Swift's small cooperative pool free
/// for the server's handler tasks.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

/// Starts a server on an ephemeral port, runs `body`, and shuts the server down.
func withServer(
    responder: any HTTPResponder = testRouter(),
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    _ body: (HTTPServer, UInt16) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    try await withServer(configuration: configuration, responder: responder, body)
}

/// Starts a server with `configuration`, runs `body`, and shuts the server down.
func withServer(
    configuration: HTTPServerConfiguration,
    responder: any HTTPResponder = testRouter(),
    _ body: (HTTPServer, UInt16) async throws -> Void
) async throws {
    let server = HTTPServer(configuration: configuration, responder: responder)
    try server.start()
    do {
        try await body(server, server.localPort)
    } catch {
        await server.shutdown(deadline: .milliseconds(200))
        throw error
    }
    await server.shutdown(deadline: .milliseconds(200))
}

/// The name of the thread running the caller.
func currentThreadName() -> String {
    // The system thread's own name (Foundation's Thread.name may not be the one the thread carries).
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Routes used by the socket tests.
func testRouter() -> Router {
    var router = Router()
    router.add(.GET, "/healthz") { _ in HTTPResponse(body: Array("ok".utf8)) }
    // Answered on the event-loop thread; says which thread answered.
    router.addImmediate(.GET, "/fast") { _ in
        HTTPResponse(headers: ["X-Thread": currentThreadName()], body: Array("fast".utf8))
    }
    // Answered on the loop thread when the query says so, else as a task; says which thread answered.
    router.add(.GET, "/maybe", immediate: { request in
        request.query == "now" ? HTTPResponse(headers: ["X-Thread": currentThreadName()], body: Array("now".utf8)) : nil
    }, otherwise: { _ in
        HTTPResponse(headers: ["X-Thread": currentThreadName()], body: Array("later".utf8))
    })
    router.add(.GET, "/hello") { request in
        HTTPResponse(headers: ["Content-Type": "text/plain", "X-Remote": request.remoteAddress], body: Array("hello".utf8))
    }
    router.add(.POST, "/echo") { request in HTTPResponse(body: request.body) }
    router.add(.GET, "/slow") { request in
        let milliseconds = Int(request.query ?? "") ?? 300
        try? await Task.sleep(for: .milliseconds(milliseconds))
        return HTTPResponse(body: Array("slow \(milliseconds)".utf8))
    }
    router.add(.GET, "/big") { _ in HTTPResponse(body: [UInt8](repeating: 0x62, count: 32 * 1024 * 1024)) }
    router.add(.GET, "/bad-header") { _ in
        HTTPResponse(headers: ["X-Injected": "a\r\nSet-Cookie: evil=1", "Content-Length": "999"], body: Array("safe".utf8))
    }
    return router
}
