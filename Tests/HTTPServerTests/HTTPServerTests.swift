import Foundation
import Testing
@testable import HTTPServer

struct LimitCase: Sendable, CustomTestStringConvertible {
    let name: String
    let request: String
    let status: Int
    var testDescription: String { name }
}

/// The server driven through real loopback sockets by a raw POSIX client.
@Suite struct HTTPServerTests {
    @Test("Keep-alive: several requests share one connection; Date and Content-Length are set")
    func keepAlive() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                for _ in 0..<3 {
                    client.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                    let response = try #require(client.readResponse())
                    #expect(response.status == 200)
                    #expect(response.bodyText == "hello")
                    #expect(response.header("Content-Length") == "5")
                    #expect(response.header("Date")?.hasSuffix(" GMT") == true)
                    #expect(response.header("Connection") == nil)
                    #expect(response.header("X-Remote") == "127.0.0.1")
                }
            }
        }
    }

    @Test("Pipelined requests are answered in order even when a later one finishes first", arguments: [1, 4])
    func pipelining(eventLoops: Int) async throws {
        try await withServer(configure: { $0.eventLoopThreads = eventLoops }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send(
                    "GET /slow?300 HTTP/1.1\r\nHost: a\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nfirst"
                        + "GET /slow?10 HTTP/1.1\r\nHost: a\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nlas\r\n1\r\nt\r\n0\r\n\r\n"
                )
                let bodies = (0..<4).map { _ in client.readResponse()?.bodyText }
                #expect(bodies == ["slow 300", "first", "slow 10", "last"])
            }
        }
    }

    @Test("A fast-path answer is made on the event-loop thread that read the request; the rest run as tasks")
    func fastPathRunsOnTheLoopThread() async throws {
        try await withServer(configure: { $0.eventLoopThreads = 2 }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /maybe?now HTTP/1.1\r\nHost: a\r\n\r\n"
                            + "GET /maybe?later HTTP/1.1\r\nHost: a\r\n\r\n")
                let fast = try #require(client.readResponse())
                #expect(fast.bodyText == "fast")
                #expect(fast.header("X-Thread")?.hasPrefix("http-loop-") == true)
                let now = try #require(client.readResponse())
                #expect(now.bodyText == "now")
                #expect(now.header("X-Thread") == fast.header("X-Thread"))
                let later = try #require(client.readResponse())
                #expect(later.bodyText == "later")
                #expect(later.header("X-Thread")?.hasPrefix("http-loop-") == false)
            }
        }
    }

    @Test("Fast-path answers pipelined behind a pending task wait for it and stay in order", arguments: [1, 4])
    func fastPathKeepsPipelineOrder(eventLoops: Int) async throws {
        try await withServer(configure: { $0.eventLoopThreads = eventLoops }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /slow?300 HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n"
                            + "GET /slow?10 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /fast HTTP/1.1\r\nHost: a\r\n\r\n"
                            + "GET /maybe?later HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                var bodies: [String?] = []
                for index in 0..<6 {
                    bodies.append(client.readResponse(isHead: index == 3)?.bodyText)
                }
                #expect(bodies == ["slow 300", "fast", "slow 10", "", "later", "fast"])
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test("Pipelined fast-path requests far beyond the pipelining depth are all answered")
    func fastPathBeyondPipelineDepth() async throws {
        try await withServer(configure: { $0.limits.maxPipelinedRequestsPerConnection = 4 }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send(String(repeating: "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n", count: 200) + "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                let bodies = (0..<201).map { _ in client.readResponse()?.bodyText }
                #expect(bodies == Array(repeating: "fast", count: 200) + ["hello"])
            }
        }
    }

    @Test("HEAD is served by the GET handler without a body but with its Content-Length")
    func head() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                let head = try #require(client.readResponse(isHead: true))
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == "5")
                #expect(head.body.isEmpty)
                let next = try #require(client.readResponse())
                #expect(next.bodyText == "ok")
            }
        }
    }

    @Test("Unknown path answers 404; known path with another method answers 405 with Allow")
    func notFoundAndMethodNotAllowed() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(client.readResponse()?.status == 404)
                client.send("DELETE /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try #require(client.readResponse())
                #expect(response.status == 405)
                #expect(response.header("Allow") == "GET, HEAD")
            }
        }
    }

    @Test("OPTIONS is answered 200 with Allow and Content-Length: 0 (RFC 9110 §9.3.7)")
    func options() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("OPTIONS /echo HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
                let resource = try #require(client.readResponse())
                #expect(resource.status == 200)
                #expect(resource.header("Allow") == "POST")
                #expect(resource.header("Content-Length") == "0")
                let server = try #require(client.readResponse())
                #expect(server.status == 200)
                #expect(server.header("Content-Length") == "0")
            }
        }
    }

    @Test("Handler headers that could split the response are dropped; server-owned headers are replaced")
    func responseHeaderSanitizing() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /bad-header HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try #require(client.readResponse())
                #expect(response.header("Set-Cookie") == nil)
                #expect(response.header("X-Injected") == nil)
                #expect(response.header("Content-Length") == "4")
                #expect(response.bodyText == "safe")
            }
        }
    }

    @Test("Connection: close and HTTP/1.0 without keep-alive close after the response (RFC 9112 §9.3)")
    func connectionClose() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                let response = try #require(client.readResponse())
                #expect(response.header("Connection") == "close")
                #expect(client.isClosedByServer())

                let old = try TestClient(port: port)
                old.send("GET /healthz HTTP/1.0\r\n\r\n")
                #expect(old.readResponse()?.status == 200)
                #expect(old.isClosedByServer())

                let kept = try TestClient(port: port)
                kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(kept.readResponse()?.header("Connection") == "keep-alive")
                kept.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(kept.readResponse()?.status == 200)
            }
        }
    }

    @Test("A client that half-closes after its requests gets their answers, then the server closes")
    func halfCloseAfterRequests() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /slow?200 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                client.shutdownWrite()
                #expect(client.readResponse()?.bodyText == "slow 200")
                let last = try #require(client.readResponse())
                #expect(last.bodyText == "hello")
                #expect(last.header("Connection") == "close")
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test("Expect: 100-continue gets 100 Continue before the body is sent (RFC 9110 §10.1.1)")
    func expectContinue() async throws {
        try await withServer { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
                let interim = try #require(client.readResponse())
                #expect(interim.status == 100)
                client.send("body")
                let final = try #require(client.readResponse())
                #expect(final.status == 200)
                #expect(final.bodyText == "body")
            }
        }
    }

    static let limitCases: [LimitCase] = [
        LimitCase(name: "request line over maxRequestLineBytes answers 414", request: "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414),
        LimitCase(name: "head over maxHeaderBytes answers 431", request: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 600) + "\r\n\r\n", status: 431),
        LimitCase(name: "more than maxHeaderCount fields answers 431", request: "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: 1\r\n", count: 10) + "\r\n", status: 431),
        LimitCase(name: "body over maxBodyBytes answers 413", request: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n" + String(repeating: "b", count: 200), status: 413),
        LimitCase(name: "chunked body over maxBodyBytes answers 413", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + String(repeating: "b", count: 128) + "\r\n0\r\n\r\n", status: 413),
        LimitCase(name: "Content-Length with Transfer-Encoding answers 400", request: "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        LimitCase(name: "missing Host answers 400", request: "GET /healthz HTTP/1.1\r\n\r\n", status: 400),
        LimitCase(name: "invalid Host answers 400", request: "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400),
        LimitCase(name: "unrecognized method answers 501", request: "FOO /healthz HTTP/1.1\r\nHost: a\r\n\r\n", status: 501),
        LimitCase(name: "lower-case method answers 501", request: "get /healthz HTTP/1.1\r\nHost: a\r\n\r\n", status: 501),
        LimitCase(name: "unimplemented transfer coding answers 501", request: "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501),
        LimitCase(name: "HTTP/2.0 request line answers 505", request: "GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", status: 505),
        LimitCase(name: "unknown expectation answers 417", request: "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: later\r\nContent-Length: 1\r\n\r\nx", status: 417),
    ]

    @Test("Each limit and framing error is answered with its status, then the connection closes", arguments: limitCases)
    func limitAnswered(_ testCase: LimitCase) async throws {
        try await withServer(configure: { configuration in
            configuration.limits.maxRequestLineBytes = 100
            configuration.limits.maxHeaderBytes = 512
            configuration.limits.maxHeaderCount = 8
            configuration.limits.maxBodyBytes = 100
        }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send(testCase.request)
                let response = try #require(client.readResponse())
                #expect(response.status == testCase.status)
                #expect(response.header("Connection") == "close")
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test("A slowloris head that does not finish within headerRead is closed", arguments: [1, 4])
    func slowlorisHeaderTimeout(eventLoops: Int) async throws {
        try await withServer(configure: {
            $0.timeouts.headerRead = .milliseconds(300)
            $0.eventLoopThreads = eventLoops
        }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                let start = Date()
                client.send("GET / HTTP/1.1\r\n")
                Thread.sleep(forTimeInterval: 0.1)
                client.send("Host: a\r\n")
                Thread.sleep(forTimeInterval: 0.1)
                client.send("X-Slow: 1\r\n")
                #expect(client.isClosedByServer(within: 2))
                #expect(Date().timeIntervalSince(start) < 1.5)
            }
        }
    }

    @Test("A body that does not finish within bodyRead is closed")
    func slowBodyTimeout() async throws {
        try await withServer(configure: { $0.timeouts.bodyRead = .milliseconds(300) }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
                #expect(client.isClosedByServer(within: 2))
            }
        }
    }

    @Test("An idle keep-alive connection is closed after keepAliveIdle")
    func keepAliveIdleTimeout() async throws {
        try await withServer(configure: { $0.timeouts.keepAliveIdle = .milliseconds(300) }) { _, port in
            try await onThread {
                let client = try TestClient(port: port)
                client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(client.readResponse()?.status == 200)
                let start = Date()
                #expect(client.isClosedByServer(within: 3))
                #expect(Date().timeIntervalSince(start) > 0.2)
            }
        }
    }

    @Test("A client that stops reading is closed after the write timeout")
    func writeTimeout() async throws {
        try await withServer(configure: { $0.timeouts.write = .milliseconds(300) }) { _, port in
            try await onThread {
                // A small fixed receive buffer: with autotuning (tcp_rmem up to 32 MiB on some
                // machines) the whole response could fit in kernel buffers and never stall a send.
                let client = try TestClient(port: port, readTimeout: 10, receiveBuffer: 64 * 1024)
                client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
                // The stall starts once the response does (on a busy machine the handler may be late).
                let first = client.readSome()
                #expect(first > 0)
                Thread.sleep(forTimeInterval: 1.0)
                let received = first + client.drain()
                #expect(received < 32 * 1024 * 1024)
            }
        }
    }

    @Test("Random bytes on many connections do not disturb the server")
    func garbageInput() async throws {
        try await withServer { _, port in
            try await onThread {
                var generator = SplitMix64(seed: 42)
                for _ in 0..<30 {
                    let client = try TestClient(port: port, readTimeout: 1)
                    client.send((0..<Int(generator.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: generator.next()) } + [13, 10, 13, 10])
                    _ = client.readResponse()
                }
                let client = try TestClient(port: port)
                client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(client.readResponse()?.bodyText == "ok")
            }
        }
    }

    @Test("Two hundred concurrent connections are all served")
    func manyConnections() async throws {
        try await withServer { _, port in
            try await onThread {
                let clients = try (0..<200).map { _ in try TestClient(port: port) }
                for client in clients {
                    client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                }
                let served = clients.filter { $0.readResponse()?.bodyText == "ok" }.count
                #expect(served == 200)
            }
        }
    }

    @Test("Over maxInFlightRequests the server answers 503 with Retry-After without calling the handler")
    func inFlightOverload() async throws {
        try await withServer(configure: { $0.limits.maxInFlightRequests = 1 }) { server, port in
            try await onThread {
                let busy = try TestClient(port: port)
                busy.send("GET /slow?500 HTTP/1.1\r\nHost: a\r\n\r\n")
                Thread.sleep(forTimeInterval: 0.15)
                let rejected = try TestClient(port: port)
                rejected.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try #require(rejected.readResponse())
                #expect(response.status == 503)
                #expect(server.statistics.requestsRefusedOverload == 1)
                #expect(response.header("Retry-After") == "1")
                #expect(response.header("Connection") == "close")
                #expect(rejected.isClosedByServer())
                #expect(busy.readResponse()?.bodyText == "slow 500")
            }
        }
    }

    @Test("While maxInFlightRequests are busy, fast-path requests are still answered and others get 503")
    func fastPathUnderOverload() async throws {
        try await withServer(configure: { $0.limits.maxInFlightRequests = 1 }) { server, port in
            try await onThread {
                let busy = try TestClient(port: port)
                busy.send("GET /slow?800 HTTP/1.1\r\nHost: a\r\n\r\n")
                let deadline = Date().addingTimeInterval(10)
                while server.statistics.inFlightRequests < 1 && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.01)
                }
                let fast = try TestClient(port: port)
                fast.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(fast.readResponse()?.bodyText == "fast")
                #expect(fast.readResponse()?.status == 503)
                #expect(busy.readResponse()?.bodyText == "slow 800")
            }
        }
    }

    @Test("Over maxConnections a new connection is answered 503 or closed at once")
    func connectionLimit() async throws {
        try await withServer(configure: { $0.limits.maxConnections = 2 }) { server, port in
            try await onThread {
                let first = try TestClient(port: port)
                let second = try TestClient(port: port)
                first.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                second.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(first.readResponse()?.status == 200)
                #expect(second.readResponse()?.status == 200)
                let third = try TestClient(port: port)
                #expect(third.isRefused())
                #expect(server.statistics.connectionsRefusedOverCapacity == 1)
                first.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(first.readResponse()?.status == 200)
            }
        }
    }

    @Test("Over maxConnectionsPerSource a source's new connection is refused and counted; other sources are served")
    func connectionLimitPerSource() async throws {
        try await withServer(configure: { $0.limits.maxConnectionsPerSource = 2 }) { server, port in
            try await onThread {
                let first = try TestClient(port: port)
                let second = try TestClient(port: port)
                for client in [first, second] {
                    client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                    #expect(client.readResponse()?.status == 200)
                }
                let third = try TestClient(port: port)
                #expect(third.isRefused())
                #expect(server.statistics.connectionsRefusedPerSource == 1)

                let other = try TestClient(port: port, source: "127.0.0.2")
                other.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(other.readResponse()?.status == 200)

                // A closed connection frees its place.
                first.send("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                #expect(first.readResponse()?.status == 200)
                #expect(first.isClosedByServer())
                let deadline = Date().addingTimeInterval(10)
                while server.statistics.openConnections > 2 && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.01)
                }
                let fourth = try TestClient(port: port)
                fourth.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(fourth.readResponse()?.status == 200)
                #expect(server.statistics.connectionsRefusedPerSource == 1)
            }
        }
    }

    @Test("A dual-stack listener counts an IPv4 peer seen as ::ffff:a.b.c.d as that IPv4 address")
    func connectionLimitPerSourceDualStack() async throws {
        var configuration = HTTPServerConfiguration(host: "::", port: 0)
        configuration.limits.maxConnectionsPerSource = 1
        try await withServer(configuration: configuration) { server, port in
            try await onThread {
                let first = try TestClient(port: port)
                first.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(first.readResponse()?.header("X-Remote") == "::ffff:127.0.0.1")
                #expect(try TestClient(port: port).isRefused())
                let other = try TestClient(port: port, source: "127.0.0.2")
                other.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(other.readResponse()?.status == 200)
                #expect(server.statistics.connectionsRefusedPerSource == 1)
            }
        }
    }

    @Test("With maxConnectionsPerSource 0 a source is not limited")
    func connectionLimitPerSourceOff() async throws {
        try await withServer(configure: { $0.limits.maxConnectionsPerSource = 0 }) { server, port in
            try await onThread {
                let clients = try (0..<20).map { _ in try TestClient(port: port) }
                for client in clients {
                    client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                }
                #expect(clients.filter { $0.readResponse()?.status == 200 }.count == 20)
                #expect(server.statistics.connectionsRefusedPerSource == 0)
            }
        }
    }

    @Test("Graceful shutdown finishes the in-flight request with Connection: close and refuses new connections", arguments: [1, 4])
    func gracefulShutdown(eventLoops: Int) async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.timeouts.keepAliveIdle = .seconds(30)
        configuration.eventLoopThreads = eventLoops
        let server = HTTPServer(configuration: configuration, responder: testRouter())
        try server.start()
        let port = server.localPort
        let (idle, slow) = try await onThread {
            let idle = try TestClient(port: port)
            idle.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = idle.readResponse()
            let slow = try TestClient(port: port)
            slow.send("GET /slow?600 HTTP/1.1\r\nHost: a\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)
            return (UncheckedBox(idle), UncheckedBox(slow))
        }
        async let stopped: Void = server.shutdown(deadline: .seconds(5))
        try await Task.sleep(for: .milliseconds(100))
        try await onThread {
            #expect(idle.value.isClosedByServer(within: 1))
            #expect(throws: TestClientError.self) { _ = try TestClient(port: port) }
            let response = try #require(slow.value.readResponse())
            #expect(response.status == 200)
            #expect(response.bodyText == "slow 600")
            #expect(response.header("Connection") == "close")
            #expect(slow.value.isClosedByServer())
        }
        await stopped
        await server.waitUntilStopped()
        await server.shutdown(deadline: .seconds(1))
    }

    @Test("Shutdown force-closes requests that outlive the deadline", arguments: [1, 4])
    func shutdownDeadline(eventLoops: Int) async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopThreads = eventLoops
        let server = HTTPServer(configuration: configuration, responder: testRouter())
        try server.start()
        let port = server.localPort
        let slow = try await onThread {
            let slow = try TestClient(port: port)
            slow.send("GET /slow?5000 HTTP/1.1\r\nHost: a\r\n\r\n")
            Thread.sleep(forTimeInterval: 0.1)
            return UncheckedBox(slow)
        }
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            await server.shutdown(deadline: .milliseconds(300))
        }
        #expect(elapsed < .seconds(2))
        try await onThread {
            #expect(slow.value.isClosedByServer(within: 1))
        }
    }

    @Test("Starting on a port already in use throws addressInUse")
    func addressInUse() async throws {
        try await withServer { _, port in
            let second = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port), responder: testRouter())
            #expect {
                try second.start()
            } throws: { error in
                guard case HTTPServerError.addressInUse = error else { return false }
                return true
            }
        }
    }

    @Test("By default there is one event loop per processor the process may run on")
    func defaultEventLoops() {
        #expect(HTTPServerConfiguration().eventLoopThreads == HTTPServerConfiguration.availableProcessors)
        #expect(HTTPServerConfiguration.availableProcessors >= 1)
    }

    @Test("Several event-loop threads share the port with SO_REUSEPORT")
    func severalEventLoops() async throws {
        try await withServer(configure: { $0.eventLoopThreads = 4 }) { _, port in
            try await onThread {
                let clients = try (0..<20).map { _ in try TestClient(port: port) }
                for client in clients {
                    client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
                }
                #expect(clients.filter { $0.readResponse()?.status == 200 }.count == 20)
            }
        }
    }
}

/// Moves a test client between the test's threads; each is used by one thread at a time.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
