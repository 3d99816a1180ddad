#if canImport(Glibc)
import Glibc
#endif
import Foundation
import JOSE
import OAuth

/// Structured operational log: one JSON object per line on standard error.
///
/// Operational logs are for operators (start-up, errors, shutdown); they never carry
/// secrets, tokens, codes or passwords. Audit events are a separate stream.
public struct Logger: Sendable {
    public let level: LogLevel
    private let sink: @Sendable (String) -> Void

    public init(level: LogLevel, sink: @escaping @Sendable (String) -> Void = Logger.standardError) {
        self.level = level
        self.sink = sink
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    public func log(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String> = [:]) {
        guard severity >= level else { return }
        var line = "{\"time\":\(JSONText.string(Logger.timestamp())),\"level\":\(JSONText.string(severity.rawValue)),\"msg\":\(JSONText.string(message))"
        for (key, value) in fields {
            line += ",\(JSONText.string(key)):\(JSONText.string(value))"
        }
        line += "}"
        sink(line)
    }

    public func debug(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: KeyValuePairs<String, String> = [:]) { log(.error, message, fields) }

    /// RFC 3339 UTC time with milliseconds.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

