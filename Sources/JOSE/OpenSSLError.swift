internal import COpenSSL

/// A failure reported by libcrypto, with the operation that failed and OpenSSL's own reason.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    /// The libcrypto function (or step) that failed.
    public let operation: String
    /// The text of the first entry on OpenSSL's per-thread error queue, or a fixed note when the queue was empty.
    public let reason: String

    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(operation) failed: \(reason)" }

    /// Captures and then empties this thread's OpenSSL error queue.
    ///
    /// The queue is always drained so a stale entry cannot be blamed on a later, unrelated failure.
    static func capture(_ operation: String) -> OpenSSLError {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0 else {
            return OpenSSLError(operation: operation, reason: "no error reported by OpenSSL")
        }
        var buffer = [CChar](repeating: 0, count: 256)
        let reason = buffer.withUnsafeMutableBufferPointer { pointer -> String in
            guard let base = pointer.baseAddress else { return "error \(code)" }
            ERR_error_string_n(code, base, pointer.count)
            return String(cString: base)
        }
        return OpenSSLError(operation: operation, reason: reason)
    }
}

/// Stops the process when libcrypto fails where no input can make it fail.
///
/// Used only by the non-throwing primitives (`SHA256`, `HMACSHA256`, `SecureRandom`). Their OpenSSL calls
/// take no attacker-controlled parameters that could make them fail: the only causes are allocation failure
/// or a broken libcrypto installation, and continuing with a wrong digest or predictable bytes would be worse
/// than stopping.
func openSSLInvariantFailure(_ operation: String) -> Never {
    fatalError(OpenSSLError.capture(operation).description)
}
