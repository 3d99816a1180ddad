import Foundation

/// Reads a client certificate that a TLS-terminating proxy forwarded in a header.
///
/// Only the caller knows whether the peer is a trusted proxy; these parsers only read. Two forms:
/// RFC 9440 `Client-Cert` (an RFC 8941 Byte Sequence of the DER certificate) with `Client-Cert-Chain`
/// (a List of Byte Sequences), and Envoy's `X-Forwarded-Client-Cert` (`Cert="<URL-encoded PEM>"`).
public enum ProxyCertificateHeaders {
    /// Bounds the work one request can cause: a forwarded chain longer than this is refused.
    public static let maximumChainLength = Int(CertificateTrustStore.maximumChainDepth)
    /// Bounds the work one `X-Forwarded-Client-Cert` can cause: more elements (proxy hops) are refused.
    public static let maximumEnvoyElements = 16

    /// RFC 9440 §2: the certificate in `Client-Cert` and the chain in `Client-Cert-Chain` (each list entry
    /// one certificate, the first the issuer of the end-entity certificate). `clientCert` and `chain` are
    /// the field lines as received; nil when there is no `Client-Cert`.
    public static func parseClientCert(_ clientCert: [String], chain: [String]) throws(ProxyCertificateHeaderError) -> ClientCertificate? {
        guard !clientCert.isEmpty else { return nil }
        // RFC 9440 §2.2: "Client-Cert ... is an Item Structured Header Field"; several lines cannot form one Item.
        guard clientCert.count == 1 else { throw .malformed("Client-Cert appears more than once") }
        var parser = StructuredFieldParser(clientCert[0])
        let der: [UInt8]
        do {
            der = try parser.parseByteSequenceItem()
        } catch {
            throw .malformed("Client-Cert is not a Byte Sequence: \(error.reason)")
        }
        let certificate: X509Certificate
        do {
            certificate = try X509Certificate(der: der)
        } catch {
            throw .malformed("Client-Cert is not a DER certificate")
        }
        var intermediates: [X509Certificate] = []
        if !chain.isEmpty {
            // RFC 8941 §4.2: multiple field lines of a List are combined with commas.
            var listParser = StructuredFieldParser(chain.joined(separator: ","))
            let members: [[UInt8]]
            do {
                members = try listParser.parseByteSequenceList(maximumCount: maximumChainLength)
            } catch {
                throw .malformed("Client-Cert-Chain is not a List of Byte Sequences: \(error.reason)")
            }
            for member in members {
                do {
                    intermediates.append(try X509Certificate(der: member))
                } catch {
                    throw .malformed("Client-Cert-Chain holds something that is not a DER certificate")
                }
            }
        }
        return ClientCertificate(certificate: certificate, chain: intermediates, source: .proxy(.clientCert), verification: .assertedByProxy)
    }

    /// Envoy's `X-Forwarded-Client-Cert`: comma-separated elements, one per proxy hop that forwarded the
    /// request, each `Key=Value` pairs separated by semicolons (values optionally double-quoted). The last
    /// element is the one the proxy in front of Tessera added, about the client of its own TLS connection.
    /// `Cert` (URL-encoded PEM) is required; `Chain` (URL-encoded PEM, leaf first) is read when present, and a
    /// `Hash` (hex SHA-256 of the DER) must match the certificate.
    public static func parseEnvoy(_ values: [String]) throws(ProxyCertificateHeaderError) -> ClientCertificate? {
        guard !values.isEmpty else { return nil }
        let elements = try EnvoyElementParser.parse(values.joined(separator: ","), maximumElements: maximumEnvoyElements)
        guard let element = elements.last else { throw .malformed("X-Forwarded-Client-Cert is empty") }
        guard let certText = element["cert"] else {
            throw .malformed("X-Forwarded-Client-Cert has no Cert (the proxy must forward the certificate itself)")
        }
        guard let pem = certText.removingPercentEncoding,
              let certificates = try? X509Certificate.certificates(pem: Array(pem.utf8)), certificates.count == 1 else {
            throw .malformed("X-Forwarded-Client-Cert Cert is not one URL-encoded PEM certificate")
        }
        let certificate = certificates[0]
        if let hash = element["hash"] {
            let digest = CertificateFields.hex(LibSSL.sha256(certificate.der))
            guard hash.lowercased() == digest else { throw .malformed("X-Forwarded-Client-Cert Hash does not match Cert") }
        }
        var intermediates: [X509Certificate] = []
        if let chainText = element["chain"] {
            guard let pem = chainText.removingPercentEncoding,
                  let chain = try? X509Certificate.certificates(pem: Array(pem.utf8)), chain.count <= maximumChainLength + 1 else {
                throw .malformed("X-Forwarded-Client-Cert Chain is not URL-encoded PEM certificates")
            }
            // Envoy's Chain starts with the client certificate itself.
            intermediates = chain.first == certificate ? Array(chain.dropFirst()) : chain
        }
        return ClientCertificate(certificate: certificate, chain: intermediates, source: .proxy(.envoy), verification: .assertedByProxy)
    }
}

