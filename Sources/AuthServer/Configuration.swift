import Foundation
import OAuth
import PasswordHashing

/// Tessera's run-time configuration, read once at start-up.
///
/// Every setting comes from an environment variable and can be overridden by the
/// matching command-line flag. A bad value fails at start with one line naming the
/// setting; nothing is validated lazily later.
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
    public var accessTokenTTL: TimeInterval = 600
    /// Authorization-code lifetime (RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED").
    public var codeTTL: TimeInterval = 60
    /// How long a browser login session lasts from sign-in.
    public var sessionTTL: TimeInterval = 12 * 3_600
    /// ID-token lifetime.
    public var idTokenTTL: TimeInterval = 3_600
    /// The management listener: `/metrics`, `/healthz` and `/readyz`, on loopback by default so that
    /// key ids and pool and Argon2 statistics are not public; nil (`off`): no metrics at all.
    public var adminListen: ListenAddress? = Configuration.defaultAdminListen

    /// The management listener's default address: loopback, its own port.
    public static let defaultAdminListen = ListenAddress(host: "127.0.0.1", port: 9464)
    /// Proxies whose `X-Forwarded-For` is believed; nobody else's is.
    public var trustedProxies: [IPNetwork] = []
    /// Token-bucket rates in requests per second (bursts of twice as many); 0 turns a limit off.
    public struct RateLimitSettings: Sendable, Equatable {
        /// Per client at the token endpoint.
        public var token: Double = 100
        /// Per client at the introspection endpoint.
        public var introspection: Double = 2_000
        /// Per client at the revocation endpoint.
        public var revocation: Double = 50
        /// Per source address: failed token-endpoint requests.
        public var tokenFailures: Double = 10
        /// Per source address: the browser pages (authorize, login, consent, logout).
        public var browser: Double = 20
        public init() {}
    }
    public var rateLimits = RateLimitSettings()
    /// While PostgreSQL is unreachable, how long what an instance had cached (client registrations,
    /// the revocation set) may still answer; 0: not at all.
    public var outageGrace: TimeInterval = 300
    /// How often expired rows are deleted (by one instance at a time).
    public var janitorInterval: TimeInterval = 300
    /// Refresh-token idle lifetime for clients without their own: unused this long, a token expires.
    public var refreshIdleTTL: TimeInterval = 7 * 86_400
    /// Refresh-token family lifetime for clients without their own, however often it rotates.
    public var refreshAbsoluteTTL: TimeInterval = 30 * 86_400
    /// Argon2id cost of newly hashed client secrets and passwords (OWASP's recommended
    /// minimum by default: 19 MiB, 2 passes, 1 lane). Existing hashes keep their own.
    public var argon2: Argon2Parameters = Argon2Parameters()
    /// The HTTP server's own settings (Configuration+HTTP.swift).
    public var http = HTTPSettings()
    /// The database pool and the bounds on every wait for PostgreSQL (Configuration+Database.swift).
    public var database = DatabaseSettings()
    /// TLS certificates, the mTLS listener and their reloaders (Configuration+TLS.swift).
    public var tls = TLSSettings()

    public init(databaseURL: String? = nil, issuer: Issuer, listen: ListenAddress, keysDirectory: String = "./Keys",
                kekFile: String? = nil, keyRotationPeriod: TimeInterval = 30 * 86_400, jwksMaxAge: TimeInterval = 600, logLevel: LogLevel = .info) {
        self.jwksMaxAge = jwksMaxAge
        self.databaseURL = databaseURL
        self.issuer = issuer
        self.listen = listen
        self.keysDirectory = keysDirectory
        self.kekFile = kekFile
        self.keyRotationPeriod = keyRotationPeriod
        self.logLevel = logLevel
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

    /// The names of the environment variables, in one place.
    public enum Variable {
        public static let databaseURL = "TESSERA_DATABASE_URL"
        public static let issuer = "TESSERA_ISSUER"
        public static let listen = "TESSERA_LISTEN"
        public static let keysDirectory = "TESSERA_KEYS_DIR"
        public static let logLevel = "TESSERA_LOG_LEVEL"
        public static let kekFile = "TESSERA_KEK_FILE"
        public static let keyRotationPeriod = "TESSERA_KEY_ROTATION_PERIOD"
        public static let jwksMaxAge = "TESSERA_JWKS_MAX_AGE"
        public static let accessTokenTTL = "TESSERA_ACCESS_TOKEN_TTL"
        public static let codeTTL = "TESSERA_CODE_TTL"
        public static let sessionTTL = "TESSERA_SESSION_TTL"
        public static let idTokenTTL = "TESSERA_ID_TOKEN_TTL"
        public static let refreshIdleTTL = "TESSERA_REFRESH_IDLE_TTL"
        public static let janitorInterval = "TESSERA_JANITOR_INTERVAL"
        public static let adminListen = "TESSERA_ADMIN_LISTEN"
        public static let outageGrace = "TESSERA_OUTAGE_GRACE"
        public static let rateLimitToken = "TESSERA_RATE_LIMIT_TOKEN"
        public static let rateLimitIntrospection = "TESSERA_RATE_LIMIT_INTROSPECTION"
        public static let rateLimitRevocation = "TESSERA_RATE_LIMIT_REVOCATION"
        public static let rateLimitTokenFailures = "TESSERA_RATE_LIMIT_TOKEN_FAILURES"
        public static let rateLimitBrowser = "TESSERA_RATE_LIMIT_BROWSER"
        public static let trustedProxies = "TESSERA_TRUSTED_PROXIES"
        public static let refreshAbsoluteTTL = "TESSERA_REFRESH_ABSOLUTE_TTL"
        public static let argon2Memory = "TESSERA_ARGON2_MEMORY_KIB"
        public static let argon2Iterations = "TESSERA_ARGON2_ITERATIONS"
        public static let argon2Parallelism = "TESSERA_ARGON2_PARALLELISM"
    }

    /// The longest access-token lifetime, globally or per client.
    public static let maxAccessTokenTTL = TimeInterval(AccessTokenIssuer.maximumLifetime)

    /// Values given on the command line; each wins over its environment variable.
    public struct Overrides: Sendable {
        public var databaseURL: String?
        public var issuer: String?
        public var listen: String?
        public var keysDirectory: String?
        public var logLevel: String?
        public var kekFile: String?
        public var keyRotationPeriod: String?
        public var jwksMaxAge: String?
        public var accessTokenTTL: String?
        public init(databaseURL: String? = nil, issuer: String? = nil, listen: String? = nil, keysDirectory: String? = nil, logLevel: String? = nil,
                    kekFile: String? = nil, keyRotationPeriod: String? = nil, jwksMaxAge: String? = nil, accessTokenTTL: String? = nil) {
            self.jwksMaxAge = jwksMaxAge
            self.accessTokenTTL = accessTokenTTL
            self.kekFile = kekFile
            self.keyRotationPeriod = keyRotationPeriod
            self.databaseURL = databaseURL
            self.issuer = issuer
            self.listen = listen
            self.keysDirectory = keysDirectory
            self.logLevel = logLevel
        }
    }

    /// Resolves flags, then environment variables, then defaults, validating each value.
    public static func load(environment: [String: String], overrides: Overrides = Overrides()) throws(ConfigurationError) -> Configuration {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag { return flag }
            if let env = environment[variable], !env.isEmpty { return env }
            return nil
        }
        let databaseURL = value(overrides.databaseURL, Variable.databaseURL)
        if let databaseURL, !(databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://")) {
            throw ConfigurationError(setting: Variable.databaseURL, message: "must be a postgres:// or postgresql:// URL")
        }
        let listenText = value(overrides.listen, Variable.listen) ?? "127.0.0.1:8080"
        let listen: ListenAddress
        do { listen = try ListenAddress(parsing: listenText) } catch {
            throw ConfigurationError(setting: Variable.listen, message: "\(error.reason) (got \"\(listenText)\")")
        }
        let issuerScheme = value(nil, Variable.tlsCertificate) == nil ? "http" : "https"
        let issuerText = value(overrides.issuer, Variable.issuer) ?? "\(issuerScheme)://\(listen.urlAuthority)"
        let issuer: Issuer
        do { issuer = try Issuer(parsing: issuerText) } catch {
            throw ConfigurationError(setting: Variable.issuer, message: "\(error.reason) (got \"\(issuerText)\")")
        }
        let keysDirectory = value(overrides.keysDirectory, Variable.keysDirectory) ?? "./Keys"
        let levelText = value(overrides.logLevel, Variable.logLevel) ?? "info"
        guard let logLevel = LogLevel(rawValue: levelText.lowercased()) else {
            throw ConfigurationError(setting: Variable.logLevel, message: "must be one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(levelText)\")")
        }
        let kekFile = value(overrides.kekFile, Variable.kekFile)
        let periodText = value(overrides.keyRotationPeriod, Variable.keyRotationPeriod) ?? "30d"
        guard let period = DurationText.seconds(periodText), period > 0 else {
            throw ConfigurationError(setting: Variable.keyRotationPeriod, message: "must be a duration such as 30d, 12h, 90m or 3600s (got \"\(periodText)\")")
        }
        let maxAgeText = value(overrides.jwksMaxAge, Variable.jwksMaxAge) ?? "10m"
        guard let maxAge = DurationText.seconds(maxAgeText), maxAge > 0 else {
            throw ConfigurationError(setting: Variable.jwksMaxAge, message: "must be a duration such as 10m or 600s (got \"\(maxAgeText)\")")
        }
        var configuration = Configuration(databaseURL: databaseURL, issuer: issuer, listen: listen, keysDirectory: keysDirectory,
                                          kekFile: kekFile, keyRotationPeriod: period, jwksMaxAge: maxAge, logLevel: logLevel)
        let ttlText = value(overrides.accessTokenTTL, Variable.accessTokenTTL) ?? "10m"
        guard let ttl = DurationText.seconds(ttlText), ttl >= 1, ttl <= maxAccessTokenTTL else {
            throw ConfigurationError(setting: Variable.accessTokenTTL, message: "must be a duration from 1s to 24h, such as 10m (got \"\(ttlText)\")")
        }
        configuration.accessTokenTTL = ttl
        func duration(_ variable: String, default fallback: String, range: ClosedRange<TimeInterval>, example: String) throws(ConfigurationError) -> TimeInterval {
            let text = value(nil, variable) ?? fallback
            guard let seconds = DurationText.seconds(text), range.contains(seconds) else {
                throw ConfigurationError(setting: variable, message: "must be a duration from \(Int(range.lowerBound))s to \(Int(range.upperBound))s, such as \(example) (got \"\(text)\")")
            }
            return seconds
        }
        configuration.codeTTL = try duration(Variable.codeTTL, default: "60s", range: 1...600, example: "60s")
        configuration.sessionTTL = try duration(Variable.sessionTTL, default: "12h", range: 60...(30 * 86_400), example: "12h")
        configuration.idTokenTTL = try duration(Variable.idTokenTTL, default: "1h", range: 60...86_400, example: "1h")
        if let text = value(nil, Variable.adminListen) {
            if text == "off" {
                configuration.adminListen = nil
            } else {
                do { configuration.adminListen = try ListenAddress(parsing: text) } catch {
                    throw ConfigurationError(setting: Variable.adminListen, message: "\(error.reason), or off (got \"\(text)\")")
                }
            }
        }
        func rate(_ variable: String, default fallback: Double) throws(ConfigurationError) -> Double {
            guard let text = value(nil, variable) else { return fallback }
            guard let parsed = Double(text), parsed >= 0, parsed <= 1_000_000, parsed.isFinite else {
                throw ConfigurationError(setting: variable, message: "must be requests per second, 0 (no limit) to 1000000 (got \"\(text)\")")
            }
            return parsed
        }
        let defaultRates = RateLimitSettings()
        configuration.rateLimits.token = try rate(Variable.rateLimitToken, default: defaultRates.token)
        configuration.rateLimits.introspection = try rate(Variable.rateLimitIntrospection, default: defaultRates.introspection)
        configuration.rateLimits.revocation = try rate(Variable.rateLimitRevocation, default: defaultRates.revocation)
        configuration.rateLimits.tokenFailures = try rate(Variable.rateLimitTokenFailures, default: defaultRates.tokenFailures)
        configuration.rateLimits.browser = try rate(Variable.rateLimitBrowser, default: defaultRates.browser)
        if let text = value(nil, Variable.trustedProxies) {
            for item in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
                do { configuration.trustedProxies.append(try IPNetwork(parsing: String(item))) } catch {
                    throw ConfigurationError(setting: Variable.trustedProxies, message: "\(error.reason); give IP addresses or networks such as 10.0.0.0/8, separated by commas")
                }
            }
        }
        configuration.outageGrace = try duration(Variable.outageGrace, default: "5m", range: 0...86_400, example: "5m")
        configuration.janitorInterval = try duration(Variable.janitorInterval, default: "5m", range: 1...86_400, example: "5m")
        configuration.refreshIdleTTL = try duration(Variable.refreshIdleTTL, default: "7d", range: 60...(365 * 86_400), example: "7d")
        configuration.refreshAbsoluteTTL = try duration(Variable.refreshAbsoluteTTL, default: "30d", range: 60...(365 * 86_400), example: "30d")
        func number(_ variable: String, default fallback: UInt32) throws(ConfigurationError) -> UInt32 {
            guard let text = value(nil, variable) else { return fallback }
            guard text.count <= 9, text.allSatisfy(\.isASCIIDigit), let parsed = UInt32(text) else {
                throw ConfigurationError(setting: variable, message: "must be a positive whole number (got \"\(text)\")")
            }
            return parsed
        }
        let defaults = Argon2Parameters()
        configuration.argon2 = Argon2Parameters(
            memoryKiB: try number(Variable.argon2Memory, default: defaults.memoryKiB),
            iterations: try number(Variable.argon2Iterations, default: defaults.iterations),
            parallelism: try number(Variable.argon2Parallelism, default: defaults.parallelism))
        do { try configuration.argon2.validate() } catch {
            throw ConfigurationError(setting: Variable.argon2Memory, message: "Argon2id parameters are not usable: \(error)")
        }
        configuration.http = try HTTPSettings.load { value(nil, $0) }
        configuration.database = try DatabaseSettings.load(environment: environment)
        configuration.tls = try TLSSettings.load { value(nil, $0) }
        if let problem = configuration.keyLifecyclePolicy.problem {
            throw ConfigurationError(setting: Variable.keyRotationPeriod, message: problem)
        }
        return configuration
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
}
