import Foundation

/// An X.509 certificate as a plain value: its DER encoding and the fields a protocol decides on.
///
/// No OpenSSL type appears here; the value is made once (at the end of a handshake, or from a trusted
/// proxy's header) and can be passed to any layer.
public struct X509Certificate: Sendable, Hashable, CustomStringConvertible {
    /// The certificate's DER encoding, exactly as received.
    public let der: [UInt8]
    /// SHA-256 of `der`, base64url without padding: the `x5t#S256` form RFC 8705 §3.1 uses for certificate binding.
    public let thumbprintSHA256: String
    /// The subject distinguished name as an RFC 4514 string (most significant RDN last, e.g. `CN=svc,O=Example,C=DE`).
    public let subject: String
    /// The issuer distinguished name as an RFC 4514 string.
    public let issuer: String
    /// The serial number in lowercase hex, as encoded (two digits per byte).
    public let serialNumber: String
    /// The subject alternative names of the kinds RFC 8705 §2.1.2 registers (DNS, URI, IP, email), in certificate order.
    public let subjectAlternativeNames: [SubjectAlternativeName]
    /// Start of the validity period.
    public let notBefore: Date
    /// End of the validity period.
    public let notAfter: Date
    /// The DER `SubjectPublicKeyInfo` (to compare with a registered key, RFC 8705 §2.2).
    public let subjectPublicKeyInfo: [UInt8]
    /// Whether basic constraints mark this as a CA certificate.
    public let isCertificateAuthority: Bool

    /// The DNS names among the subject alternative names.
    public var dnsNames: [String] { subjectAlternativeNames.compactMap { if case .dns(let name) = $0 { name } else { nil } } }
    /// The URIs among the subject alternative names (SPIFFE IDs are URIs).
    public var uris: [String] { subjectAlternativeNames.compactMap { if case .uri(let uri) = $0 { uri } else { nil } } }
    /// The IP addresses among the subject alternative names, as text (`192.0.2.1`, `2001:db8::1`).
    public var ipAddresses: [String] { subjectAlternativeNames.compactMap { if case .ipAddress(let address) = $0 { address } else { nil } } }
    /// The email addresses (rfc822Name) among the subject alternative names.
    public var emailAddresses: [String] { subjectAlternativeNames.compactMap { if case .email(let address) = $0 { address } else { nil } } }

    /// Whether `date` lies within the validity period.
    public func isValid(at date: Date) -> Bool { notBefore <= date && date <= notAfter }

    /// Whether `thumbprint` (base64url SHA-256, as in `cnf.x5t#S256`) is this certificate's, compared in constant time.
    public func hasThumbprint(_ thumbprint: String) -> Bool {
        let ours = Array(thumbprintSHA256.utf8)
        let theirs = Array(thumbprint.utf8)
        guard ours.count == theirs.count else { return false }
        var difference: UInt8 = 0
        for index in ours.indices { difference |= ours[index] ^ theirs[index] }
        return difference == 0
    }

    /// Parses one DER-encoded certificate.
    public init(der: [UInt8]) throws(CertificateParseError) {
        guard let handle = X509Handle(der: der) else { throw CertificateParseError("not a DER X.509 certificate") }
        self.init(handle: handle)
    }

    /// Parses every certificate of a PEM text (`-----BEGIN CERTIFICATE-----` blocks), in order.
    public static func certificates(pem: [UInt8]) throws(CertificateParseError) -> [X509Certificate] {
        do {
            return try X509Handle.certificates(pem: pem).map { X509Certificate(handle: $0) }
        } catch {
            throw CertificateParseError(error.description)
        }
    }

    init(handle: X509Handle) {
        let fields = CertificateFields(handle)
        self.der = fields.der
        self.thumbprintSHA256 = Base64.urlEncode(LibSSL.sha256(fields.der))
        self.subject = fields.subject
        self.issuer = fields.issuer
        self.serialNumber = fields.serialNumber
        self.subjectAlternativeNames = fields.subjectAlternativeNames
        self.notBefore = fields.notBefore
        self.notAfter = fields.notAfter
        self.subjectPublicKeyInfo = fields.subjectPublicKeyInfo
        self.isCertificateAuthority = fields.isCertificateAuthority
    }

    /// PEM text of this certificate.
    public var pem: String {
        var text = "-----BEGIN CERTIFICATE-----\n"
        let base64 = Data(der).base64EncodedString()
        var index = base64.startIndex
        while index < base64.endIndex {
            let end = base64.index(index, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            text += base64[index..<end] + "\n"
            index = end
        }
        return text + "-----END CERTIFICATE-----\n"
    }

    public var description: String { "\(subject) (x5t#S256 \(thumbprintSHA256))" }

    public static func == (lhs: X509Certificate, rhs: X509Certificate) -> Bool { lhs.der == rhs.der }
    public func hash(into hasher: inout Hasher) { hasher.combine(der) }
}

/// A subject alternative name entry (RFC 5280 §4.2.1.6) of a kind RFC 8705 can match.
public enum SubjectAlternativeName: Sendable, Hashable, CustomStringConvertible {
    case dns(String)
    case uri(String)
    /// An IPv4 or IPv6 address in its usual text form.
    case ipAddress(String)
    /// An rfc822Name.
    case email(String)

    public var description: String {
        switch self {
        case .dns(let value): "DNS:\(value)"
        case .uri(let value): "URI:\(value)"
        case .ipAddress(let value): "IP:\(value)"
        case .email(let value): "email:\(value)"
        }
    }
}

/// Bytes that are not a certificate.
public struct CertificateParseError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension PEMError: CustomStringConvertible {
    var description: String {
        switch self {
        case .noCertificate: "no PEM certificate found"
        case .noPrivateKey: "no PEM private key found"
        case .malformed(let reason): "malformed PEM: \(reason)"
        }
    }
}

/// Base64 helpers (standard and URL alphabets) over Foundation's codec.
enum Base64 {
    static func urlEncode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Strict standard base64 (RFC 4648 §4) with padding; nil on any other byte.
    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.count % 4 == 0 else { return nil }
        return Data(base64Encoded: String(text)).map { Array($0) }
    }
}
