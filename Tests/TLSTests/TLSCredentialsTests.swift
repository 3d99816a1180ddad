import Foundation
import Testing
import TLS

@Suite struct TLSCredentialsTests {
    @Test("ECDSA and RSA chains load with PKCS #8 or traditional keys")
    func loads() async throws {
        let pki = try await TestPKI.shared()
        let ec = try pki.credentials()
        #expect(ec.certificate.subject == "CN=localhost")
        #expect(ec.intermediates.count == 1)
        #expect(ec.keyType == "EC")
        let rsa = try pki.credentials("server-rsa.pem", key: "server-rsa.key")
        #expect(rsa.keyType == "RSA")
        _ = try pki.credentials("server-ec.pem", key: "server-ec-traditional.key")
    }

    func failure(_ body: () throws -> Void) -> TLSConfigurationError? {
        do { try body() } catch let error as TLSConfigurationError { return error } catch { return nil }
        return nil
    }

    @Test("Start-up checks: a missing file, a key that does not match, an expired certificate, a chain out of order, an encrypted key and garbage each fail naming the input")
    func refusals() async throws {
        let pki = try await TestPKI.shared()
        let missing = failure { _ = try TLSCredentials.load(certificateFile: pki.path("nope.pem"), keyFile: pki.path("server-ec.key")) }
        #expect(missing?.input == .certificate)
        #expect(missing?.reason == "no such file")
        #expect(missing?.path == pki.path("nope.pem"))
        #expect(failure { _ = try TLSCredentials.load(certificateFile: pki.path("server-ec.pem"), keyFile: pki.path("nope.key")) }?.input == .privateKey)

        let mismatch = failure { _ = try pki.credentials("server-ec.pem", key: "other.key") }
        #expect(mismatch?.input == .privateKey)
        #expect(mismatch?.reason.contains("does not match") == true)
        #expect(mismatch?.path == pki.path("other.key"))

        let expired = failure { _ = try pki.credentials("server-expired.pem", key: "server-expired.key") }
        #expect(expired?.input == .certificate)
        #expect(expired?.reason.contains("expired") == true)

        let misordered = failure { _ = try pki.credentials("server-ec-misordered.pem", key: "server-ec.key") }
        #expect(misordered?.input == .certificate)

        #expect(failure { _ = try pki.credentials("server-ec.pem", key: "server-ec-encrypted.key") }?.input == .privateKey)
        #expect(failure { _ = try pki.credentials("server-ec.key", key: "server-ec.key") }?.input == .certificate)

        let folder = try pki.scratch()
        FileManager.default.createFile(atPath: folder + "/empty.pem", contents: Data())
        FileManager.default.createFile(atPath: folder + "/garbage.pem", contents: Data("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".utf8))
        #expect(failure { _ = try TLSCredentials.load(certificateFile: folder + "/empty.pem", keyFile: pki.path("server-ec.key")) }?.reason == "is empty")
        #expect(failure { _ = try TLSCredentials.load(certificateFile: folder + "/garbage.pem", keyFile: pki.path("server-ec.key")) }?.input == .certificate)
        #expect(failure { _ = try TLSCredentials.load(certificateFile: folder, keyFile: pki.path("server-ec.key")) }?.input == .certificate)
    }

    @Test("A CA bundle must exist and hold at least one certificate")
    func caBundle() async throws {
        let pki = try await TestPKI.shared()
        #expect(try pki.trust().anchors.count == 1)
        #expect(failure { _ = try CertificateTrustStore.load(file: pki.path("nope.pem")) }?.input == .clientCA)
        #expect(failure { _ = try CertificateTrustStore.load(file: pki.path("server-ec.key")) }?.input == .clientCA)
    }

    @Test("A context takes one ECDSA and one RSA chain together, and refuses none")
    func dualContext() async throws {
        let pki = try await TestPKI.shared()
        let context = try TLSServerContext(credentials: [pki.credentials(), pki.credentials("server-rsa.pem", key: "server-rsa.key")])
        #expect(context.credentials.count == 2)
        #expect(throws: TLSConfigurationError.self) { try TLSServerContext(credentials: []) }
    }
}
