internal import COpenSSL

/// Errors from `AESGCM`.
public enum AESGCMError: Error, Sendable, Equatable {
    /// The key is not 32 bytes long.
    case invalidKeyLength(Int)
    /// The sealed box is too short, was modified, or was sealed with another key or other associated data.
    case authenticationFailed
    /// The input is longer than OpenSSL's `int` length parameters allow.
    case inputTooLong
}

/// AES-256-GCM authenticated encryption (NIST SP 800-38D), for secrets stored at rest.
///
/// A sealed box is `nonce (12 bytes) || ciphertext || tag (16 bytes)`. Nonces are random, so one key should
/// seal fewer than 2^32 messages (SP 800-38D §8.3); rotate keys well before that.
public enum AESGCM {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    /// Encrypts and authenticates `plaintext`, also authenticating `aad`; returns nonce || ciphertext || tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], authenticating aad: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keyLength else { throw AESGCMError.invalidKeyLength(key.count) }
        guard plaintext.count <= Int(Int32.max) - 16, aad.count <= Int(Int32.max) else { throw AESGCMError.inputTooLong }
        let nonce = SecureRandom.bytes(nonceLength)
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLError.capture("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }

        guard EVP_EncryptInit_ex2(context, FetchedAlgorithms.shared.aes256GCM, key, nonce, nil) == 1 else {
            throw OpenSSLError.capture("EVP_EncryptInit_ex2")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else {
                throw OpenSSLError.capture("EVP_EncryptUpdate(AAD)")
            }
        }
        var out = nonce
        out.append(contentsOf: [UInt8](repeating: 0, count: plaintext.count + tagLength))
        var written = 0
        let status = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            let body = base + nonceLength
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(context, body, &length, plaintext, Int32(plaintext.count)) == 1 else { return false }
                written = Int(length)
            }
            guard EVP_EncryptFinal_ex(context, body + written, &length) == 1 else { return false }
            written += Int(length)
            guard written == plaintext.count else { return false }
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagLength), body + written) == 1
        }
        guard status else { throw OpenSSLError.capture("AES-256-GCM seal") }
        return out
    }

    /// Checks and decrypts a box made by `seal` with the same key and `aad`.
    public static func open(_ sealed: [UInt8], key: [UInt8], authenticating aad: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keyLength else { throw AESGCMError.invalidKeyLength(key.count) }
        guard sealed.count >= nonceLength + tagLength else { throw AESGCMError.authenticationFailed }
        guard sealed.count <= Int(Int32.max), aad.count <= Int(Int32.max) else { throw AESGCMError.inputTooLong }
        let ciphertextLength = sealed.count - nonceLength - tagLength
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLError.capture("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }

        var plaintext = [UInt8](repeating: 0, count: ciphertextLength)
        var initialised = false
        var authentic = false
        sealed.withUnsafeBufferPointer { input in
            guard let base = input.baseAddress else { return }
            guard EVP_DecryptInit_ex2(context, FetchedAlgorithms.shared.aes256GCM, key, base, nil) == 1 else { return }
            initialised = true
            var length: Int32 = 0
            if !aad.isEmpty {
                guard EVP_DecryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else { return }
            }
            var written = 0
            if ciphertextLength > 0 {
                let ok = plaintext.withUnsafeMutableBufferPointer { out in
                    EVP_DecryptUpdate(context, out.baseAddress, &length, base + nonceLength, Int32(ciphertextLength)) == 1
                }
                guard ok else { return }
                written = Int(length)
            }
            // The tag is set before the final call, which compares it in constant time.
            let tag = UnsafeMutableRawPointer(mutating: base + nonceLength + ciphertextLength)
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagLength), tag) == 1 else { return }
            let finished = plaintext.withUnsafeMutableBufferPointer { out in
                EVP_DecryptFinal_ex(context, out.baseAddress.map { $0 + written } ?? nil, &length) == 1
            }
            authentic = finished && written + Int(length) == ciphertextLength
        }
        guard initialised else { throw OpenSSLError.capture("EVP_DecryptInit_ex2") }
        guard authentic else {
            ERR_clear_error()
            // Do not hand back unauthenticated plaintext, even partially.
            for index in plaintext.indices { plaintext[index] = 0 }
            throw AESGCMError.authenticationFailed
        }
        return plaintext
    }
}
