internal import COpenSSL

/// Owns one OpenSSL `EVP_PKEY` and the signature contexts prepared for it.
///
/// Thread safety (why `@unchecked Sendable` is sound): after creation nothing here is mutated. The
/// `EVP_PKEY` is only read, which OpenSSL 3 allows from many threads at once (keys made by key generation,
/// `EVP_PKEY_fromdata` and the decoders are provider-native, so there is no lazy export cache to fill).
/// Signing and verifying use contexts from a `PKeyContextPool`, which gives each caller a context of its
/// own, initialised once for the key (algorithm fetch, key checks, digest and padding set-up) and reused.
final class EVPKey: @unchecked Sendable {
    enum Kind: Sendable {
        case rsa
        case p256
    }

    /// Public parts, as big-endian unsigned bytes.
    enum PublicComponents {
        case rsa(n: [UInt8], e: [UInt8])
        case p256(x: [UInt8], y: [UInt8])
    }

    /// `EVP_PKEY *`
    private let pkey: OpaquePointer
    let kind: Kind
    /// Modulus size for RSA, 256 for P-256.
    let bits: Int
    /// The largest signature `EVP_PKEY_sign` can produce (`EVP_PKEY_get_size`).
    private let maximumSignatureLength: Int
    /// Contexts after `EVP_PKEY_sign_init` with SHA-256, or nil for public keys.
    let signContexts: PKeyContextPool?
    /// Contexts after `EVP_PKEY_verify_init` with SHA-256.
    let verifyContexts: PKeyContextPool

    private init(pkey: OpaquePointer, kind: Kind, bits: Int, maximumSignatureLength: Int,
                 signTemplate: OpaquePointer?, verifyTemplate: OpaquePointer) {
        self.pkey = pkey
        self.kind = kind
        self.bits = bits
        self.maximumSignatureLength = maximumSignatureLength
        self.signContexts = signTemplate.map(PKeyContextPool.init(template:))
        self.verifyContexts = PKeyContextPool(template: verifyTemplate)
    }

    deinit {
        // The pools, and with them every context (each holds a reference to the key), are freed first.
        EVP_PKEY_free(pkey)
    }

    var hasPrivateKey: Bool { signContexts != nil }

    // MARK: Adoption

    /// Wraps `pkey`, taking ownership of it in every case: on success the new object frees it, on failure
    /// it is freed before this function throws.
    private static func adopt(_ pkey: OpaquePointer, isPrivate: Bool) throws -> EVPKey {
        var signTemplate: OpaquePointer?
        var verifyTemplate: OpaquePointer?
        var adopted = false
        defer {
            if !adopted {
                if let signTemplate { EVP_PKEY_CTX_free(signTemplate) }
                if let verifyTemplate { EVP_PKEY_CTX_free(verifyTemplate) }
                EVP_PKEY_free(pkey)
            }
        }
        let kind: Kind
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            kind = .rsa
        } else if EVP_PKEY_is_a(pkey, "EC") == 1 {
            let group = groupName(pkey)
            // Explicit-parameter curves have no name and are refused along with every other curve.
            guard group == "prime256v1" || group == "P-256" || group == "secp256r1" else {
                throw KeyError.unsupportedCurve(group ?? "explicit parameters")
            }
            kind = .p256
        } else {
            let name = EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "unknown"
            throw KeyError.unsupportedKeyType(name)
        }
        let bits = Int(EVP_PKEY_get_bits(pkey))
        let size = Int(EVP_PKEY_get_size(pkey))
        guard bits > 0, size > 0 else { throw OpenSSLError.capture("EVP_PKEY_get_bits") }

