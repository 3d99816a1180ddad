import Foundation
import OAuth
import PasswordHashing

/// Tessera's run-time configuration, read once at start-up.
///
/// Every setting is declared once, as an entry of ``settings`` (Configuration+Settings.swift and the
/// `Configuration+*.swift` files of each concern): its environment variable, its flag, its default,
/// its parser with its range, and what it means. ``load(environment:arguments:)``, the `--help`
/// of `tessera serve` and `tessera dev`, and the README's settings table all come from there.
/// A flag wins over its variable, which wins over the default; a bad value fails at start with
/// one line naming the setting, and nothing is validated lazily later.
public struct Configuration: Sendable, Equatable {
    /// Where PostgreSQL is: a `postgres://` URL, or nil to use libpq's own `PG*` variables.
    public var databaseURL: String?
    /// The issuer identifier (RFC 8414 §2): every endpoint URL derives from it.
    public var issuer: Issuer
    /// The address the HTTP server listens on.
    public var listen: ListenAddress
    /// The folder holding key material (the key-encryption key).
    public var keysDirectory: String
    /// The key-encryption key file, when not `keysDirectory/kek`.
    public var kekFile: String?
    /// How long a signing key signs before the next one takes over.
    public var keyRotationPeriod: TimeInterval
    /// `Cache-Control: max-age` of the JWKS and discovery documents.
    public var jwksMaxAge: TimeInterval
    /// The least severe operational log level written.
    public var logLevel: LogLevel
    /// Access-token lifetime for clients without one of their own.
    public var accessTokenTTL: TimeInterval
    /// Authorization-code lifetime (RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED").
    public var codeTTL: TimeInterval
    /// How long a browser login session lasts from sign-in.
    public var sessionTTL: TimeInterval
    /// ID-token lifetime.
    public var idTokenTTL: TimeInterval
    /// The management listener: `/metrics`, `/healthz` and `/readyz`, on loopback by default so that
    /// key ids and pool and Argon2 statistics are not public; nil (`off`): no metrics at all.
    public var adminListen: ListenAddress?
    /// Proxies whose `X-Forwarded-For` is believed; nobody else's is.
    public var trustedProxies: [IPNetwork]
    /// Token-bucket rates in requests per second (bursts of twice as many); 0 turns a limit off.
    /// The values come from ``Configuration/settings``; the initial ones are placeholders.
    public struct RateLimitSettings: Sendable, Equatable {
        /// Per client at the token endpoint.
        public var token: Double = 0
        /// Per client at the introspection endpoint.
        public var introspection: Double = 0
        /// Per client at the revocation endpoint.
        public var revocation: Double = 0
        /// Per source address: failed token-endpoint requests.
        public var tokenFailures: Double = 0
        /// Per source address: the browser pages (authorize, login, consent, logout).
        public var browser: Double = 0
    }
    public var rateLimits = RateLimitSettings()
    /// While PostgreSQL is unreachable, how long what an instance had cached (client registrations,
    /// the revocation set) may still answer; 0: not at all.
    public var outageGrace: TimeInterval
    /// How often expired rows are deleted (by one instance at a time).
    public var janitorInterval: TimeInterval
    /// Refresh-token idle lifetime for clients without their own: unused this long, a token expires.
    public var refreshIdleTTL: TimeInterval
    /// Refresh-token family lifetime for clients without their own, however often it rotates.
    public var refreshAbsoluteTTL: TimeInterval
    /// Argon2id cost of newly hashed client secrets and passwords (OWASP's recommended
    /// minimum by default: 19 MiB, 2 passes, 1 lane). Existing hashes keep their own.
    public var argon2 = Argon2Parameters()
    /// The HTTP server's own settings (Configuration+HTTP.swift).
    public var http = HTTPSettings()
    /// The database pool and the bounds on every wait for PostgreSQL (Configuration+Database.swift).
    public var database = DatabaseSettings()
    /// TLS certificates, the mTLS listener and their reloaders (Configuration+TLS.swift).
    public var tls = TLSSettings()

    /// Placeholders only: ``load(environment:arguments:)`` gives every setting its value.
    private init() {
        databaseURL = nil
        issuer = Issuer(placeholder: ())
        listen = ListenAddress(host: "0.0.0.0", port: 0)
        keysDirectory = ""
        kekFile = nil
        keyRotationPeriod = 0
        jwksMaxAge = 0
        logLevel = .info
        accessTokenTTL = 0
        codeTTL = 0
        sessionTTL = 0
        idTokenTTL = 0
        adminListen = nil
        trustedProxies = []
        outageGrace = 0
        janitorInterval = 0
        refreshIdleTTL = 0
        refreshAbsoluteTTL = 0
    }

    /// The path of the key-encryption key file.
    public var kekPath: String { KeyEncryptionKey.path(directory: keysDirectory, kekFile: kekFile) }

    /// The timing rules of key rotation derived from this configuration.
    ///
    /// A retired key stays published for as long as the longest-lived token it may have signed
    /// can still be presented: an access token lives at most ``maxAccessTokenTTL`` (the bound of
    /// the server setting and of every per-client setting, which can change at any time) and an
    /// ID token ``idTokenTTL``.
    public var keyLifecyclePolicy: KeyLifecyclePolicy {
        KeyLifecyclePolicy(rotationPeriod: keyRotationPeriod, jwksMaxAge: jwksMaxAge, maxTokenLifetime: maxSignedTokenLifetime)
    }

    /// The longest lifetime any token signed with a signing key can have.
    public var maxSignedTokenLifetime: TimeInterval { max(Self.maxAccessTokenTTL, accessTokenTTL, idTokenTTL) }

