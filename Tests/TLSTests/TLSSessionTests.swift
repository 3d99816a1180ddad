import Foundation
import Testing
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// Sessions driven over loopback sockets by real OpenSSL clients (Python's `ssl`, `openssl s_client`).
@Suite struct TLSSessionTests {
    func context(_ credentials: [String] = ["server-ec"], clientCertificates: ((CertificateTrustStore) -> ClientCertificatePolicy)? = nil, ticketKeys: TLSTicketKeys = TLSTicketKeys(rotationInterval: 3600)) async throws -> TLSServerContext {
        let pki = try await TestPKI.shared()
        let policy = try clientCertificates.map { $0(try pki.trust()) }
        return try TLSServerContext(credentials: credentials.map { try pki.credentials("\($0).pem", key: "\($0).key") }, clientCertificates: policy, ticketKeys: ticketKeys)
    }

    func exchange(_ context: TLSServerContext, mode: TestTLSServer.Mode = .socket, connections: Int = 1, _ arguments: [String] = []) async throws -> (client: [[String: Any]], server: [TestTLSServer.Outcome]) {
        let pki = try await TestPKI.shared()
        let server = try TestTLSServer(connections: connections, mode: mode) { context }
        let client = try await PythonTLSClient(arguments: ["--ca", pki.path("root.pem")] + arguments).run(port: server.port)
        return (client, await server.results())
    }

    @Test("TLS 1.3 with an ECDSA chain: the client verifies it with the root alone (the intermediate is sent), ALPN http/1.1, data both ways, close_notify")
    func tls13() async throws {
        let (client, server) = try await exchange(try await context())
        #expect(client.first?["error"] == nil, "\(client)")
        #expect(client.first?["version"] as? String == "TLSv1.3")
        #expect(client.first?["alpn"] as? String == "http/1.1")
        #expect(client.first?["reply"] as? String == "ok hello")
        #expect(client.first?["close_notify"] as? Bool == true)
        #expect(server.first?.handshake == .complete)
        #expect(server.first?.line == "hello")
        #expect(server.first?.protocolVersion == "TLSv1.3")
        #expect(server.first?.applicationProtocol == "http/1.1")
    }

    @Test("TLS 1.2 with an RSA chain and an intermediate-policy suite")
    func tls12RSA() async throws {
        let (client, server) = try await exchange(try await context(["server-rsa"]), ["--max", "TLSv1_2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"])
        #expect(client.first?["version"] as? String == "TLSv1.2", "\(client)")
        #expect(client.first?["cipher"] as? String == "ECDHE-RSA-AES128-GCM-SHA256")
        #expect(server.first?.handshake == .complete)
    }

    @Test("One context with an ECDSA and an RSA chain serves clients that accept only one of them")
    func dualCertificates() async throws {
        let context = try await context(["server-ec", "server-rsa"])
        let (rsaClient, _) = try await exchange(context, ["--max", "TLSv1_2", "--ciphers", "ECDHE-RSA-AES256-GCM-SHA384"])
        #expect(rsaClient.first?["cipher"] as? String == "ECDHE-RSA-AES256-GCM-SHA384", "\(rsaClient)")
        let (ecClient, _) = try await exchange(context, ["--max", "TLSv1_2", "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"])
        #expect(ecClient.first?["cipher"] as? String == "ECDHE-ECDSA-CHACHA20-POLY1305", "\(ecClient)")
    }

    @Test("TLS 1.0 and 1.1 are refused in the handshake")
    func oldProtocols() async throws {
        for version in ["TLSv1", "TLSv1_1"] {
            let (client, server) = try await exchange(try await context(["server-rsa"]), ["--min", version, "--max", version, "--ciphers", "ALL:@SECLEVEL=0"])
            #expect(client.first?["error"] != nil, "\(client)")
            #expect(server.first?.handshake == .failed(.protocolVersion))
        }
    }

    @Test("TLS 1.2 suites outside the policy (no forward secrecy, CBC) are refused")
    func weakSuites() async throws {
        let (client, server) = try await exchange(try await context(["server-rsa"]), ["--max", "TLSv1_2", "--ciphers", "AES128-SHA:ECDHE-RSA-AES128-SHA"])
        #expect(client.first?["error"] != nil, "\(client)")
        #expect(server.first?.handshake == .failed(.noSharedCipher))
    }

    @Test("ALPN: h2 alone gets no_application_protocol (RFC 7301 §3.2); no ALPN at all proceeds")
    func alpn() async throws {
        let (refused, server) = try await exchange(try await context(), ["--alpn", "h2"])
        #expect(refused.first?["error"] != nil, "\(refused)")
        #expect(server.first?.handshake == .failed(.noApplicationProtocol))
        let (plain, _) = try await exchange(try await context(), ["--alpn", ""])
        #expect(plain.first?["reply"] as? String == "ok hello", "\(plain)")
        #expect(plain.first?["alpn"] is NSNull)
    }

