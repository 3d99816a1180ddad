/// An IP address and port to listen on: `127.0.0.1:8080`, `0.0.0.0:80` or `[::1]:8080`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// An IPv4 or IPv6 literal (no brackets); host names are refused so that
    /// the listening address never depends on name resolution.
    public let host: String
    public let port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(ValueError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ValueError("IPv6 address is missing its closing ']'") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ValueError("must be HOST:PORT") }
            portText = rest.dropFirst()
            guard IPAddressSyntax.isIPv6(host) else { throw ValueError("'\(host)' is not an IPv6 address") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValueError("must be HOST:PORT") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard IPAddressSyntax.isIPv4(host) else { throw ValueError("'\(host)' is not an IPv4 address (use [addr] for IPv6)") }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = UInt16(portText) else {
            throw ValueError("port must be a number from 0 to 65535")
        }
        self.init(host: String(host), port: port)
    }

    /// The authority as written in a URL (`127.0.0.1:8080`, `[::1]:8080`).
    public var urlAuthority: String { urlAuthority(port: port) }

    /// The authority with another port (the one bound, when this address asked for port 0).
    public func urlAuthority(port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String { urlAuthority }
}

/// Syntax checks for IP literals.
enum IPAddressSyntax {
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && (Int(part) ?? 256) <= 255
                && !(part.count > 1 && part.hasPrefix("0"))
        }
    }

    static func isIPv6(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.count <= 45 else { return false }
        let groups = text.components(separatedBy: "::")
        guard groups.count <= 2 else { return false }
        var count = 0
        for (index, half) in groups.enumerated() where !half.isEmpty {
            let pieces = half.split(separator: ":", omittingEmptySubsequences: false)
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, index == groups.count - 1, piece.contains(".") {
                    guard isIPv4(piece) else { return false }
                    count += 2
                } else {
                    guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit) else { return false }
                    count += 1
                }
            }
        }
        return groups.count == 2 ? count < 8 : count == 8
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
