/// A certificate, key or CA bundle that cannot serve: missing, unreadable, malformed, expired, or a key
/// that does not belong to the certificate.
public struct TLSConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Which input is wrong, so the caller can name its own setting.
    public enum Input: Sendable, Hashable {
        case certificate
        case privateKey
        case clientCA
    }

    public let input: Input
    /// The file read, when the input came from one.
    public let path: String?
    public let reason: String

    public init(_ input: Input, path: String? = nil, _ reason: String) {
        self.input = input
        self.path = path
        self.reason = reason
    }

    public var description: String {
        if let path { "\(path): \(reason)" } else { reason }
    }

    func at(_ path: String) -> TLSConfigurationError { TLSConfigurationError(input, path: path, reason) }
}
