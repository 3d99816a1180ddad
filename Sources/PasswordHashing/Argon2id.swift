internal import CArgon2

/// Cost parameters of Argon2id.
///
/// The defaults are OWASP's first recommended configuration for Argon2id
/// (19 MiB of memory, 2 passes, 1 lane), which RFC 9106 §4 also allows.
public struct Argon2Parameters: Sendable, Hashable {
    /// Memory cost in KiB. Bounds the memory one hash takes (and so how many can run at once).
    public var memoryKiB: UInt32
    /// Number of passes over the memory.
    public var iterations: UInt32
    /// Number of lanes (and threads) one hash uses.
    public var parallelism: UInt32
    /// Salt length in bytes (RFC 9106 §3.1 recommends 16).
    public var saltLength: Int
    /// Tag length in bytes.
    public var hashLength: Int

    public init(memoryKiB: UInt32 = 19_456, iterations: UInt32 = 2, parallelism: UInt32 = 1, saltLength: Int = 16, hashLength: Int = 32) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.saltLength = saltLength
        self.hashLength = hashLength
    }

    /// Upper bounds accepted when verifying a stored hash, so that a corrupted or
    /// planted hash string cannot make one verification allocate gigabytes or run for minutes.
    public static let verificationCeiling = (memoryKiB: UInt32(1 << 21), iterations: UInt32(64), parallelism: UInt32(16))

    /// Checks that the parameters are within what libargon2 and this server accept.
    public func validate() throws(Argon2Error) {
        guard memoryKiB >= 8 * parallelism, memoryKiB <= Self.verificationCeiling.memoryKiB else {
            throw Argon2Error(code: Int32(ARGON2_MEMORY_TOO_LITTLE.rawValue), message: "memory must be between 8×parallelism and \(Self.verificationCeiling.memoryKiB) KiB")
        }
        guard iterations >= 1, iterations <= Self.verificationCeiling.iterations else {
            throw Argon2Error(code: Int32(ARGON2_TIME_TOO_SMALL.rawValue), message: "iterations must be between 1 and \(Self.verificationCeiling.iterations)")
        }
        guard parallelism >= 1, parallelism <= Self.verificationCeiling.parallelism else {
            throw Argon2Error(code: Int32(ARGON2_LANES_TOO_FEW.rawValue), message: "parallelism must be between 1 and \(Self.verificationCeiling.parallelism)")
        }
        guard (8...64).contains(saltLength), (16...64).contains(hashLength) else {
            throw Argon2Error(code: Int32(ARGON2_SALT_TOO_SHORT.rawValue), message: "salt must be 8–64 bytes and hash 16–64 bytes")
        }
    }
}

/// An error reported by libargon2, or a refused parameter set.
public struct Argon2Error: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: Int32
    public let message: String
    public var description: String { "Argon2 error \(code): \(message)" }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(code: Int32) {
        let text = argon2_error_message(code).map { String(cString: $0) } ?? "unknown error"
        self.init(code: code, message: text)
    }
}

