import Foundation
import Testing
import TLS

@Suite struct TLSReloaderTests {
    /// A folder with `server.pem`, `server.key` and `ca.pem` copied from the test PKI.
    func folder(certificate: String = "server-ec.pem", key: String = "server-ec.key", ca: String = "root.pem") async throws -> (TestPKI, String, TLSFiles) {
        let pki = try await TestPKI.shared()
        let folder = try pki.scratch()
        try replace(folder + "/server.pem", with: pki.path(certificate))
        try replace(folder + "/server.key", with: pki.path(key))
        try replace(folder + "/ca.pem", with: pki.path(ca))
        return (pki, folder, TLSFiles(certificates: [.init(certificate: folder + "/server.pem", key: folder + "/server.key")], clientCA: folder + "/ca.pem"))
    }

    /// Replaces a file the way deployments do: a new file renamed over the old one.
    func replace(_ path: String, with source: String) throws {
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        _ = rename(temporary, path)
    }

    func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test("A changed certificate is loaded once the files have settled, and new connections present it")
    func reloads() async throws {
        let (pki, folder, files) = try await folder()
        let reloader = try TLSReloader(files: files)
        let before = reloader.current
        #expect(reloader.reloadIfChanged().isUnchanged)
        try replace(folder + "/server.pem", with: pki.path("server-ec-renewed.pem"))
        #expect(reloader.reloadIfChanged().isSettling)
        guard case .reloaded(let context) = reloader.reloadIfChanged() else { Issue.record("not reloaded"); return }
        #expect(context.credentials[0].certificate.subject == "CN=localhost renewed")
        #expect(reloader.current === context)
        #expect(reloader.reloadIfChanged().isUnchanged)

        // Connections take `current` when they start: one on each side of a second rotation.
        let counter = Counter()
        let server = try TestTLSServer(connections: 2) {
            if counter.next() == 2 {
                try? self.replace(folder + "/server.pem", with: pki.path("server-ec.pem"))
                _ = reloader.reloadIfChanged()
                _ = reloader.reloadIfChanged()
            }
            return reloader.current
        }
        let first = try await PythonTLSClient(arguments: ["--ca", pki.path("root.pem")]).run(port: server.port)
        let second = try await PythonTLSClient(arguments: ["--ca", pki.path("root.pem")]).run(port: server.port)
        _ = await server.results()
        #expect(first.first?["server_cn"] as? String == "localhost renewed", "\(first)")
        #expect(second.first?["server_cn"] as? String == "localhost", "\(second)")
        #expect(before.credentials[0].certificate.subject == "CN=localhost")
    }

    @Test("Broken replacements are refused once each and the previous context stays: garbage, a key that does not match, an expired certificate, a broken CA bundle, a missing file")
    func refusesBrokenReplacements() async throws {
        let (pki, folder, files) = try await folder()
        let reloader = try TLSReloader(files: files)
        let original = reloader.current
        let breakages: [(String, () throws -> Void, TLSConfigurationError.Input)] = [
            ("garbage", { try self.write(folder + "/server.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n") }, .certificate),
            ("mismatched key", { try self.replace(folder + "/server.pem", with: pki.path("server-rsa.pem")) }, .privateKey),
            ("expired", { try self.replace(folder + "/server.pem", with: pki.path("server-expired.pem")) }, .certificate),
            ("CA bundle", { try self.write(folder + "/ca.pem", "nothing\n") }, .clientCA),
            ("missing key", { try FileManager.default.removeItem(atPath: folder + "/server.key") }, .privateKey),
        ]
        for (name, breakIt, input) in breakages {
            try breakIt()
            #expect(reloader.reloadIfChanged().isSettling, "\(name)")
            guard case .refused(let error) = reloader.reloadIfChanged() else { Issue.record("\(name) not refused"); continue }
            #expect(error.input == input, "\(name): \(error)")
            #expect(reloader.current === original, "\(name)")
            // The same broken files are not reported again.
            #expect(reloader.reloadIfChanged().isUnchanged, "\(name)")
            // Repaired: identical contents to what is loaded, so nothing to reload either.
            try replace(folder + "/server.pem", with: pki.path("server-ec.pem"))
            try replace(folder + "/server.key", with: pki.path("server-ec.key"))
            try replace(folder + "/ca.pem", with: pki.path("root.pem"))
            #expect(reloader.reloadIfChanged().isSettling, "\(name)")
            #expect(reloader.reloadIfChanged().isUnchanged, "\(name)")
            #expect(reloader.current === original)
        }
    }

    @Test("A changed CA bundle applies to new handshakes: certificates of the old CA are then refused")
    func caRotation() async throws {
        let (pki, folder, files) = try await folder()
        let reloader = try TLSReloader(files: files)
        func handshake(_ certificate: String) async throws -> TestTLSServer.Outcome? {
            let context = reloader.current
            let server = try TestTLSServer(connections: 1) { context }
            _ = try await PythonTLSClient(arguments: ["--ca", pki.path("root.pem"), "--cert", pki.path("\(certificate).pem"), "--key", pki.path("\(certificate).key")]).run(port: server.port)
            return await server.results().first
        }
        #expect(try await handshake("client")?.clientCertificate != nil)
        try replace(folder + "/ca.pem", with: pki.path("other-root.pem"))
        _ = reloader.reloadIfChanged()
        guard case .reloaded = reloader.reloadIfChanged() else { Issue.record("not reloaded"); return }
        #expect(try await handshake("client")?.handshake == .failed(.clientCertificateUnknownIssuer))
        #expect(try await handshake("client-unknown-ca")?.clientCertificate?.subject == "CN=stranger")
    }

    @Test("Start-up: files that cannot serve are an error naming the input")
    func startup() async throws {
        let (pki, folder, _) = try await folder()
        #expect(throws: TLSConfigurationError.self) {
            try TLSReloader(files: TLSFiles(certificates: [.init(certificate: folder + "/nope.pem", key: folder + "/server.key")]))
        }
        do {
            _ = try TLSReloader(files: TLSFiles(certificates: [.init(certificate: folder + "/server.pem", key: pki.path("other.key"))]))
            Issue.record("a mismatched key was accepted")
        } catch {
            #expect(error.input == .privateKey)
        }
    }

    @Test("The watcher reports a reload and a refusal on its own schedule")
    func watcher() async throws {
        let (pki, folder, files) = try await folder()
        let reloader = try TLSReloader(files: files)
        let events = EventLog()
        let watcher = TLSFileWatcher(reloaders: [reloader], interval: 0.05) { event in
            switch event {
            case .reloaded(_, let context): events.append("reloaded \(context.credentials[0].certificate.subject)")
            case .refused(_, let error): events.append("refused \(error.input)")
            }
        }
        defer { watcher.stop() }
        try replace(folder + "/server.pem", with: pki.path("server-ec-renewed.pem"))
        #expect(await events.wait(for: 1), "\(events.all)")
        try write(folder + "/server.pem", "broken")
        #expect(await events.wait(for: 2), "\(events.all)")
        #expect(events.all == ["reloaded CN=localhost renewed", "refused certificate"])
        #expect(reloader.current.credentials[0].certificate.subject == "CN=localhost renewed")
    }
}

extension TLSReloadOutcome {
    var isUnchanged: Bool { if case .unchanged = self { true } else { false } }
    var isSettling: Bool { if case .settling = self { true } else { false } }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []
    func append(_ event: String) { lock.withLock { events.append(event) } }
    var all: [String] { lock.withLock { events } }

    /// Waits (up to 20 s, generous for a loaded machine) until at least `count` events arrived.
    func wait(for count: Int) async -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if all.count >= count { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