    @Test("Sessions resume from tickets (TLS 1.3 and 1.2); a ticket under the previous key still resumes; after two rotations it does not, and the full handshake issues a ticket that resumes again")
    func resumption() async throws {
        for version in ["TLSv1_3", "TLSv1_2"] {
            let keys = TLSTicketKeys(rotationInterval: 3600)
            let base = try await context(ticketKeys: keys)
            let counter = Counter()
            let pki = try await TestPKI.shared()
            let server = try TestTLSServer(connections: 4) {
                switch counter.next() {
                case 2: keys.rotate()
                case 3: keys.rotate(); keys.rotate()
                default: break
                }
                return base
            }
            let client = try await PythonTLSClient(arguments: ["--ca", pki.path("root.pem"), "--max", version, "--connections", "4"]).run(port: server.port)
            let outcomes = await server.results()
            #expect(client.map { $0["resumed"] as? Bool } == [false, true, false, true], "\(version) \(client)")
            #expect(outcomes.map(\.isResumed) == [false, true, false, true])
        }
    }

    @Test("A ClientHello handed to the session one byte at a time completes the handshake")
    func byteByByteInMemory() async throws {
        let (client, server) = try await exchange(try await context(), mode: .memory(chunk: 1))
        #expect(client.first?["reply"] as? String == "ok hello", "\(client)")
        #expect(server.first?.handshake == .complete)
        #expect((server.first?.handshakeSteps ?? 0) > 100)
    }

    @Test("A ClientHello sent one byte per TCP segment completes the handshake over the socket")
    func byteByByteOverSocket() async throws {
        let (client, server) = try await exchange(try await context(), ["--byte-by-byte"])
        #expect(client.first?["reply"] as? String == "ok hello", "\(client)")
        #expect(server.first?.handshake == .complete)
    }

    @Test("Plain HTTP, garbage records and garbage after a partial ClientHello fail as not_tls; a client gone mid-handshake as peer_closed; silence hits the caller's deadline")
    func garbage() async throws {
        let context = try await context()
        let pki = try await TestPKI.shared()
        // A real ClientHello's first bytes, then garbage.
        let hello = try await recordedClientHello(pki: pki)
        let cases: [([UInt8], Bool, TLSHandshakeFailure)] = [
            (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), false, .notTLS),
            ([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5], false, .notTLS),   // application data before any handshake
            (Array(repeating: 0, count: 64), false, .notTLS),
            (Array("\u{16}\u{3}\u{1}garbage that claims to be a handshake record".utf8) + Array(repeating: 0x41, count: 20000), false, .notTLS),
            (Array(hello.prefix(40)) + Array(repeating: 0xEE, count: 600), false, .notTLS),
            (Array(hello.prefix(40)), true, .peerClosed),
        ]
        for (bytes, closeAfter, expected) in cases {
            for mode in [TestTLSServer.Mode.socket, .memory(chunk: 7)] {
                let server = try TestTLSServer(connections: 1, mode: mode) { context }
                let fd = try RawClient.connect(port: server.port)
                RawClient.send(fd, bytes)
                if closeAfter { shutdown(fd, Int32(SHUT_WR)) }
                let outcome = await server.results()
                close(fd)
                #expect(outcome.first?.handshake == .failed(expected), "\(mode) \(expected) \(bytes.prefix(8)) \(outcome.first?.detail ?? "")")
            }
        }
        let server = try TestTLSServer(connections: 1, handshakeDeadline: 0.5) { context }
        let silent = try RawClient.connect(port: server.port)
        #expect(await server.results().first?.handshake == .failed(.timeout))
        close(silent)
    }

    /// The first flight of a real client, captured in memory by Python.
    func recordedClientHello(pki: TestPKI) async throws -> [UInt8] {
        let script = "import ssl,sys\nc=ssl.create_default_context()\ni,o=ssl.MemoryBIO(),ssl.MemoryBIO()\nt=c.wrap_bio(i,o,server_hostname='localhost')\ntry: t.do_handshake()\nexcept ssl.SSLWantReadError: pass\nsys.stdout.write(o.read().hex())\n"
        let result = try await ChildProcess.run(ChildProcess.python, ["-c", script])
        var bytes: [UInt8] = []
        var index = result.output.startIndex
        while let next = result.output.index(index, offsetBy: 2, limitedBy: result.output.endIndex), index < result.output.endIndex {
            guard let byte = UInt8(result.output[index..<next], radix: 16) else { break }
            bytes.append(byte)
            index = next
        }
        #expect(bytes.count > 100 && bytes[0] == 0x16)
        return bytes
    }

    @Test("openssl s_client: TLS 1.3 works, -tls1_1 is refused")
    func opensslClient() async throws {
        let pki = try await TestPKI.shared()
        let context = try await context()
        let server = try TestTLSServer(connections: 1) { context }
        let good = try await ChildProcess.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", pki.path("root.pem"),
                                                                   "-verify_return_error", "-alpn", "http/1.1", "-quiet", "-ign_eof"], input: Array("hello\n".utf8))
        #expect(good.output.contains("ok hello"), "\(good.output)")
        #expect(await server.results().first?.handshake == .complete)

        let refusing = try TestTLSServer(connections: 1) { context }
        let old = try await ChildProcess.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(refusing.port)", "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"], input: [])
        #expect(old.status != 0)
        #expect(await refusing.results().first?.handshake == .failed(.protocolVersion))
    }
}