/// Argon2id (RFC 9106) password hashing through libargon2.
///
/// These calls are CPU- and memory-heavy and block the calling thread for tens of
/// milliseconds: callers run them on a dedicated bounded pool, never on Swift's
/// cooperative thread pool.
public enum Argon2id {
    /// Hashes `password` with a fresh random salt and returns the PHC string
    /// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), which carries its own parameters.
    public static func hash(password: [UInt8], parameters: Argon2Parameters = Argon2Parameters()) throws(Argon2Error) -> String {
        try parameters.validate()
        var generator = SystemRandomNumberGenerator()  // getrandom(2) on Linux: a CSPRNG
        let salt = (0..<parameters.saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let length = argon2_encodedlen(parameters.iterations, parameters.memoryKiB, parameters.parallelism,
                                       UInt32(parameters.saltLength), UInt32(parameters.hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: length + 1)
        let status = password.withUnsafeBytes { pwd in
            salt.withUnsafeBytes { saltBytes in
                encoded.withUnsafeMutableBufferPointer { out in
                    argon2id_hash_encoded(parameters.iterations, parameters.memoryKiB, parameters.parallelism,
                                          pwd.baseAddress, pwd.count, saltBytes.baseAddress, saltBytes.count,
                                          parameters.hashLength, out.baseAddress, out.count)
                }
            }
        }
        guard status == ARGON2_OK.rawValue else { throw Argon2Error(code: status) }
        let bytes = encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Verifies `password` against a PHC string made by ``hash(password:parameters:)``.
    ///
    /// Returns `false` on a mismatch; throws only when the stored string is unusable.
    /// libargon2 compares the tags in constant time.
    public static func verify(password: [UInt8], encoded: String) throws(Argon2Error) -> Bool {
        guard let parameters = parameters(of: encoded) else {
            throw Argon2Error(code: Int32(ARGON2_DECODING_FAIL.rawValue), message: "not an Argon2id PHC string")
        }
        guard parameters.memoryKiB <= Argon2Parameters.verificationCeiling.memoryKiB,
              parameters.iterations <= Argon2Parameters.verificationCeiling.iterations,
              parameters.parallelism <= Argon2Parameters.verificationCeiling.parallelism else {
            throw Argon2Error(code: Int32(ARGON2_DECODING_FAIL.rawValue), message: "stored hash exceeds the accepted cost ceiling")
        }
        let status = password.withUnsafeBytes { pwd in
            argon2id_verify(encoded, pwd.baseAddress, pwd.count)
        }
        if status == ARGON2_OK.rawValue { return true }
        if status == ARGON2_VERIFY_MISMATCH.rawValue { return false }
        throw Argon2Error(code: status)
    }

    /// The cost parameters recorded in a PHC string, or nil if it is not Argon2id.
    /// Lets a caller see that a stored hash is weaker than the current policy and rehash.
    public static func parameters(of encoded: String) -> Argon2Parameters? {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        guard fields.count == 6, fields[0].isEmpty, fields[1] == "argon2id", fields[2] == "v=19" else { return nil }
        var values: [Substring: UInt32] = [:]
        for pair in fields[3].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = UInt32(parts[1]) else { return nil }
            values[parts[0]] = value
        }
        guard let m = values["m"], let t = values["t"], let p = values["p"] else { return nil }
        return Argon2Parameters(memoryKiB: m, iterations: t, parallelism: p,
                                saltLength: fields[4].count * 3 / 4, hashLength: fields[5].count * 3 / 4)
    }

    /// Computes a raw Argon2id tag with optional secret and associated data (RFC 9106 §3.1).
    /// Used for the RFC's test vector; passwords are stored with ``hash(password:parameters:)``.
    public static func rawHash(password: [UInt8], salt: [UInt8], secret: [UInt8] = [], associatedData: [UInt8] = [],
                               iterations: UInt32, memoryKiB: UInt32, parallelism: UInt32, length: Int) throws(Argon2Error) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var pwd = password, saltCopy = salt, secretCopy = secret, ad = associatedData
        let status: Int32 = out.withUnsafeMutableBufferPointer { outBuf in
            pwd.withUnsafeMutableBufferPointer { pwdBuf in
                saltCopy.withUnsafeMutableBufferPointer { saltBuf in
                    secretCopy.withUnsafeMutableBufferPointer { secretBuf in
                        ad.withUnsafeMutableBufferPointer { adBuf in
                            var context = argon2_context(
                                out: outBuf.baseAddress, outlen: UInt32(outBuf.count),
                                pwd: pwdBuf.baseAddress, pwdlen: UInt32(pwdBuf.count),
                                salt: saltBuf.baseAddress, saltlen: UInt32(saltBuf.count),
                                secret: secretBuf.baseAddress, secretlen: UInt32(secretBuf.count),
                                ad: adBuf.baseAddress, adlen: UInt32(adBuf.count),
                                t_cost: iterations, m_cost: memoryKiB, lanes: parallelism, threads: parallelism,
                                version: UInt32(ARGON2_VERSION_13.rawValue),
                                allocate_cbk: nil, free_cbk: nil, flags: 0)  // ARGON2_DEFAULT_FLAGS (a macro Swift cannot import)
                            return argon2_ctx(&context, Argon2_id)
                        }
                    }
                }
            }
        }
        guard status == ARGON2_OK.rawValue else { throw Argon2Error(code: status) }
        return out
    }
}
