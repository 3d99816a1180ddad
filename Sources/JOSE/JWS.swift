#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// JWS Compact Serialization (RFC 7515 §7.1) with RS256 and ES256.
public enum JWS {
    /// Bounds the compact strings `verify` will look at, and so the work and memory an attacker can demand
    /// of the base64url decoder, the JSON parser and SHA-256. Tokens, client assertions and request objects
    /// are a few kilobytes.
    public static let maximumCompactLength = 64 * 1024

    /// Signs `payload` with `key`; the protected header is `{"alg":…,"kid":…,"typ":…}` (`typ` only when given).
    public static func sign(payload: [UInt8], key: SigningKey, type: String? = nil) throws -> String {
        let header = key.verificationKey.headers.encoded(type: type)
            ?? Array(Base64URL.encode(PrecomputedHeaders.json(algorithm: key.algorithm, kid: key.kid, type: type)).utf8)
        // The signing input, BASE64URL(header) "." BASE64URL(payload), built in one buffer.
        let signingInput = [UInt8](unsafeUninitializedCapacity: header.count + 1 + Base64URL.encodedLength(payload.count)) { out, count in
            _ = out.initialize(from: header)
            out[header.count] = UInt8(ascii: ".")
            let written = payload.withUnsafeBytes { Base64URL.encode($0, into: UnsafeMutableBufferPointer(rebasing: out[(header.count + 1)...])) }
            count = header.count + 1 + written
        }
        let signature = try key.sign(signingInput)
        return String(unsafeUninitializedCapacity: signingInput.count + 1 + Base64URL.encodedLength(signature.count)) { out in
            _ = out.initialize(from: signingInput)
            out[signingInput.count] = UInt8(ascii: ".")
            let written = signature.withUnsafeBytes { Base64URL.encode($0, into: UnsafeMutableBufferPointer(rebasing: out[(signingInput.count + 1)...])) }
            return signingInput.count + 1 + written
        }
    }

    /// Verifies a compact JWS against a set of keys.
    ///
    /// The key is chosen by `kid` alone, and the header's `alg` must then equal that key's algorithm; the
    /// header never chooses the algorithm (RFC 8725 §3.1). A JWS without `kid` is accepted only when exactly
    /// one key is given. `none`, HMAC and every other algorithm, and any `crit` header, are refused.
    public static func verify(_ compact: String, keys: [VerificationKey]) throws -> VerifiedJWS {
        guard compact.utf8.count <= maximumCompactLength else { throw JWSError.malformed("JWS longer than \(maximumCompactLength) bytes") }
        var compact = compact
        // A native string's UTF-8 is contiguous: this does not copy.
        return try compact.withUTF8 { try verify(utf8: $0, keys: keys) }
    }

    private static func verify(utf8 compact: UnsafeBufferPointer<UInt8>, keys: [VerificationKey]) throws -> VerifiedJWS {
        let dot = UInt8(ascii: ".")
        guard let firstDot = index(of: dot, in: compact, from: 0) else { throw JWSError.malformed("expected 3 dot-separated parts, found 1") }
        guard let secondDot = index(of: dot, in: compact, from: firstDot + 1) else {
            throw JWSError.malformed("expected 3 dot-separated parts, found 2")
        }
        guard index(of: dot, in: compact, from: secondDot + 1) == nil else {
            let count = compact.reduce(1) { $1 == dot ? $0 + 1 : $0 }
            throw JWSError.malformed("expected 3 dot-separated parts, found \(count)")
        }
        let encodedHeader = UnsafeBufferPointer(rebasing: compact[..<firstDot])
        let encodedPayload = UnsafeBufferPointer(rebasing: compact[(firstDot + 1)..<secondDot])
        let encodedSignature = UnsafeBufferPointer(rebasing: compact[(secondDot + 1)...])

        // A header one of the keys would write itself is already parsed (see `PrecomputedHeaders`).
        var known: JOSEHeader?
        for key in keys {
            known = key.headers.header(encodedAs: encodedHeader)
            if known != nil { break }
        }
        var headerBytes: [UInt8] = []
        if known == nil {
            guard !encodedHeader.isEmpty, let decoded = Base64URL.decode(utf8: encodedHeader) else {
                throw JWSError.malformed("header is not base64url")
            }
            headerBytes = decoded
        }
        guard let payload = Base64URL.decode(utf8: encodedPayload) else { throw JWSError.malformed("payload is not base64url") }
        guard !encodedSignature.isEmpty, let signature = Base64URL.decode(utf8: encodedSignature) else {
            throw JWSError.malformed("signature is not base64url")
        }
        let header = try known ?? parseHeader(headerBytes)

        // RFC 8725 §3.2 and RFC 7518 §3.6: unsecured JWS ("none") is never accepted; neither is HMAC,
        // whose "key" would be whatever public key the verifier holds.
        guard let algorithm = JWSAlgorithm(rawValue: header.alg) else {
            throw JWSError.unsupportedAlgorithm(header.alg)
        }
        // RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and
        // supported by the recipient, then the JWS is invalid." None are understood here.
        guard header.raw["crit"] == nil else { throw JWSError.unsupportedCriticalHeader }

        let key = try selectKey(kid: header.kid, from: keys)
        // The key, not the header, decides the algorithm (RFC 8725 §3.1).
        guard key.algorithm == algorithm else { throw JWSError.algorithmMismatch }

        let signingInput = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(compact)[..<secondDot])
        guard key.verify(signature: signature, message: signingInput) else { throw JWSError.badSignature }
        return VerifiedJWS(header: header, payload: payload, key: key)
    }

    /// The index of the first `byte` in `buffer` at or after `start` (memchr, which compares many bytes a step).
    private static func index(of byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = buffer.baseAddress, start < buffer.count,
              let found = memchr(base + start, Int32(byte), buffer.count - start) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }

    private static func selectKey(kid: String?, from keys: [VerificationKey]) throws -> VerificationKey {
        guard let kid else {
            // Without a kid, guessing among several keys would let the header pick one; refuse instead.
            guard keys.count <= 1 else { throw JWSError.missingKeyID }
            guard let only = keys.first else { throw JWSError.unknownKey }
            return only
        }
        // An unknown kid is an error: there is no fallback to a default key.
        guard let key = keys.first(where: { $0.kid == kid }) else { throw JWSError.unknownKey }
        return key
    }

    static func parseHeader(_ bytes: [UInt8]) throws -> JOSEHeader {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw JWSError.malformed("header: \(error.message)")
        }
        // RFC 7515 §5.2 step 3: the decoded header must be "a completely valid conforming JSON object".
        guard case .object(let members) = value else { throw JWSError.malformed("header is not a JSON object") }
        guard case .string(let alg)? = members["alg"] else { throw JWSError.malformed("header alg missing or not a string") }
        let kid = try optionalString(members, "kid")
        let typ = try optionalString(members, "typ")
        return JOSEHeader(alg: alg, kid: kid, typ: typ, raw: members)
    }

    private static func optionalString(_ members: [String: JSONValue], _ name: String) throws -> String? {
        guard let value = members[name] else { return nil }
        guard case .string(let string) = value else { throw JWSError.malformed("header \(name) is not a string") }
        return string
    }
}
