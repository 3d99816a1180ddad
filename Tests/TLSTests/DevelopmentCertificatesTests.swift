import Foundation
import Testing
import TLS

@Suite struct DevelopmentCertificatesTests {
    func openssl(_ arguments: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run("/usr/bin/openssl", arguments)
    }

    @Test("tessera dev's CA issues a server certificate for 127.0.0.1 and localhost and a SPIFFE workload certificate; openssl verifies both for their purpose; keys are 0600")
    func issues() async throws {
        let pki = try await TestPKI.shared()
        let folder = try pki.scratch() + "/tls"
        let paths = try DevelopmentCertificates.prepare(directory: folder)

        let server = try await openssl(["verify", "-CAfile", paths.caCertificate, "-purpose", "sslserver", "-verify_ip", "127.0.0.1", paths.serverCertificate])
        #expect(server.status == 0, "\(server.output)")
        let localhost = try await openssl(["verify", "-CAfile", paths.caCertificate, "-purpose", "sslserver", "-verify_hostname", "localhost", paths.serverCertificate])
        #expect(localhost.status == 0, "\(localhost.output)")
        let workload = try await openssl(["verify", "-CAfile", paths.caCertificate, "-purpose", "sslclient", paths.workloadCertificate])
        #expect(workload.status == 0, "\(workload.output)")
        let notServer = try await openssl(["verify", "-CAfile", paths.caCertificate, "-purpose", "sslserver", paths.workloadCertificate])
        #expect(notServer.status != 0)

        let workloadValue = try X509Certificate.certificates(pem: Array(try Data(contentsOf: URL(fileURLWithPath: paths.workloadCertificate))))[0]
        #expect(workloadValue.uris == [DevelopmentCertificates.workloadSPIFFEID])
        #expect(workloadValue.subjectAlternativeNames.count == 1)
        #expect(try CertificateTrustStore.load(file: paths.caCertificate).verify(workloadValue) == .trusted)

        for key in [paths.caKey, paths.serverKey, paths.workloadKey] {
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key)")
        }
        // The server certificate serves a real client that trusts only the development CA.
        let context = try TLSServerContext(credentials: [TLSCredentials.load(certificateFile: paths.serverCertificate, keyFile: paths.serverKey)])
        let tlsServer = try TestTLSServer(connections: 1) { context }
        let client = try await PythonTLSClient(arguments: ["--ca", paths.caCertificate]).run(port: tlsServer.port)
        #expect(client.first?["reply"] as? String == "ok hello", "\(client)")
        _ = await tlsServer.results()
    }

    @Test("A second run reuses everything; near their end the server and workload certificates are renewed under the same CA; a lost CA key means a new CA and new certificates")
    func reuseAndRenewal() async throws {
        let pki = try await TestPKI.shared()
        let folder = try pki.scratch() + "/tls"
        let paths = try DevelopmentCertificates.prepare(directory: folder)
        func contents() throws -> [String: Data] {
            var result: [String: Data] = [:]
            for path in [paths.caCertificate, paths.serverCertificate, paths.workloadCertificate] {
                result[path] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
            return result
        }
        let first = try contents()
        try DevelopmentCertificates.prepare(directory: folder)
        #expect(try contents() == first)

        // Six days on, the 7-day workload certificate is renewed; the server certificate and CA are kept.
        try DevelopmentCertificates.prepare(directory: folder, now: Date().addingTimeInterval(6.5 * 86400))
        var second = try contents()
        #expect(second[paths.caCertificate] == first[paths.caCertificate])
        #expect(second[paths.serverCertificate] == first[paths.serverCertificate])
        #expect(second[paths.workloadCertificate] != first[paths.workloadCertificate])

        // Sixty-five days on, the 90-day server certificate is renewed too.
        try DevelopmentCertificates.prepare(directory: folder, now: Date().addingTimeInterval(65 * 86400))
        let third = try contents()
        #expect(third[paths.caCertificate] == first[paths.caCertificate])
        #expect(third[paths.serverCertificate] != second[paths.serverCertificate])
        second = third

        try FileManager.default.removeItem(atPath: paths.caKey)
        try DevelopmentCertificates.prepare(directory: folder)
        let fourth = try contents()
        #expect(fourth[paths.caCertificate] != first[paths.caCertificate])
        #expect(fourth[paths.serverCertificate] != second[paths.serverCertificate])
        let verify = try await openssl(["verify", "-CAfile", paths.caCertificate, paths.serverCertificate, paths.workloadCertificate])
        #expect(verify.status == 0, "\(verify.output)")
    }
}
