internal import CLibSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the fields of an `X509` into Swift values.
struct CertificateFields {
    var der: [UInt8]
    var subject: String
    var issuer: String
    var serialNumber: String
    var subjectAlternativeNames: [SubjectAlternativeName]
    var notBefore: Date
    var notAfter: Date
    var subjectPublicKeyInfo: [UInt8]
    var isCertificateAuthority: Bool

    init(_ handle: X509Handle) {
        let x509 = handle.pointer
        der = handle.der
        subject = X509_get_subject_name(x509).map(Self.rfc4514) ?? ""
        issuer = X509_get_issuer_name(x509).map(Self.rfc4514) ?? ""
        serialNumber = Self.hex(Self.bytes(of: X509_get0_serialNumber(x509)))
        subjectAlternativeNames = Self.alternativeNames(x509)
        notBefore = Self.date(X509_get0_notBefore(x509)) ?? .distantFuture
        notAfter = Self.date(X509_get0_notAfter(x509)) ?? .distantPast
        var spki: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &spki)
        if length > 0, let spki {
            subjectPublicKeyInfo = Array(UnsafeBufferPointer(start: spki, count: Int(length)))
            CRYPTO_free(spki, #fileID, #line)
        } else {
            subjectPublicKeyInfo = []
        }
        isCertificateAuthority = X509_check_ca(x509) > 0
        ERR_clear_error()
    }

    static func bytes(of string: UnsafePointer<ASN1_STRING>) -> [UInt8] {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An `ASN1_TIME` as a date; nil if it is malformed.
    static func date(_ time: UnsafePointer<ASN1_TIME>) -> Date? {
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    // MARK: Distinguished names (RFC 4514)

    /// RFC 4514 §3: the attribute types that are written by name; every other type is written as a dotted OID.
    static let shortNames: [Int32: String] = [
        NID_commonName: "CN", NID_localityName: "L", NID_stateOrProvinceName: "ST",
        NID_organizationName: "O", NID_organizationalUnitName: "OU", NID_countryName: "C",
        NID_streetAddress: "STREET", NID_domainComponent: "DC", NID_userId: "UID",
    ]

    /// RFC 4514 §2.1: the RDNs of the sequence in reverse order, separated by commas; the attributes of a
    /// multi-valued RDN joined by `+`.
    static func rfc4514(_ name: OpaquePointer) -> String {
        var rdns: [[String]] = []
        var lastSet: Int32 = -1
        let count = X509_NAME_entry_count(name)
        for index in 0..<count {
            guard let entry = X509_NAME_get_entry(name, index) else { continue }
            let set = X509_NAME_ENTRY_set(entry)
            let attribute = attributeTypeAndValue(entry)
            if set == lastSet, !rdns.isEmpty {
                rdns[rdns.count - 1].append(attribute)
            } else {
                rdns.append([attribute])
            }
            lastSet = set
        }
        return rdns.reversed().map { $0.joined(separator: "+") }.joined(separator: ",")
    }

    static func attributeTypeAndValue(_ entry: OpaquePointer) -> String {
        guard let object = X509_NAME_ENTRY_get_object(entry), let value = X509_NAME_ENTRY_get_data(entry) else { return "" }
        let nid = OBJ_obj2nid(object)
        if let short = shortNames[nid], let text = utf8(value) {
            return short + "=" + escape(text)
        }
        // RFC 4514 §2.4: "If the AttributeType is in a dotted-decimal form, the AttributeValue is represented by
        // an number sign ('#' U+0023) character followed by the hexadecimal encoding of each of the octets of
        // the BER encoding of the X.500 AttributeValue."
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        let oid = length > 0 ? String(cString: buffer) : "0.0"
        let type = ASN1_STRING_type(value)
        return oid + "=#" + hex(derTagged(tag: UInt8(truncatingIfNeeded: type), contents: bytes(of: value)))
    }

    /// The value's characters as UTF-8, converted from its ASN.1 string type; nil if not convertible.
    static func utf8(_ value: UnsafePointer<ASN1_STRING>) -> String? {
        var out: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&out, value)
        guard length >= 0, let out else { ERR_clear_error(); return nil }
        defer { CRYPTO_free(out, #fileID, #line) }
        let bytes = Array(UnsafeBufferPointer(start: out, count: Int(length)))
        return String(validating: bytes, as: UTF8.self)
    }

    /// RFC 4514 §2.4 escaping of an attribute value string.
    static func escape(_ value: String) -> String {
        var out = ""
        let scalars = Array(value.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case "\"", "+", ",", ";", "<", ">", "\\":
                out += "\\" + String(scalar)
            case "\u{0}":
                out += "\\00"
            case " " where index == 0 || index == scalars.count - 1:
                out += "\\ "
            case "#" where index == 0:
                out += "\\#"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A primitive DER TLV for universal `tag` (string types carry their universal tag number as OpenSSL type).
    static func derTagged(tag: UInt8, contents: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let length = contents.count
        if length < 0x80 {
            out.append(UInt8(length))
        } else {
            var lengthBytes: [UInt8] = []
            var remaining = length
            while remaining > 0 {
                lengthBytes.insert(UInt8(remaining & 0xFF), at: 0)
                remaining >>= 8
            }
            out.append(0x80 | UInt8(lengthBytes.count))
            out += lengthBytes
        }
        return out + contents
    }

    // MARK: Subject alternative names

    static func alternativeNames(_ x509: OpaquePointer) -> [SubjectAlternativeName] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else {
            ERR_clear_error()
            return []
        }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [SubjectAlternativeName] = []
        let count = OPENSSL_sk_num(names)
        for index in 0..<max(count, 0) {
            guard let element = OPENSSL_sk_value(names, index) else { continue }
            let name = element.assumingMemoryBound(to: GENERAL_NAME.self).pointee
            switch name.type {
            case GEN_DNS:
                if let text = ia5(name.d.dNSName) { result.append(.dns(text)) }
            case GEN_URI:
                if let text = ia5(name.d.uniformResourceIdentifier) { result.append(.uri(text)) }
            case GEN_EMAIL:
                if let text = ia5(name.d.rfc822Name) { result.append(.email(text)) }
            case GEN_IPADD:
                if let address = name.d.iPAddress, let text = ipText(bytes(of: address)) { result.append(.ipAddress(text)) }
            default:
                continue
            }
        }
        return result
    }

    /// An IA5String's text. Entries with bytes outside IA5 (above 0x7F) are not names anyone can register
    /// and are left out rather than decoded lossily (two different byte strings must never read the same).
    static func ia5(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String? {
        guard let string else { return nil }
        let raw = bytes(of: string)
        guard !raw.isEmpty, raw.allSatisfy({ $0 < 0x80 }) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }

    static func ipText(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(cString: buffer) : nil
    }
}