/// A forwarded-certificate header that cannot be read. The request goes on without a certificate.
public struct ProxyCertificateHeaderError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    static func malformed(_ reason: String) -> ProxyCertificateHeaderError { ProxyCertificateHeaderError(reason: reason) }
    public var description: String { reason }
}

/// The subset of RFC 8941 parsing that RFC 9440 needs: an Item or a List whose bare items are Byte
/// Sequences, with parameters (read by the grammar and ignored, as RFC 9440 defines none).
struct StructuredFieldParser {
    struct Failure: Error { let reason: String }

    private let bytes: [UInt8]
    private var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpaces() { while current == 0x20 { index += 1 } }
    private mutating func skipOWS() { while current == 0x20 || current == 0x09 { index += 1 } }

    /// RFC 8941 §4.2.3 for an Item field whose bare item must be a Byte Sequence.
    mutating func parseByteSequenceItem() throws(Failure) -> [UInt8] {
        skipSpaces()
        let value = try parseByteSequence()
        try skipParameters()
        skipSpaces()
        guard index == bytes.count else { throw Failure(reason: "unexpected bytes after the item") }
        return value
    }

    /// RFC 8941 §4.2.1 for a List whose members must be Byte Sequences (no Inner Lists).
    mutating func parseByteSequenceList(maximumCount: Int) throws(Failure) -> [[UInt8]] {
        var members: [[UInt8]] = []
        skipSpaces()
        while index < bytes.count {
            members.append(try parseByteSequence())
            guard members.count <= maximumCount else { throw Failure(reason: "more than \(maximumCount) members") }
            try skipParameters()
            skipOWS()
            if index == bytes.count { return members }
            guard current == UInt8(ascii: ",") else { throw Failure(reason: "members not separated by a comma") }
            index += 1
            skipOWS()
            guard index < bytes.count else { throw Failure(reason: "a trailing comma") }
        }
        return members
    }

    /// RFC 8941 §4.2.7: `:` base64 `:`.
    private mutating func parseByteSequence() throws(Failure) -> [UInt8] {
        guard current == UInt8(ascii: ":") else { throw Failure(reason: "not a Byte Sequence") }
        index += 1
        let start = index
        while let byte = current, byte != UInt8(ascii: ":") {
            guard Self.isBase64(byte) else { throw Failure(reason: "a byte outside base64") }
            index += 1
        }
        guard current == UInt8(ascii: ":") else { throw Failure(reason: "an unterminated Byte Sequence") }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        guard let decoded = Base64.decode(Substring(text)) else { throw Failure(reason: "invalid base64") }
        return decoded
    }

    private static func isBase64(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
    }

