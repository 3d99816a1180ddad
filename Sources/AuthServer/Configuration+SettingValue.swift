import Foundation
import OAuth

extension Configuration {
    /// How a setting's text becomes a value: the parser with its range, and how documentation shows it.
    public struct SettingValue<Value>: Sendable {
        /// What a value looks like, for `--help` (`duration`, `host:port`).
        public let valueName: String
        /// The values accepted, in words (Markdown); nil when any text is.
        public let accepts: String?
        /// Reads and checks one value; the error's reason is the message after the variable's name.
        let parse: @Sendable (String) throws(ValueError) -> Value

        public init(valueName: String, accepts: String?, parse: @escaping @Sendable (String) throws(ValueError) -> Value) {
            self.valueName = valueName
            self.accepts = accepts
            self.parse = parse
        }
    }
}

extension Configuration.SettingValue where Value == String {
    /// A file or folder; whether it exists is for its user to find out.
    public static var path: Self {
        Self(valueName: "path", accepts: "a path") { $0 }
    }

    /// A `postgres://` or `postgresql://` URL; libpq reads the rest when the pool connects.
    public static var postgresURL: Self {
        Self(valueName: "url", accepts: "a `postgres://` or `postgresql://` URL") { text throws(ValueError) in
            guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
                throw ValueError("must be a postgres:// or postgresql:// URL")
            }
            return text
        }
    }
}

extension Configuration.SettingValue where Value == ListenAddress {
    /// `IPv4:PORT` or `[IPv6]:PORT`.
    public static var listenAddress: Self {
        Self(valueName: "host:port", accepts: "`IPv4:PORT` or `[IPv6]:PORT`") { text throws(ValueError) in
            do throws(ValueError) { return try ListenAddress(parsing: text) } catch { throw ValueError("\(error.reason) (got \"\(text)\")") }
        }
    }
}

extension Configuration.SettingValue where Value == ListenAddress? {
    /// `IPv4:PORT`, `[IPv6]:PORT`, or `off` (nil).
    public static var listenAddressOrOff: Self {
        Self(valueName: "host:port|off", accepts: "`IPv4:PORT`, `[IPv6]:PORT` or `off`") { text throws(ValueError) in
            if text == "off" { return nil }
            do throws(ValueError) { return try ListenAddress(parsing: text) } catch { throw ValueError("\(error.reason), or off (got \"\(text)\")") }
        }
    }
}

extension Configuration.SettingValue where Value == Issuer {
    /// An issuer identifier (RFC 8414 §2).
    public static var issuer: Self {
        Self(valueName: "url", accepts: "an `https://` URL (`http://` for development)") { text throws(ValueError) in
            do throws(ValueError) { return try Issuer(parsing: text) } catch { throw ValueError("\(error.reason) (got \"\(text)\")") }
        }
    }
}

extension Configuration.SettingValue where Value == LogLevel {
    /// A log level's name, in any case.
    public static var logLevel: Self {
        let names = LogLevel.allCases.map(\.rawValue)
        return Self(valueName: "level", accepts: names.map { "`\($0)`" }.joined(separator: ", ")) { text throws(ValueError) in
            guard let level = LogLevel(rawValue: text.lowercased()) else {
                throw ValueError("must be one of \(names.joined(separator: ", ")) (got \"\(text)\")")
            }
            return level
        }
    }
}

extension Configuration.SettingValue where Value == TimeInterval {
    /// A duration in seconds (``DurationText``) from `range.lowerBound` to `range.upperBound`,
    /// refused with "must be a duration from Ls to Us, such as `example`".
    public static func duration(_ range: ClosedRange<TimeInterval>, example: String) -> Self {
        duration(range, requirement: "must be a duration from \(Int(range.lowerBound))s to \(Int(range.upperBound))s, such as \(example)")
    }

    /// A duration in seconds (``DurationText``) within `range` (the upper bound may be infinite),
    /// refused with `requirement`.
    public static func duration(_ range: ClosedRange<TimeInterval>, requirement: String) -> Self {
        let accepts = range.upperBound.isInfinite
            ? "at least `\(DurationText.text(seconds: range.lowerBound))`"
            : "`\(DurationText.text(seconds: range.lowerBound))` to `\(DurationText.text(seconds: range.upperBound))`"
        return Self(valueName: "duration", accepts: accepts) { text throws(ValueError) in
            guard let seconds = DurationText.seconds(text), range.contains(seconds) else {
                throw ValueError("\(requirement) (got \"\(text)\")")
            }
            return seconds
        }
    }
}

extension Configuration.SettingValue where Value == Duration {
    /// A duration with millisecond precision (`500ms`, or anything ``DurationText`` reads) within `range`.
    public static func preciseDuration(_ range: ClosedRange<Duration>) -> Self {
        let (lower, upper) = (DurationText.text(range.lowerBound), DurationText.text(range.upperBound))
        return Self(valueName: "duration", accepts: "`\(lower)` to `\(upper)`") { text throws(ValueError) in
            guard let parsed = DurationText.duration(text), range.contains(parsed) else {
                throw ValueError("must be a duration from \(lower) to \(upper), such as 5s or 500ms (got \"\(text)\")")
            }
            return parsed
        }
    }
}

extension Configuration.SettingValue where Value == Double {
    /// Requests per second, 0 (no limit) to 1000000.
    public static var requestRate: Self {
        Self(valueName: "rate", accepts: "`0` (no limit) to `1000000` per second") { text throws(ValueError) in
            guard let parsed = Double(text), parsed >= 0, parsed <= 1_000_000, parsed.isFinite else {
                throw ValueError("must be requests per second, 0 (no limit) to 1000000 (got \"\(text)\")")
            }
            return parsed
        }
    }
}

extension Configuration.SettingValue where Value: FixedWidthInteger & Sendable {
    /// Decimal digits (no sign, no more digits than `range.upperBound` has) within `range`, refused with `requirement`.
    public static func wholeNumber(_ range: ClosedRange<Value>, requirement: String, accepts: String? = nil) -> Self {
        let digits = String(range.upperBound).count
        return Self(valueName: "number", accepts: accepts ?? "`\(range.lowerBound)` to `\(range.upperBound)`") { text throws(ValueError) in
            guard text.count <= digits, text.allSatisfy(\.isASCIIDigit), let parsed = Value(text), range.contains(parsed) else {
                throw ValueError("\(requirement) (got \"\(text)\")")
            }
            return parsed
        }
    }
}

extension Configuration.SettingValue where Value == [IPNetwork] {
    /// IP addresses or networks separated by commas or spaces.
    public static var networks: Self {
        Self(valueName: "networks", accepts: "IP addresses or networks (`10.0.0.0/8`), comma-separated") { text throws(ValueError) in
            var networks: [IPNetwork] = []
            for item in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
                do throws(ValueError) { networks.append(try IPNetwork(parsing: String(item))) } catch {
                    throw ValueError("\(error.reason); give IP addresses or networks such as 10.0.0.0/8, separated by commas")
                }
            }
            return networks
        }
    }
}
