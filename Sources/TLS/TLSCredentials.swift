internal import CLibSSL
import Foundation

/// A server certificate chain and its private key, checked to belong together and to be valid now.
///
/// Immutable once made; shared by every context built from it.
public final class TLSCredentials: @unchecked Sendable {
    /// The chain, leaf first, each certificate followed by its issuer.
    let chain: [X509Handle]
    let key: PrivateKeyHandle

    /// The server (leaf) certificate.
    public let certificate: X509Certificate
    /// The certificates sent after the leaf (intermediates, possibly the root).
    public let intermediates: [X509Certificate]
    /// The private key's algorithm (`RSA`, `EC`, …).
    public let keyType: String

    /// Checks and keeps a PEM chain (leaf first) and its PEM private key.
    ///
    /// Refused: no certificate, a malformed block, a chain out of order, a key that does not match the
    /// leaf, an encrypted key, or a certificate of the chain that has expired at `now`.
    public init(certificateChainPEM: [UInt8], privateKeyPEM: [UInt8], now: Date = Date()) throws(TLSConfigurationError) {
        let chain: [X509Handle]
        do {
            chain = try X509Handle.certificates(pem: certificateChainPEM)
        } catch {
            throw TLSConfigurationError(.certificate, error.description)
        }
        let key: PrivateKeyHandle
        do {
            key = try PrivateKeyHandle.load(pem: privateKeyPEM)
        } catch {
            throw TLSConfigurationError(.privateKey, error.description + " (encrypted keys are not supported)")
        }
        let values = chain.map(X509Certificate.init(handle:))
        for (index, value) in values.enumerated() where value.notAfter < now {
            let which = index == 0 ? "the certificate" : "certificate \(index + 1) of the chain (\(value.subject))"
            throw TLSConfigurationError(.certificate, "\(which) expired at \(Self.format(value.notAfter))")
        }
        for index in chain.indices.dropLast() where X509_check_issued(chain[index + 1].pointer, chain[index].pointer) != X509_V_OK {
            ERR_clear_error()
            throw TLSConfigurationError(.certificate, "certificate \(index + 2) of the chain did not issue certificate \(index + 1): the chain must be leaf first, each certificate followed by its issuer")
        }
        guard X509_check_private_key(chain[0].pointer, key.pointer) == 1 else {
            ERR_clear_error()
            throw TLSConfigurationError(.privateKey, "the private key does not match the certificate (\(values[0].subject))")
        }
        self.chain = chain
        self.key = key
        self.certificate = values[0]
        self.intermediates = Array(values.dropFirst())
        self.keyType = key.typeDescription
    }

    /// Reads and checks a PEM certificate chain file and a PEM private key file.
    public static func load(certificateFile: String, keyFile: String, now: Date = Date()) throws(TLSConfigurationError) -> TLSCredentials {
        let chain = try PEMFile.read(certificateFile, as: .certificate)
        let key = try PEMFile.read(keyFile, as: .privateKey)
        do {
            return try TLSCredentials(certificateChainPEM: chain, privateKeyPEM: key, now: now)
        } catch {
            throw error.at(error.input == .privateKey ? keyFile : certificateFile)
        }
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
