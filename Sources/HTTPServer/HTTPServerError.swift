/// Why the server could not start.
public enum HTTPServerError: Error, CustomStringConvertible, Sendable {
    /// The configured host is not an IPv4 or IPv6 literal.
    case invalidHost(String)
    /// Another socket already listens on the address.
    case addressInUse(host: String, port: UInt16)
    /// `start()` was called on a server that already started.
    case alreadyStarted
    /// A system call failed.
    case system(call: String, errno: Int32, message: String)

    static func system(_ error: SystemError) -> HTTPServerError {
        .system(call: error.call, errno: error.errno, message: error.description)
    }

    public var description: String {
        switch self {
        case .invalidHost(let host):
            "invalid listen host '\(host)': expected an IPv4 or IPv6 literal"
        case .addressInUse(let host, let port):
            "cannot listen on \(host):\(port): address already in use"
        case .alreadyStarted:
            "the server was already started"
        case .system(_, _, let message):
            message
        }
    }
}
