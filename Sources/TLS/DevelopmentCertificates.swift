import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The certificates `tessera dev` serves with: a development CA, a server certificate for `127.0.0.1`
/// and `localhost`, and a demo workload certificate with a SPIFFE ID, all ECDSA P-256.
///
/// Kept in one folder and reused across runs; whatever is missing, unreadable, not issued by the CA, or
/// close to its end is made again (the CA itself only when it is missing or ends within 30 days, so that a
/// browser or `curl --cacert` set up to trust it keeps working). Never for production.
public enum DevelopmentCertificates {
    public struct Paths: Sendable, Equatable {
        public var directory: String
        public var caCertificate: String { directory + "/ca.pem" }
        public var caKey: String { directory + "/ca.key" }
        public var serverCertificate: String { directory + "/server.pem" }
        public var serverKey: String { directory + "/server.key" }
        public var workloadCertificate: String { directory + "/demo-service.pem" }
        public var workloadKey: String { directory + "/demo-service.key" }
    }

    /// The SPIFFE ID of the demo workload certificate.
    public static let workloadSPIFFEID = "spiffe://tessera.dev/demo-service"

    static let authorityLifetime: TimeInterval = 2 * 365 * 86400
    static let authorityRenewal: TimeInterval = 30 * 86400
    static let serverLifetime: TimeInterval = 90 * 86400
    static let serverRenewal: TimeInterval = 30 * 86400
    /// Workload certificates are short-lived, as SPIFFE SVIDs are; renewed at each start when under a day is left.
    static let workloadLifetime: TimeInterval = 7 * 86400
    static let workloadRenewal: TimeInterval = 86400
    /// Tolerates a client clock slightly behind.
    static let backdating: TimeInterval = 300

    /// Makes or reuses the certificates under `directory` (created with mode 0700; keys written 0600).
    @discardableResult
    public static func prepare(directory: String, now: Date = Date()) throws(DevelopmentCertificatesError) -> Paths {
        let paths = Paths(directory: directory)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .file(directory, error.localizedDescription)
        }

        var authority = existingAuthority(paths, now: now)
        let madeAuthority = authority == nil
        if authority == nil {
            let made = try CertificateIssuer.makeAuthority(commonName: "Tessera development CA", notBefore: now - backdating, notAfter: now + authorityLifetime)
            try write(made.key.pem, to: paths.caKey, mode: 0o600)
            try write(made.certificate.pem, to: paths.caCertificate, mode: 0o644)
            authority = made
        }
        guard let authority else { throw .openSSL("no CA") }
        let trust: CertificateTrustStore
        do {
            trust = try CertificateTrustStore(handles: [authority.certificate])
        } catch {
            throw .openSSL(error.description)
        }

        let serverNames: [SubjectAlternativeName] = [.dns("localhost"), .ipAddress("127.0.0.1"), .ipAddress("::1")]
        if madeAuthority || !isUsable(certificate: paths.serverCertificate, key: paths.serverKey, trust: trust, names: serverNames, renewal: serverRenewal, now: now) {
            let (key, certificate) = try authority.issue(commonName: "localhost", purpose: .server, alternativeNames: serverNames, notBefore: now - backdating, notAfter: now + serverLifetime)
            try write(key.pem, to: paths.serverKey, mode: 0o600)
            try write(certificate.pem, to: paths.serverCertificate, mode: 0o644)
        }
        let workloadNames: [SubjectAlternativeName] = [.uri(workloadSPIFFEID)]
        if madeAuthority || !isUsable(certificate: paths.workloadCertificate, key: paths.workloadKey, trust: trust, names: workloadNames, renewal: workloadRenewal, now: now) {
            let (key, certificate) = try authority.issue(commonName: "demo-service", purpose: .client, alternativeNames: workloadNames, notBefore: now - backdating, notAfter: now + workloadLifetime)
            try write(key.pem, to: paths.workloadKey, mode: 0o600)
            try write(certificate.pem, to: paths.workloadCertificate, mode: 0o644)
        }
        return paths
    }

    /// The CA in the folder, if it is readable, its key matches, and it lasts long enough.
    static func existingAuthority(_ paths: Paths, now: Date) -> CertificateIssuer? {
        guard let certificatePEM = FileManager.default.contents(atPath: paths.caCertificate),
              let keyPEM = FileManager.default.contents(atPath: paths.caKey),
              let credentials = try? TLSCredentials(certificateChainPEM: Array(certificatePEM), privateKeyPEM: Array(keyPEM), now: now),
              credentials.chain.count == 1, credentials.certificate.isCertificateAuthority,
              credentials.certificate.notAfter > now + authorityRenewal else { return nil }
        return CertificateIssuer(key: credentials.key, certificate: credentials.chain[0])
    }

    /// Whether a certificate file and key file hold a certificate issued by `trust`'s CA, for `names`,
    /// lasting at least `renewal` more.
    static func isUsable(certificate: String, key: String, trust: CertificateTrustStore, names: [SubjectAlternativeName], renewal: TimeInterval, now: Date) -> Bool {
        guard let certificatePEM = FileManager.default.contents(atPath: certificate),
              let keyPEM = FileManager.default.contents(atPath: key),
              let credentials = try? TLSCredentials(certificateChainPEM: Array(certificatePEM), privateKeyPEM: Array(keyPEM), now: now) else { return false }
        let leaf = credentials.certificate
        guard leaf.notAfter > now + renewal, Set(names).isSubset(of: Set(leaf.subjectAlternativeNames)) else { return false }
        // Issued by this CA: its issuer name is the CA's subject and its signature verifies under the CA key.
        return leaf.issuer == trust.anchors[0].subject && trust.isSignedByAnchor(leaf)
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(DevelopmentCertificatesError) {
        guard !bytes.isEmpty else { throw .openSSL("nothing to write to \(path)") }
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw .file(temporary, String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw .file(path, String(cString: strerror(errno)))
        }
    }
}

public enum DevelopmentCertificatesError: Error, Sendable, CustomStringConvertible {
    case file(String, String)
    case openSSL(String)

    public var description: String {
        switch self {
        case .file(let path, let reason): "\(path): \(reason)"
        case .openSSL(let reason): "certificate generation failed: \(reason)"
        }
    }
}