        let verify = try makeTemplate(pkey, kind: kind, forSigning: false)
        verifyTemplate = verify
        if isPrivate {
            signTemplate = try makeTemplate(pkey, kind: kind, forSigning: true)
        }
        adopted = true
        return EVPKey(pkey: pkey, kind: kind, bits: bits, maximumSignatureLength: size,
                      signTemplate: signTemplate, verifyTemplate: verify)
    }

    private static func groupName(_ pkey: OpaquePointer) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        let status = buffer.withUnsafeMutableBufferPointer { pointer in
            EVP_PKEY_get_group_name(pkey, pointer.baseAddress, pointer.count, &length)
        }
        guard status == 1 else {
            ERR_clear_error()
            return nil
        }
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func makeTemplate(_ pkey: OpaquePointer, kind: Kind, forSigning: Bool) throws -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_pkey")
        }
        var ready = false
        defer { if !ready { EVP_PKEY_CTX_free(context) } }
        if forSigning {
            guard EVP_PKEY_sign_init(context) == 1 else { throw OpenSSLError.capture("EVP_PKEY_sign_init") }
        } else {
            guard EVP_PKEY_verify_init(context) == 1 else { throw OpenSSLError.capture("EVP_PKEY_verify_init") }
        }
        guard EVP_PKEY_CTX_set_signature_md(context, FetchedAlgorithms.shared.sha256) == 1 else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_set_signature_md")
        }
        if kind == .rsa {
            // RS256 is RSASSA-PKCS1-v1_5 (RFC 7518 §3.3); set it explicitly rather than relying on the default.
            guard EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING) == 1 else {
                throw OpenSSLError.capture("EVP_PKEY_CTX_set_rsa_padding")
            }
        }
        ready = true
        return context
    }

    // MARK: Creation

    /// Generates an RSA key with the given modulus size.
    static func generateRSA(bits: Int) throws -> EVPKey {
        try generate(type: "RSA") { context in
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) == 1 else {
                throw OpenSSLError.capture("EVP_PKEY_CTX_set_rsa_keygen_bits")
            }
        }
    }

    /// Generates a P-256 key.
    static func generateP256() throws -> EVPKey {
        try generate(type: "EC") { context in
            guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
                throw OpenSSLError.capture("EVP_PKEY_CTX_set_group_name")
            }
        }
    }

    private static func generate(type: String, configure: (OpaquePointer) throws -> Void) throws -> EVPKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw OpenSSLError.capture("EVP_PKEY_keygen_init") }
        try configure(context)
        var generated: OpaquePointer?
        guard EVP_PKEY_generate(context, &generated) == 1, let pkey = generated else {
            throw OpenSSLError.capture("EVP_PKEY_generate")
        }
        return try adopt(pkey, isPrivate: true)
    }

    /// Decodes a DER PKCS#8 `PrivateKeyInfo` (RFC 5208) and checks that its parts belong together.
    static func fromPKCS8(_ der: [UInt8]) throws -> EVPKey {
        let pkey: OpaquePointer = try der.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                throw KeyError.invalidEncoding("empty PKCS#8")
            }
            var cursor: UnsafePointer<UInt8>? = base
            guard let info = d2i_PKCS8_PRIV_KEY_INFO(nil, &cursor, buffer.count) else {
                ERR_clear_error()
                throw KeyError.invalidEncoding("not a DER PKCS#8 PrivateKeyInfo")
            }
            defer { PKCS8_PRIV_KEY_INFO_free(info) }
            guard let end = cursor, end - base == buffer.count else {
                throw KeyError.invalidEncoding("trailing data after PKCS#8 PrivateKeyInfo")
            }
            guard let pkey = EVP_PKCS82PKEY(info) else {
                ERR_clear_error()
                throw KeyError.invalidEncoding("unsupported or invalid PKCS#8 key")
            }
            return pkey
        }
        let key = try adopt(pkey, isPrivate: true)
        try key.check(pairwise: true)
        return key
    }

    /// Imports an RSA public key from its modulus and exponent (big-endian, unsigned).
    static func fromRSAPublic(n: [UInt8], e: [UInt8]) throws -> EVPKey {
        let builder = try ParameterBuilder()
        try builder.pushBigNumber("n", bigEndian: n)
        try builder.pushBigNumber("e", bigEndian: e)
        return try fromPublicParameters(type: "RSA", builder: builder)
    }

    /// Imports a P-256 public key from its affine coordinates (32 bytes each, big-endian).
    static func fromP256Public(x: [UInt8], y: [UInt8]) throws -> EVPKey {
        let builder = try ParameterBuilder()
        try builder.pushUTF8("group", "P-256")
        // SEC 1 §2.3.3 uncompressed point: 0x04 || X || Y.
        try builder.pushOctets("pub", [0x04] + x + y)
        return try fromPublicParameters(type: "EC", builder: builder)
    }

    /// `EVP_PKEY_PUBLIC_KEY`, which Swift cannot import because it is a macro built from other macros.
    private static let publicKeySelection = Int32(OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)
        | Int32(OSSL_KEYMGMT_SELECT_OTHER_PARAMETERS) | Int32(OSSL_KEYMGMT_SELECT_PUBLIC_KEY)

    private static func fromPublicParameters(type: String, builder: ParameterBuilder) throws -> EVPKey {
        let params = try builder.build()
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_fromdata_init(context) == 1 else { throw OpenSSLError.capture("EVP_PKEY_fromdata_init") }
        var imported: OpaquePointer?
        guard EVP_PKEY_fromdata(context, &imported, publicKeySelection, params) == 1, let pkey = imported else {
            ERR_clear_error()
            throw KeyError.invalidKey
        }
        let key = try adopt(pkey, isPrivate: false)
        try key.check(pairwise: false)
        return key
    }

    /// Runs OpenSSL's key validation: the public check (EC point on the curve and of the right order; RSA
    /// modulus odd and composite, exponent odd with 2^16 < e < 2^256 per SP 800-56B) or, for private keys,
    /// the pairwise check that the private and public parts belong together.
    private func check(pairwise: Bool) throws {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else {
            throw OpenSSLError.capture("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        let status = pairwise ? EVP_PKEY_pairwise_check(context) : EVP_PKEY_public_check(context)
        guard status == 1 else {
            ERR_clear_error()
            throw KeyError.invalidKey
        }
    }

    // MARK: Export

    /// The private key as DER PKCS#8 `PrivateKeyInfo`.
    func pkcs8DER() throws -> [UInt8] {
        guard hasPrivateKey else { throw KeyError.invalidKey }
        guard let info = EVP_PKEY2PKCS8(pkey) else { throw OpenSSLError.capture("EVP_PKEY2PKCS8") }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        let length = i2d_PKCS8_PRIV_KEY_INFO(info, nil)
        guard length > 0 else { throw OpenSSLError.capture("i2d_PKCS8_PRIV_KEY_INFO") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_PKCS8_PRIV_KEY_INFO(info, &cursor)
        }
        guard written == length else { throw OpenSSLError.capture("i2d_PKCS8_PRIV_KEY_INFO") }
        return der
    }

    /// The public parts, for building a JWK.
    func publicComponents() throws -> PublicComponents {
        switch kind {
        case .rsa:
            return .rsa(n: try bigNumberParameter("n", paddedTo: nil), e: try bigNumberParameter("e", paddedTo: nil))
        case .p256:
            return .p256(x: try bigNumberParameter("qx", paddedTo: 32), y: try bigNumberParameter("qy", paddedTo: 32))
        }
    }

    private func bigNumberParameter(_ name: String, paddedTo width: Int?) throws -> [UInt8] {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, name, &number) == 1, let number else {
            throw OpenSSLError.capture("EVP_PKEY_get_bn_param(\(name))")
        }
        defer { BN_free(number) }
        let minimal = (Int(BN_num_bits(number)) + 7) / 8
        let length = width ?? minimal
        guard minimal <= length else { throw OpenSSLError.capture("BN_bn2binpad(\(name))") }
        var bytes = [UInt8](repeating: 0, count: length)
        let written = bytes.withUnsafeMutableBufferPointer { BN_bn2binpad(number, $0.baseAddress, Int32(length)) }
        guard written == Int32(length) else { throw OpenSSLError.capture("BN_bn2binpad(\(name))") }
        return bytes
    }

    // MARK: Operations

    /// Signs a SHA-256 digest; RSA gives PKCS#1 v1.5, P-256 gives DER `ECDSA-Sig-Value`.
    func sign(digest: [UInt8]) throws -> [UInt8] {
        guard let signContexts else { throw KeyError.invalidKey }
        let signed = signContexts.withContext { context -> (result: [UInt8]?, succeeded: Bool) in
            var signature = [UInt8](repeating: 0, count: maximumSignatureLength)
            var length = signature.count
            let status = signature.withUnsafeMutableBufferPointer { out in
                EVP_PKEY_sign(context, out.baseAddress, &length, digest, digest.count)
            }
            guard status == 1, length <= signature.count else { return (nil, false) }
            signature.removeLast(signature.count - length)
            return (signature, true)
        }
        guard let signature = signed ?? nil else { throw OpenSSLError.capture("EVP_PKEY_sign") }
        return signature
    }

    /// Verifies a signature (PKCS#1 v1.5 or DER ECDSA) over a SHA-256 digest.
    func verify(signature: [UInt8], digest: [UInt8]) -> Bool {
        let verified = verifyContexts.withContext { context -> (result: Bool, succeeded: Bool) in
            let valid = EVP_PKEY_verify(context, signature, signature.count, digest, digest.count) == 1
            return (valid, valid)
        }
        guard verified == true else {
            ERR_clear_error()
            return false
        }
        return true
    }
}
