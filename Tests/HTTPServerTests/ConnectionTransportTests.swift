import Foundation
import Testing
@testable import HTTPServer

/// A transport shaped like a TLS session: it takes everything the socket has but hands it out a
/// few bytes at a time (the rest held inside, where the socket no longer signals it), and sends
/// at most a few bytes per write.
final class TrickleTransport: ConnectionTransport {
    private let socket: PlainTransport
    private var held: [UInt8] = []
    private let readSize: Int
    private let writeSize: Int

    init(fd: Int32, readSize: Int, writeSize: Int) {
        socket = PlainTransport(fd: fd)
        self.readSize = readSize
        self.writeSize = writeSize
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        if held.isEmpty {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let result = chunk.withUnsafeMutableBytes { socket.read(into: $0) }
            guard case .transferred(let count) = result else { return result }
            held = Array(chunk[0..<count])
        }
        let count = min(readSize, held.count, buffer.count)
        for index in 0..<count { buffer[index] = held[index] }
        held.removeFirst(count)
        return .transferred(count)
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportResult {
        socket.write(UnsafeRawBufferPointer(rebasing: bytes[0..<min(writeSize, bytes.count)]))
    }

    var hasBufferedInput: Bool { !held.isEmpty }

    func shutdownWrite() { socket.shutdownWrite() }

    func close() { socket.close() }
}

@Suite struct ConnectionTransportTests {
    @Test("Through a transport that holds input and sends a few bytes at a time, pipelined, fast and slow requests are all answered in order")
    func heldInputAndPartialWrites() async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.limits.maxPipelinedRequestsPerConnection = 2
        configuration.makeTransport = { fd in TrickleTransport(fd: fd, readSize: 5, writeSize: 7) }
        try await withServer(configuration: configuration) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                var pipeline = ""
                var expected: [String] = []
                for index in 0..<12 {
                    switch index % 3 {
                    case 0:
                        pipeline += "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n"
                        expected.append("fast")
                    case 1:
                        let body = index < 10 ? "body0\(index)" : "body\(index)"
                        pipeline += "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n\(body)"
                        expected.append(body)
                    default:
                        pipeline += "GET /slow?20 HTTP/1.1\r\nHost: a\r\n\r\n"
                        expected.append("slow 20")
                    }
                }
                client.send(pipeline)
                let bodies = expected.map { _ in client.readResponse()?.bodyText }
                #expect(bodies == expected)
                client.send("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                #expect(client.readResponse()?.bodyText == "hello")
                #expect(client.isClosedByServer())
            }
        }
    }
}
