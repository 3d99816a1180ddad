#if canImport(Glibc)
import Glibc
#endif

/// The part of a peer's IP address that identifies one source for per-source limits.
///
/// An IPv4 address counts whole (/32). An IPv6 address counts by its /64 prefix: a subscriber
/// or host is routinely given a whole /64 (RFC 6177, RFC 8273), so counting its addresses one by
/// one would give whoever holds one /64 an unlimited number of sources. An IPv4-mapped IPv6
/// address (`::ffff:192.0.2.1`, how a dual-stack listener sees IPv4 peers) counts as its IPv4
/// address.
public struct SourceAddressKey: Hashable, Sendable, CustomStringConvertible {
    private enum Family: Hashable, Sendable {
        case ipv4(UInt32)
        /// The first 64 bits of the address, in network order read as a big-endian number.
        case ipv6Prefix(UInt64)
    }

    private let family: Family

    /// The key of an IPv4 address given in host byte order.
    public init(ipv4 address: UInt32) {
        family = .ipv4(address)
    }

    /// The key of a 16-byte IPv6 address in network byte order.
    public init(ipv6 bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                             UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        let isMapped = bytes.0 == 0 && bytes.1 == 0 && bytes.2 == 0 && bytes.3 == 0 && bytes.4 == 0
            && bytes.5 == 0 && bytes.6 == 0 && bytes.7 == 0 && bytes.8 == 0 && bytes.9 == 0
            && bytes.10 == 0xFF && bytes.11 == 0xFF
        if isMapped {
            family = .ipv4(UInt32(bytes.12) << 24 | UInt32(bytes.13) << 16 | UInt32(bytes.14) << 8 | UInt32(bytes.15))
        } else {
            var prefix: UInt64 = 0
            for byte in [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5, bytes.6, bytes.7] {
                prefix = prefix << 8 | UInt64(byte)
            }
            family = .ipv6Prefix(prefix)
        }
    }

    /// The key of an IPv4 or IPv6 literal such as `192.0.2.1` or `2001:db8::1`; nil for anything
    /// else (a host name, an IPv6 zone, a port).
    public init?(_ address: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            self.init(ipv4: UInt32(bigEndian: v4.s_addr))
        } else if inet_pton(AF_INET6, address, &v6) == 1 {
            self.init(ipv6: v6.__in6_u.__u6_addr8)
        } else {
            return nil
        }
    }

    /// `192.0.2.1` for IPv4, `2001:db8:1:2::/64` for an IPv6 prefix.
    public var description: String {
        switch family {
        case .ipv4(let address):
            return "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
        case .ipv6Prefix(let prefix):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { raw in
                for index in 0..<8 {
                    raw[index] = UInt8(truncatingIfNeeded: prefix >> (56 - 8 * UInt64(index)))
                }
            }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/64"
        }
    }
}
