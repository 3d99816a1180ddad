#if canImport(Glibc)
import Glibc
#endif

/// The key under which throttles and rate limits count a source address.
///
/// An IPv4 address counts alone. An IPv6 address counts by its /64: a single subscriber is
/// routinely given a whole /64 (RFC 6177), so counting each of its 2^64 addresses apart would
/// give one attacker unlimited attempts. An IPv4-mapped IPv6 address counts as its IPv4 address.
public enum SourceAddressKey {
    /// Bounds the memory one key can take; text that is not an IP literal is cut to this length.
    public static let maximumLength = 64

    public static func of(_ address: String) -> String {
        var v6 = in6_addr()
        if address.utf8.contains(UInt8(ascii: ":")), inet_pton(AF_INET6, address, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) {
                return bytes.suffix(4).map(String.init).joined(separator: ".")
            }
            var groups: [String] = []
            for index in stride(from: 0, to: 8, by: 2) {
                groups.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":") + "::/64"
        }
        return address.utf8.count <= maximumLength ? address : String(decoding: address.utf8.prefix(maximumLength), as: UTF8.self)
    }
}
