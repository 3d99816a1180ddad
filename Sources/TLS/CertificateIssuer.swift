internal import CLibSSL
import Foundation

/// A small certificate authority for development: an ECDSA P-256 key and a certificate, issuing
/// ECDSA P-256 certificates. Not for production: keys live in files next to the data.
final class CertificateIssuer {
    let key: PrivateKeyHandle
    let certificate: X509Handle

    enum Purpose {
        case authority
        case server
        case client
    }

    init(key: PrivateKeyHandle, certificate: X509Handle) {
        self.key = key
        self.certificate = certificate
    }

    /// A new self-signed CA.
    static func makeAuthority(commonName: String, notBefore: Date, notAfter: Date) throws(DevelopmentCertificatesError) -> CertificateIssuer {
        let key = try makeKey()
        let certificate = try build(subject: commonName, key: key, issuer: nil, purpose: .authority, alternativeNames: [], notBefore: notBefore, notAfter: notAfter)
        return CertificateIssuer(key: key, certificate: certificate)
    }

    /// A new key and a certificate for it signed by this CA.
    func issue(commonName: String, purpose: Purpose, alternativeNames: [SubjectAlternativeName], notBefore: Date, notAfter: Date) throws(DevelopmentCertificatesError) -> (PrivateKeyHandle, X509Handle) {
        let key = try Self.makeKey()
        let issued = try Self.build(subject: commonName, key: key, issuer: self, purpose: purpose, alternativeNames: alternativeNames, notBefore: notBefore, notAfter: notAfter)
        return (key, issued)
    }

    static func makeKey() throws(DevelopmentCertificatesError) -> PrivateKeyHandle {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw .openSSL(LibSSL.errorText("EVP_PKEY_CTX_new_from_name")) }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1,
              EVP_PKEY_generate(context, &key) == 1, let key else {
            throw .openSSL(LibSSL.errorText("EC key generation"))
        }
        return PrivateKeyHandle(owning: key)
    }

    private static func build(subject: String, key: PrivateKeyHandle, issuer: CertificateIssuer?, purpose: Purpose,
                              alternativeNames: [SubjectAlternativeName], notBefore: Date, notAfter: Date) throws(DevelopmentCertificatesError) -> X509Handle {
        guard let raw = X509_new() else { throw .openSSL("X509_new") }
        let certificate = X509Handle(owning: raw)
        let x509 = certificate.pointer
        let serial = LibSSL.randomBytes(16).enumerated().map { $0.offset == 0 ? $0.element & 0x7F : $0.element }
        guard X509_set_version(x509, 2) == 1,
              let serialNumber = serial.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else {
            throw .openSSL(LibSSL.errorText("serial number"))
        }
        defer { BN_free(serialNumber) }
        guard BN_to_ASN1_INTEGER(serialNumber, X509_get_serialNumber(x509)) != nil,
              ASN1_TIME_set(X509_getm_notBefore(x509), time_t(notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(x509), time_t(notAfter.timeIntervalSince1970)) != nil,
              X509_set_pubkey(x509, key.pointer) == 1 else {
            throw .openSSL(LibSSL.errorText("certificate fields"))
        }
        guard let name = X509_NAME_new() else { throw .openSSL("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        guard X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, "Tessera development", -1, -1, 0) == 1,
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, subject, -1, -1, 0) == 1,
              X509_set_subject_name(x509, name) == 1,
              X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0.certificate.pointer) } ?? name) == 1 else {
            throw .openSSL(LibSSL.errorText("certificate names"))
        }

        var extensions: [(Int32, String)] = []
        switch purpose {
        case .authority:
            extensions = [(NID_basic_constraints, "critical,CA:TRUE,pathlen:0"), (NID_key_usage, "critical,keyCertSign,cRLSign")]
        case .server:
            extensions = [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"), (NID_ext_key_usage, "serverAuth")]
        case .client:
            extensions = [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"), (NID_ext_key_usage, "clientAuth")]
        }
        extensions.append((NID_subject_key_identifier, "hash"))
        extensions.append((NID_authority_key_identifier, "keyid:always"))
        if !alternativeNames.isEmpty {
            let text = alternativeNames.map { name -> String in
                switch name {
                case .dns(let value): "DNS:\(value)"
                case .uri(let value): "URI:\(value)"
                case .ipAddress(let value): "IP:\(value)"
                case .email(let value): "email:\(value)"
                }
            }.joined(separator: ",")
            extensions.append((NID_subject_alt_name, text))
        }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.certificate.pointer ?? x509, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else { throw .openSSL(LibSSL.errorText("extension \(value)")) }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw .openSSL(LibSSL.errorText("adding extension \(value)")) }
        }
        guard X509_sign(x509, (issuer?.key ?? key).pointer, EVP_sha256()) > 0 else { throw .openSSL(LibSSL.errorText("X509_sign")) }
        return certificate
    }
}

extension X509Handle {
    var pem: [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { return [] }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, pointer) == 1 else { return [] }
        return LibSSL.drain(bio)
    }
}

extension PrivateKeyHandle {
    /// PKCS #8, unencrypted.
    var pem: [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { return [] }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1 else { return [] }
        return LibSSL.drain(bio)
    }
}

extension LibSSL {
    /// Everything readable from a memory BIO.
    static func drain(_ bio: OpaquePointer) -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(bio))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(clamping: pending)) }
        return read > 0 ? Array(bytes.prefix(Int(read))) : []
    }
}