    /// RFC 8941 §4.2.3.2: `*( ";" *SP key [ "=" bare-item ] )`.
    private mutating func skipParameters() throws(Failure) {
        while current == UInt8(ascii: ";") {
            index += 1
            skipSpaces()
            guard let first = current, (0x61...0x7A).contains(first) || first == UInt8(ascii: "*") else {
                throw Failure(reason: "a parameter key must start with a lowercase letter or *")
            }
            while let byte = current, (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || "_-.*".utf8.contains(byte) { index += 1 }
            if current == UInt8(ascii: "=") {
                index += 1
                try skipBareItem()
            }
        }
    }

    /// RFC 8941 §4.2.3.1: any bare item (parameter values are not used, only checked).
    private mutating func skipBareItem() throws(Failure) {
        guard let byte = current else { throw Failure(reason: "a missing parameter value") }
        switch byte {
        case UInt8(ascii: ":"):
            _ = try parseByteSequence()
        case UInt8(ascii: "\""):
            index += 1
            while true {
                guard let next = current else { throw Failure(reason: "an unterminated String") }
                index += 1
                if next == UInt8(ascii: "\\") {
                    guard let escaped = current, escaped == UInt8(ascii: "\"") || escaped == UInt8(ascii: "\\") else { throw Failure(reason: "a bad escape") }
                    index += 1
                } else if next == UInt8(ascii: "\"") {
                    return
                } else if next < 0x20 || next > 0x7E {
                    throw Failure(reason: "a byte outside a String")
                }
            }
        case UInt8(ascii: "?"):
            index += 1
            guard current == UInt8(ascii: "0") || current == UInt8(ascii: "1") else { throw Failure(reason: "a bad Boolean") }
            index += 1
        case UInt8(ascii: "-"), 0x30...0x39:
            index += 1
            var digits = byte == UInt8(ascii: "-") ? 0 : 1
            while let next = current, (0x30...0x39).contains(next) || next == UInt8(ascii: ".") {
                index += 1
                digits += 1
                guard digits <= 20 else { throw Failure(reason: "a number too long") }
            }
            guard digits > 0 else { throw Failure(reason: "a bad number") }
        case 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "*"):
            index += 1
            // tchar / ":" / "/"
            while let next = current, next > 0x20, next < 0x7F, !"\"(),;<=>?@[\\]{}".utf8.contains(next) { index += 1 }
        default:
            throw Failure(reason: "an unknown bare item")
        }
    }
}

/// Envoy's `X-Forwarded-Client-Cert` grammar: elements separated by `,`, pairs by `;`, `Key=Value` with
/// the value optionally in double quotes (inside which `,` `;` `=` are literal and `\"` is a quote).
enum EnvoyElementParser {
    /// Each element as lowercased key → value. A key repeated within an element (Envoy repeats `URI` and
    /// `DNS`) keeps its first value; only `Cert`, `Chain` and `Hash` are read, and those do not repeat.
    static func parse(_ text: String, maximumElements: Int) throws(ProxyCertificateHeaderError) -> [[String: String]] {
        var elements: [[String: String]] = []
        var element: [String: String] = [:]
        var key = ""
        var value = ""
        var readingValue = false
        var quoted = false
        var wasQuoted = false
        var characters = text.unicodeScalars.makeIterator()

        func finishPair() throws(ProxyCertificateHeaderError) {
            let trimmedKey = key.trimmingCharacters(in: .whitespaces).lowercased()
            if trimmedKey.isEmpty && value.isEmpty && !readingValue { return }
            guard readingValue, !trimmedKey.isEmpty else { throw .malformed("X-Forwarded-Client-Cert has a pair without `=`") }
            let finalValue = wasQuoted ? value : value.trimmingCharacters(in: .whitespaces)
            if element[trimmedKey] == nil { element[trimmedKey] = finalValue }
            key = ""
            value = ""
            readingValue = false
            wasQuoted = false
        }

        while let scalar = characters.next() {
            if quoted {
                if scalar == "\\" {
                    guard let escaped = characters.next() else { throw .malformed("X-Forwarded-Client-Cert ends inside an escape") }
                    value.unicodeScalars.append(escaped)
                } else if scalar == "\"" {
                    quoted = false
                } else {
                    value.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "=" where !readingValue:
                readingValue = true
            case "\"" where readingValue && value.trimmingCharacters(in: .whitespaces).isEmpty && !wasQuoted:
                value = ""
                quoted = true
                wasQuoted = true
            case ";":
                try finishPair()
            case ",":
                try finishPair()
                guard !element.isEmpty else { throw .malformed("X-Forwarded-Client-Cert has an empty element") }
                elements.append(element)
                guard elements.count <= maximumElements else { throw .malformed("X-Forwarded-Client-Cert has more than \(maximumElements) elements") }
                element = [:]
            default:
                if wasQuoted {
                    guard scalar == " " || scalar == "\t" else { throw .malformed("X-Forwarded-Client-Cert has text after a quoted value") }
                } else if readingValue {
                    value.unicodeScalars.append(scalar)
                } else {
                    key.unicodeScalars.append(scalar)
                }
            }
        }
        guard !quoted else { throw .malformed("X-Forwarded-Client-Cert has an unterminated quoted value") }
        try finishPair()
        if !element.isEmpty { elements.append(element) }
        guard elements.count <= maximumElements else { throw .malformed("X-Forwarded-Client-Cert has more than \(maximumElements) elements") }
        return elements
    }
}
