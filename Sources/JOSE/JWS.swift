/// JWS Compact Serialization (RFC 7515 §7.1) with RS256 and ES256.
public enum JWS {
    /// Bounds the compact strings `verify` will look at, and so the work and memory an attacker can demand
    /// of the base64url decoder, the JSON parser and SHA-256. Tokens, client assertions and request objects
    /// are a few kilobytes.
    public static let maximumCompactLength = 64 * 1024

    /// Signs `payload` with `key`; the protected header is `{"alg":…,"kid":…,"typ":…}` (`typ` only when given).
    public static func sign(payload: [UInt8], key: SigningKey, type: String? = nil) throws -> String {
        var members = [("alg", key.algorithm.rawValue), ("kid", key.kid)]
        if let type { members.append(("typ", type)) }
        let signingInput = Base64URL.encode(JSONText.object(members)) + "." + Base64URL.encode(payload)
        let signature = try key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Verifies a compact JWS against a set of keys.
    ///
    /// The key is chosen by `kid` alone, and the header's `alg` must then equal that key's algorithm; the
    /// header never chooses the algorithm (RFC 8725 §3.1). A JWS without `kid` is accepted only when exactly
    /// one key is given. `none`, HMAC and every other algorithm, and any `crit` header, are refused.
    public static func verify(_ compact: String, keys: [VerificationKey]) throws -> VerifiedJWS {
        guard compact.utf8.count <= maximumCompactLength else { throw JWSError.malformed("JWS longer than \(maximumCompactLength) bytes") }
        let parts = compact.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw JWSError.malformed("expected 3 dot-separated parts, found \(parts.count)") }
        let encodedHeader = parts[0], encodedPayload = parts[1], encodedSignature = parts[2]

        guard !encodedHeader.isEmpty, let headerBytes = decode(encodedHeader) else {
            throw JWSError.malformed("header is not base64url")
        }
        guard let payload = decode(encodedPayload) else { throw JWSError.malformed("payload is not base64url") }
        guard !encodedSignature.isEmpty, let signature = decode(encodedSignature) else {
            throw JWSError.malformed("signature is not base64url")
        }
        let header = try parseHeader(headerBytes)

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

        let signingInput = Array(compact.utf8.prefix(encodedHeader.count + 1 + encodedPayload.count))
        guard key.verify(signature: signature, message: signingInput) else { throw JWSError.badSignature }
        return VerifiedJWS(header: header, payload: payload, key: key)
    }

    private static func decode(_ part: Substring.UTF8View) -> [UInt8]? {
        // Substring views of a native string are contiguous, so this does not copy.
        part.withContiguousStorageIfAvailable { Base64URL.decode(utf8: $0) } ?? Base64URL.decode(String(Substring(part)))
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
