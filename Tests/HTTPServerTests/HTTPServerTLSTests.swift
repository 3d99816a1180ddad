import Foundation
import Synchronization
import Testing
import TLS
@testable import HTTPServer

/// HTTPS through the event loop, driven by Python's ssl (OpenSSL) over loopback.
@Suite struct HTTPServerTLSTests {
    /// Development certificates (a CA, a server certificate, a client certificate) made once per process.
    static let certificates: DevelopmentCertificates.Paths? = {
        let folder = NSTemporaryDirectory() + "tessera-https-\(UUID().uuidString)"
        return try? DevelopmentCertificates.prepare(directory: folder)
    }()

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var python: String {
        if let configured = ProcessInfo.processInfo.environment["TESSERA_TEST_PYTHON"] { return configured }
        let venv = repository.appendingPathComponent(".build/venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }

    final class Outcomes: Sendable {
        let all = Mutex<[TLSHandshakeOutcome]>([])
        func wait(for count: Int) async -> [TLSHandshakeOutcome] {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let current = all.withLock { $0 }
                if current.count >= count { return current }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return all.withLock { $0 }
        }
    }

    func tlsServer(mutual: Bool = false, configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> (HTTPServer, Outcomes, DevelopmentCertificates.Paths) {
        let paths = try #require(Self.certificates)
        let files = TLSFiles(certificates: [.init(certificate: paths.serverCertificate, key: paths.serverKey)], clientCA: mutual ? paths.caCertificate : nil)
        let outcomes = Outcomes()
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.tls = HTTPServerTLS(contexts: try TLSReloader(files: files)) { outcome in outcomes.all.withLock { $0.append(outcome) } }
        configure(&configuration)
        var router = testRouter()
        router.add(.GET, "/whoami") { request in
            let certificate = request.clientCertificate
            return HTTPResponse(body: Array((certificate.map { "\($0.subject) \($0.uris.joined(separator: " ")) \($0.verification)" } ?? "none").utf8))
        }
        let server = HTTPServer(configuration: configuration, responder: router)
        try server.start()
        return (server, outcomes, paths)
    }

    func client(_ port: UInt16, _ paths: DevelopmentCertificates.Paths, requests: [String], pipelined: Bool = false, extra: [String] = []) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: requests)
        var arguments = [Self.repository.appendingPathComponent("Tests/HTTPServerTests/tools/https_client.py").path,
                         "--port", String(port), "--ca", paths.caCertificate, "--requests", String(decoding: data, as: UTF8.self)]
        if pipelined { arguments.append("--pipelined") }
        arguments += extra
        let fixed = arguments
        let output: String = try await onThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.python)
            process.arguments = fixed
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        guard let line = output.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestClientError(description: "https_client.py: \(output)")
        }
        return object
    }

    func bodies(_ result: [String: Any]) -> [String] {
        (result["responses"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? String }
    }

    @Test("Keep-alive over TLS 1.3: several requests on one connection, ALPN http/1.1, no client certificate on the main listener")
    func keepAlive() async throws {
        let (server, outcomes, paths) = try tlsServer()
        let result = try await client(server.localPort, paths, requests: Array(repeating: "GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n", count: 3))
        #expect(result["version"] as? String == "TLSv1.3", "\(result)")
        #expect(result["alpn"] as? String == "http/1.1")
        #expect(bodies(result) == ["none", "none", "none"])
        #expect(await outcomes.wait(for: 1) == [.completed(resumed: false)])
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("Pipelined requests over TLS are answered in order")
    func pipelining() async throws {
        let (server, _, paths) = try tlsServer()
        let requests = ["GET /slow?300 HTTP/1.1\r\nHost: a\r\n\r\n", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nfirst",
                        "GET /slow?10 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"]
        let result = try await client(server.localPort, paths, requests: requests, pipelined: true)
        #expect(bodies(result) == ["slow 300", "first", "slow 10", "hello"], "\(result)")
        // Connection: close ends with close_notify (RFC 8446 §6.1).
        #expect(result["close_notify"] as? Bool == true, "\(result)")
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("A large response crosses many TLS records and partial writes intact")
    func largeResponse() async throws {
        let (server, _, paths) = try tlsServer()
        let result = try await client(server.localPort, paths, requests: ["GET /big HTTP/1.1\r\nHost: a\r\n\r\n"])
        let body = bodies(result).first ?? ""
        #expect(body.utf8.count == 32 * 1024 * 1024, "\(result["error"] ?? "")")
        #expect(body.utf8.allSatisfy { $0 == 0x62 })
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("A ClientHello sent one byte per segment completes, and the request is served")
    func byteByByte() async throws {
        let (server, _, paths) = try tlsServer()
        let result = try await client(server.localPort, paths, requests: ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"], extra: ["--byte-by-byte"])
        #expect(bodies(result) == ["hello"], "\(result)")
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("mTLS listener: the verified client certificate reaches the handler; a client without one gets none")
    func clientCertificate() async throws {
        let (server, _, paths) = try tlsServer(mutual: true)
        let with = try await client(server.localPort, paths, requests: ["GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n"],
                                    extra: ["--cert", paths.workloadCertificate, "--key", paths.workloadKey])
        #expect(bodies(with) == ["CN=demo-service,O=Tessera development \(DevelopmentCertificates.workloadSPIFFEID) verifiedChain"], "\(with)")
        let without = try await client(server.localPort, paths, requests: ["GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n"])
        #expect(bodies(without) == ["none"], "\(without)")
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("TLS 1.1, plain HTTP and garbage are refused and closed; the server keeps serving; outcomes name the reasons")
    func refusals() async throws {
        let (server, outcomes, paths) = try tlsServer()
        let old = try await client(server.localPort, paths, requests: ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"],
                                   extra: ["--min", "TLSv1_1", "--max", "TLSv1_1", "--ciphers", "ALL:@SECLEVEL=0"])
        #expect(old["error"] != nil, "\(old)")
        let port = server.localPort
        try await onThread {
            let plain = try TestClient(port: port)
            plain.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(plain.isClosedByServer())
            let garbage = try TestClient(port: port)
            garbage.send((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            #expect(garbage.isClosedByServer())
        }
        let fine = try await client(server.localPort, paths, requests: ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"])
        #expect(bodies(fine) == ["hello"])
        let seen = await outcomes.wait(for: 4)
        #expect(seen.count == 4)
        #expect(seen.prefix(3).allSatisfy { if case .failed = $0 { true } else { false } })
        #expect(seen.contains(.failed(.protocolVersion)))
        #expect(seen.contains(.failed(.notTLS)))
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("Over maxConnections a TLS listener closes the new connection without a plaintext answer")
    func overCapacity() async throws {
        let (server, _, paths) = try tlsServer { $0.limits.maxConnections = 1 }
        let port = server.localPort
        var first: UncheckedBox<TestClient>? = try await onThread { UncheckedBox(try TestClient(port: port, readTimeout: 10)) }
        try await Task.sleep(for: .milliseconds(200))
        try await onThread {
            // Closed at once, and nothing (no plaintext 503) before the end.
            let second = try TestClient(port: port, readTimeout: 5)
            #expect(second.drain() == 0)
        }
        #expect(first != nil)
        first = nil
        try await Task.sleep(for: .milliseconds(300))
        let result = try await client(port, paths, requests: ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"])
        #expect(bodies(result) == ["hello"], "\(result)")
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("A close_notify sent right behind the requests is the end of input: they are answered, then the connection closes at once")
    func closeNotifyBehindRequests() async throws {
        let (server, _, paths) = try tlsServer { $0.timeouts.keepAliveIdle = .seconds(30) }
        let result = try await client(server.localPort, paths, requests: ["GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", "GET /slow?100 HTTP/1.1\r\nHost: a\r\n\r\n"],
                                      extra: ["--close-notify"])
        #expect(bodies(result) == ["hello", "slow 100"], "\(result)")
        #expect(result["close_notify"] as? Bool == true)
        #expect((result["closed_after"] as? Double ?? 99) < 10)
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("A silent TLS client is closed at the handshake deadline")
    func handshakeTimeout() async throws {
        let (server, outcomes, _) = try tlsServer { $0.timeouts.tlsHandshake = .milliseconds(300) }
        let port = server.localPort
        try await onThread {
            let silent = try TestClient(port: port, readTimeout: 10)
            #expect(silent.isClosedByServer(within: 8))
        }
        #expect(await outcomes.wait(for: 1) == [.failed(.timeout)])
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("Graceful shutdown over TLS finishes the in-flight request with Connection: close and close_notify")
    func gracefulShutdown() async throws {
        let (server, outcomes, paths) = try tlsServer()
        async let result = client(server.localPort, paths, requests: ["GET /slow?800 HTTP/1.1\r\nHost: a\r\n\r\n"])
        // Shut down once the handshake is done and the request is on its way (a loaded machine starts Python slowly).
        _ = await outcomes.wait(for: 1)
        try await Task.sleep(for: .milliseconds(300))
        await server.shutdown(deadline: .seconds(5))
        let finished = try await result
        let response = (finished["responses"] as? [[String: Any]])?.first
        #expect(response?["body"] as? String == "slow 800", "\(finished)")
        #expect((response?["headers"] as? [String: String])?["connection"] == "close")
        #expect(finished["close_notify"] as? Bool == true)
    }
}
