#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPServer

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 4 or 16 bytes.
    let address: [UInt8]
    let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/PREFIX` (IPv4 or IPv6 literal).
    public init(parsing text: String) throws(ValueError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(String(parts[0])) else { throw ValueError("'\(text)' is not an IP address or network") }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bits).contains(parsed), parts[1].allSatisfy({ ("0"..."9").contains($0) }) else {
                throw ValueError("'\(text)' has a prefix length outside 0...\(bits)")
            }
            prefix = parsed
        }
        self.address = address
        self.prefixLength = prefix
    }

    /// Whether `text` (an IP literal) lies in this network; an IPv4-mapped IPv6 address counts as IPv4.
    public func contains(_ text: String) -> Bool {
        guard var candidate = Self.bytes(text) else { return false }
        if candidate.count == 16 && address.count == 4 && candidate.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
            candidate = Array(candidate.suffix(4))
        }
        guard candidate.count == address.count else { return false }
        var remaining = prefixLength
        for index in address.indices where remaining > 0 {
            let take = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if candidate[index] & mask != address[index] & mask { return false }
            remaining -= take
        }
        return true
    }

    public var description: String { "\(Self.text(address))/\(prefixLength)" }

    /// The bytes of an IPv4 or IPv6 literal, or nil.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }
}

/// Who sent a request: the socket peer, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
///
/// `X-Forwarded-For` is read only from proxies listed in `TESSERA_TRUSTED_PROXIES`: anyone else
/// could write anything there, and throttles and rate limits key on this address.
public struct SourceAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork]) { self.trustedProxies = trustedProxies }

    /// Bounds the work one header can cause: addresses past this many (from the right) are not read.
    static let maximumHops = 16

    func isTrusted(_ address: String) -> Bool { trustedProxies.contains { $0.contains(address) } }

    public func resolve(_ request: HTTPRequest) -> String {
        let peer = request.remoteAddress
        guard !trustedProxies.isEmpty, isTrusted(peer) else { return peer }
        // Each proxy appends the address it received from; read from the right, past our proxies.
        let hops = request.headers.values(for: "X-Forwarded-For")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed().prefix(Self.maximumHops) {
            guard IPNetwork.bytes(hop) != nil else { return peer }   // garbage: trust nothing beyond
            if !isTrusted(hop) { return hop }
        }
        return peer
    }
}
