#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The protected headers one key's JWS carry, base64url-encoded and parsed once when the key is made.
///
/// `JWS.sign` writes `{"alg":…,"kid":…}` plus `"typ"` when given; for the usual `typ` values the
/// encoded header is the same for every token a key signs, so it is built here once instead of per
/// signature. `JWS.verify` compares a token's encoded header with these byte for byte: an exact match
/// is a header whose parse is already known, so the base64url decoding and JSON parsing are skipped.
/// Each stored `JOSEHeader` is what `JWS.parseHeader` returns for its bytes (it is made by calling it), so
/// both paths give the same result; anything else takes the general path.
///
/// Immutable after creation, hence `Sendable` without locks.
struct PrecomputedHeaders: Sendable {
    /// `typ` values whose headers are prepared: none, `JWT` (RFC 7519 §5.1) and `at+jwt` (RFC 9068 §2.1).
    static let types: [String?] = [nil, "JWT", "at+jwt"]

    struct Entry: Sendable {
        let type: String?
        /// The base64url encoding of the header's JSON text.
        let encoded: [UInt8]
        let header: JOSEHeader
    }

    let entries: [Entry]

    init(algorithm: JWSAlgorithm, kid: String) throws {
        entries = try Self.types.map { type in
            let json = Self.json(algorithm: algorithm, kid: kid, type: type)
            return Entry(type: type, encoded: Array(Base64URL.encode(json).utf8), header: try JWS.parseHeader(Array(json.utf8)))
        }
    }

    /// The header JSON `JWS.sign` writes: `alg`, `kid`, then `typ` when given, in that order, no whitespace.
    static func json(algorithm: JWSAlgorithm, kid: String, type: String?) -> String {
        var members = [("alg", algorithm.rawValue), ("kid", kid)]
        if let type { members.append(("typ", type)) }
        return JSONText.object(members)
    }

    /// The encoded header for `type`, if it is one of the prepared ones.
    func encoded(type: String?) -> [UInt8]? {
        entries.first { $0.type == type }?.encoded
    }

    /// The parsed header whose encoding is exactly `encoded`, if it is one of these.
    func header(encodedAs encoded: UnsafeBufferPointer<UInt8>) -> JOSEHeader? {
        guard let start = encoded.baseAddress else { return nil }
        for entry in entries where entry.encoded.count == encoded.count {
            if entry.encoded.withUnsafeBufferPointer({ $0.baseAddress.map { memcmp($0, start, encoded.count) } }) == 0 {
                return entry.header
            }
        }
        return nil
    }
}
