import Foundation
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion on a thread of its own (never on Swift's cooperative pool).
enum ChildProcess {
    struct Result: Sendable {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        let reader = output.fileHandleForReading
        return await withCheckedContinuation { continuation in
            Thread {
                let data = reader.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self)))
            }.start()
        }
    }

    /// The Python with `cryptography` that `make test` prepares (`.build/venv`), else `python3`.
    static var python: String {
        if let configured = ProcessInfo.processInfo.environment["TESSERA_TEST_PYTHON"] { return configured }
        let venv = TestPKI.repository.appendingPathComponent(".build/venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }
}

/// Certificates made by `tools/make_pki.py` (Python `cryptography`) once per test process.
final class TestPKI: Sendable {
    let directory: String

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var tools: String { repository.appendingPathComponent("Tests/TLSTests/tools").path }

    private static let made = Task<TestPKI, any Error> {
        let directory = NSTemporaryDirectory() + "tessera-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = try await ChildProcess.run(ChildProcess.python, [tools + "/make_pki.py", directory])
        guard result.status == 0 else { throw TestFailure("make_pki.py failed: \(result.output)") }
        return TestPKI(directory: directory)
    }

    static func shared() async throws -> TestPKI { try await made.value }

    init(directory: String) { self.directory = directory }

    func path(_ name: String) -> String { directory + "/" + name }

    func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path(name)))) }

    func credentials(_ certificate: String = "server-ec.pem", key: String = "server-ec.key") throws -> TLSCredentials {
        try TLSCredentials.load(certificateFile: path(certificate), keyFile: path(key))
    }

    func trust(_ name: String = "root.pem") throws -> CertificateTrustStore {
        try CertificateTrustStore.load(file: path(name))
    }

    /// A fresh folder of its own for a test that changes files.
    func scratch() throws -> String {
        let folder = directory + "/scratch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A loopback TLS server for one test: accepts connections on a thread of its own, drives a `TLSSession`
/// for each over the non-blocking socket (or in memory, feeding the received bytes one at a time), reads
/// one line, answers `ok <line>` and closes with close_notify.
final class TestTLSServer: @unchecked Sendable {
    enum Mode: Sendable {
        case socket
        /// Memory mode, the ciphertext handed to the session `chunk` bytes at a time.
        case memory(chunk: Int)
    }

    struct Outcome: Sendable {
        var handshake: TLSHandshakeResult = .wantRead
        var clientCertificate: ClientCertificate?
        var protocolVersion: String?
        var applicationProtocol: String?
        var isResumed = false
        var line: String?
        var handshakeSteps = 0
        var detail: String?
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var outcomes: [Outcome] = []
    private let finished = DispatchSemaphore(value: 0)

    /// Serves `connections` connections with `context` (each from `contexts()` when given, read per connection).
    init(connections: Int, mode: Mode = .socket, handshakeDeadline: TimeInterval = 20, context: @escaping @Sendable () -> TLSServerContext) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 16) == 0 else { throw TestFailure("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        self.listener = listener
        Thread { [self] in
            for _ in 0..<connections {
                guard let fd = accept(deadline: Date().addingTimeInterval(60)) else { break }
                let outcome = serve(fd: fd, mode: mode, context: context(), deadline: Date().addingTimeInterval(handshakeDeadline))
                close(fd)
                lock.withLock { outcomes.append(outcome) }
            }
            close(listener)
            finished.signal()
        }.start()
    }

    /// The outcomes, once every connection was served (or accepting timed out).
    func results() async -> [Outcome] {
        await withCheckedContinuation { continuation in
            Thread { [self] in
                finished.wait()
                continuation.resume(returning: lock.withLock { outcomes })
            }.start()
        }
    }

    private func accept(deadline: Date) -> Int32? {
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(max(0, deadline.timeIntervalSinceNow) * 1000)) == 1 else { return nil }
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// Waits until `fd` is readable (or writable); false at the deadline.
    private func wait(_ fd: Int32, writable: Bool, deadline: Date) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        let milliseconds = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
        return poll(&poller, 1, milliseconds) == 1
    }

    private func serve(fd: Int32, mode: Mode, context: TLSServerContext, deadline: Date) -> Outcome {
        var outcome = Outcome()
        let session: TLSSession
        switch mode {
        case .socket: guard let made = try? TLSSession(context: context, socket: fd) else { return outcome }; session = made
        case .memory: guard let made = try? TLSSession(context: context) else { return outcome }; session = made
        }
        // Moves ciphertext between the socket and a memory-mode session.
        func flush() {
            var output = session.takeOutput()
            while !output.isEmpty {
                let sent = output.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent > 0 { output.removeFirst(sent) } else if !wait(fd, writable: true, deadline: deadline) { return }
            }
        }
        var failedEarly: TLSHandshakeResult?
        func receive() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 16384)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { session.receiveEndOfInput(); return true }
            guard count > 0 else { return errno == EAGAIN }
            guard case .memory(let chunk) = mode else { return true }
            var index = 0
            while index < count {
                let end = min(count, index + chunk)
                session.receive(Array(buffer[index..<end]))
                index = end
                // Each piece is offered to the handshake on its own, as if it had arrived alone.
                if index < count, !session.isHandshakeComplete {
                    outcome.handshakeSteps += 1
                    let step = session.handshake()
                    flush()
                    if case .failed = step {
                        failedEarly = step
                        return true
                    }
                }
            }
            return true
        }

        handshake: while true {
            outcome.handshakeSteps += 1
            let step = failedEarly ?? session.handshake()
            if case .memory = mode { flush() }
            switch step {
            case .complete:
                outcome.handshake = .complete
                break handshake
            case .failed:
                outcome.handshake = step
                outcome.detail = session.lastErrorDetail
                return outcome
            case .wantRead, .wantWrite:
                let writable = step == .wantWrite
                guard wait(fd, writable: writable, deadline: deadline) else {
                    outcome.handshake = .failed(.timeout)
                    return outcome
                }
                if case .memory = mode, !writable, !receive() { outcome.handshake = .failed(.peerClosed); return outcome }
            }
        }
        outcome.clientCertificate = session.clientCertificate
        outcome.protocolVersion = session.protocolVersion
        outcome.applicationProtocol = session.applicationProtocol
        outcome.isResumed = session.isResumed

        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        reading: while !line.contains(UInt8(ascii: "\n")) {
            let result = buffer.withUnsafeMutableBytes { session.read(into: $0) }
            switch result {
            case .bytes(let count): line += buffer[..<count]
            case .wantRead:
                guard wait(fd, writable: false, deadline: deadline) else { break reading }
                if case .memory = mode, !receive() { break reading }
            case .wantWrite:
                if case .memory = mode { flush() }
                guard wait(fd, writable: true, deadline: deadline) else { break reading }
            case .closed, .failed: break reading
            }
        }
        outcome.line = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .newlines)
        var reply = Array("ok \(outcome.line ?? "")\n".utf8)
        while !reply.isEmpty {
            let result = reply.withUnsafeBytes { session.write($0) }
            if case .memory = mode { flush() }
            switch result {
            case .wrote(let count): reply.removeFirst(count)
            case .wantWrite, .wantRead: guard wait(fd, writable: result == .wantWrite, deadline: deadline) else { return outcome }
            case .failed: return outcome
            }
        }
        while session.shutdown() == .wantWrite, wait(fd, writable: true, deadline: deadline) {}
        if case .memory = mode { flush() }
        // Give the client its chance to read the reply and close_notify before the socket closes.
        _ = wait(fd, writable: false, deadline: Date().addingTimeInterval(2))
        return outcome
    }
}

/// Runs `tls_client.py` and decodes one JSON object per connection.
struct PythonTLSClient {
    var arguments: [String]

    func run(port: UInt16) async throws -> [[String: Any]] {
        let result = try await ChildProcess.run(ChildProcess.python, [TestPKI.tools + "/tls_client.py", "--port", String(port)] + arguments)
        guard result.status == 0 else { throw TestFailure("tls_client.py failed: \(result.output)") }
        return result.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