/// Mutual TLS: client certificates verified in the handshake and read as values.
@Suite struct ClientCertificateHandshakeTests {
    func run(_ policy: ((CertificateTrustStore) -> ClientCertificatePolicy)?, certificate: String?) async throws -> (client: [String: Any], server: TestTLSServer.Outcome?) {
        let pki = try await TestPKI.shared()
        let context = try TLSServerContext(credentials: [pki.credentials()], clientCertificates: try policy.map { $0(try pki.trust()) })
        let server = try TestTLSServer(connections: 1) { context }
        var arguments = ["--ca", pki.path("root.pem")]
        if let certificate { arguments += ["--cert", pki.path("\(certificate).pem"), "--key", pki.path("\(certificate).key")] }
        let client = try await PythonTLSClient(arguments: arguments).run(port: server.port)
        return (client.first ?? [:], await server.results().first)
    }

    @Test("A certificate chaining to the CA is accepted and its value reaches the owner, with the chain sent")
    func accepted() async throws {
        let pki = try await TestPKI.shared()
        let (client, server) = try await run({ ClientCertificatePolicy(trust: $0) }, certificate: "client")
        #expect(client["reply"] as? String == "ok hello", "\(client)")
        let certificate = try #require(server?.clientCertificate)
        #expect(certificate.certificate == (try X509Certificate(der: try pki.bytes("client.der"))))
        #expect(certificate.chain.map(\.subject) == ["O=Tessera Tests,CN=Tessera Test Intermediate CA"])
        #expect(certificate.source == .handshake)
        #expect(certificate.verification == .verifiedChain)
        #expect(!certificate.isProxySupplied)
        #expect(certificate.uris == ["spiffe://tessera.test/billing"])
    }

    @Test("Refused in the handshake: unknown CA, expired, self-signed, server-only EKU, and none where one is required")
    func refused() async throws {
        let expectations: [(String?, TLSHandshakeFailure, Bool)] = [
            ("client-unknown-ca", .clientCertificateUnknownIssuer, false),
            ("client-expired", .clientCertificateExpired, false),
            ("client-self-signed", .clientCertificateSelfSigned, false),
            ("client-server-eku", .clientCertificateRejected, false),
            (nil, .noClientCertificate, true),
        ]
        for (certificate, failure, required) in expectations {
            let (_, server) = try await run({ ClientCertificatePolicy(trust: $0, isRequired: required) }, certificate: certificate)
            #expect(server?.handshake == .failed(failure), "\(certificate ?? "none")")
        }
    }

    @Test("Where a certificate is only requested, a client without one proceeds with none")
    func optional() async throws {
        let (client, server) = try await run({ ClientCertificatePolicy(trust: $0) }, certificate: nil)
        #expect(client["reply"] as? String == "ok hello", "\(client)")
        #expect(server?.handshake == .complete)
        #expect(server?.clientCertificate == nil)
    }

    @Test("RFC 8705 §2.2: when self-signed certificates are accepted, one is marked selfSigned; an expired one is still refused")
    func selfSigned() async throws {
        let (client, server) = try await run({ ClientCertificatePolicy(trust: $0, acceptsSelfSigned: true) }, certificate: "client-self-signed")
        #expect(client["reply"] as? String == "ok hello", "\(client)")
        #expect(server?.clientCertificate?.verification == .selfSigned)
        #expect(server?.clientCertificate?.subject == "CN=self-signed client")
        let (_, expired) = try await run({ ClientCertificatePolicy(trust: $0, acceptsSelfSigned: true) }, certificate: "client-self-signed-expired")
        #expect(expired?.handshake == .failed(.clientCertificateExpired))
        let (_, chained) = try await run({ ClientCertificatePolicy(trust: $0, acceptsSelfSigned: true) }, certificate: "client")
        #expect(chained?.clientCertificate?.verification == .verifiedChain)
    }

    @Test("A listener that does not ask for certificates never sees one")
    func notRequested() async throws {
        let (client, server) = try await run(nil, certificate: "client")
        #expect(client["reply"] as? String == "ok hello", "\(client)")
        #expect(server?.clientCertificate == nil)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

enum RawClient {
    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard status == 0 else { close(fd); throw TestFailure("connect failed") }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