    /// The longest access-token lifetime, globally or per client.
    public static let maxAccessTokenTTL = TimeInterval(AccessTokenIssuer.maximumLifetime)

    /// Resolves every setting from its flag in `arguments` (``flagValues(_:)``), else its
    /// environment variable (an empty one counts as unset), else its default, in the order of
    /// ``settings``; derived defaults come last, so they see every other setting. Then runs
    /// ``settingChecks``, the rules between settings.
    public static func load(environment: [String: String], arguments: [String] = []) throws(ConfigurationError) -> Configuration {
        try load(environment: environment, arguments: arguments, settings: settings, checks: settingChecks)
    }

    /// ``load(environment:arguments:)`` with another table.
    static func load(environment: [String: String], arguments: [String], settings: [Setting],
                     checks: [SettingCheck]) throws(ConfigurationError) -> Configuration {
        let flags: [String: String]
        do { flags = try flagValues(arguments, settings: settings) } catch {
            throw ConfigurationError(setting: error.argument, message: error.message)
        }
        var configuration = Configuration()
        func apply(_ setting: Setting, _ text: String) throws(ConfigurationError) {
            do { try setting.apply(text, &configuration) } catch {
                throw ConfigurationError(setting: setting.variable, message: error.reason)
            }
        }
        var derived: [(Setting, @Sendable (Configuration) -> String)] = []
        for setting in settings {
            if let flag = flags[setting.flag] {
                try apply(setting, flag)
            } else if let variable = environment[setting.variable], !variable.isEmpty {
                try apply(setting, variable)
            } else {
                switch setting.defaultValue {
                case .value(let fallback): try apply(setting, fallback)
                case .derived(_, let derive): derived.append((setting, derive))
                case .unset: break
                }
            }
        }
        for (setting, derive) in derived {
            try apply(setting, derive(configuration))
        }
        for check in checks {
            try check.run(&configuration)
        }
        return configuration
    }

    /// The value of each setting flag in `arguments` (`--flag VALUE` or `--flag=VALUE`; the last of
    /// a repeated flag wins), keyed by the flag's name without dashes. Values are checked by ``load(environment:arguments:)``.
    public static func flagValues(_ arguments: [String]) throws(FlagError) -> [String: String] {
        try flagValues(arguments, settings: settings)
    }

    static func flagValues(_ arguments: [String], settings: [Setting]) throws(FlagError) -> [String: String] {
        var values: [String: String] = [:]
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw FlagError(argument: argument, message: "is not a setting flag (settings are given as --flag VALUE)")
            }
            let name: Substring
            let value: String
            if let equals = argument.firstIndex(of: "=") {
                name = argument[argument.index(argument.startIndex, offsetBy: 2)..<equals]
                value = String(argument[argument.index(after: equals)...])
            } else {
                name = argument.dropFirst(2)
                guard let next = remaining.first, !next.hasPrefix("--") else {
                    throw FlagError(argument: argument, message: "needs a value")
                }
                value = next
                remaining = remaining.dropFirst()
            }
            guard let setting = settings.first(where: { $0.flag == name }) else {
                throw FlagError(argument: "--\(name)", message: "is not a setting (see --help)")
            }
            values[setting.flag] = value
        }
        return values
    }

    /// A command-line argument that is not a setting flag with its value.
    public struct FlagError: Error, CustomStringConvertible, Sendable, Equatable {
        /// The argument as given (`--no-such-flag`).
        public let argument: String
        public let message: String
        public var description: String { "\(argument) \(message)" }
    }
}

extension Issuer {
    /// A value no one reads: ``Configuration``'s own before its issuer setting is applied.
    fileprivate init(placeholder: Void) {
        url = ""
        isHTTPS = false
        origin = ""
    }
}

/// A configuration value that cannot be used; its description is the one line printed at start.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let setting: String
    public let message: String
    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }
    public var description: String { "configuration error: \(setting) \(message)" }
}

/// Why a single value did not parse; wrapped into a ``ConfigurationError`` naming the setting.
public struct ValueError: Error, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// Operational log severities, least to most severe.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, warning, error

    private var rank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warning: 2
        case .error: 3
        }
    }
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}

/// Durations written as a number with a unit: `30d`, `12h`, `90m`, `45s` (bare numbers are seconds).
public enum DurationText {
    public static func seconds(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(text)
        var unit: TimeInterval = 1
        if let last = text.last, let factor = units[last] {
            unit = factor
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), digits.count <= 9, let number = Int(digits) else { return nil }
        return TimeInterval(number) * unit
    }

    /// `500ms`, or anything ``seconds(_:)`` reads (`5s`, `2m`, …), as a `Duration`.
    public static func duration(_ text: String) -> Duration? {
        if text.hasSuffix("ms") {
            let digits = text.dropLast(2)
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCIIDigit), let value = Int64(digits) else { return nil }
            return .milliseconds(value)
        }
        return seconds(text).map { .milliseconds(Int64($0 * 1_000)) }
    }

    /// Whole seconds in the largest unit that divides them (`90m`, `24h`, `30d`, `0s`).
    public static func text(seconds: TimeInterval) -> String {
        let whole = Int(seconds)
        // Days from two on: 24h reads better than 1d.
        for (unit, length) in [("d", 86_400), ("h", 3_600), ("m", 60)] where whole != 0 && whole % length == 0 && !(unit == "d" && whole == length) {
            return "\(whole / length)\(unit)"
        }
        return "\(whole)s"
    }

    /// A duration in seconds when whole (`5s`, `600s`), else in milliseconds (`100ms`).
    public static func text(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000)s" : "\(milliseconds)ms"
    }
}
