import Foundation
import PasswordHashing

extension Configuration {
    /// Every setting, in the order they are read and listed. A concern with settings of its own
    /// lists them in its own `Configuration+Concern.swift` and adds that list here (and its
    /// rules to ``settingChecks``); README.md's tables then come from `tessera config --markdown`.
    public static let settings: [Setting] = coreSettings + httpSettings + tlsSettings + databaseSettings

    /// The rules between settings, checked in order once every setting has its value.
    public static let settingChecks: [SettingCheck] = coreSettingChecks + tlsSettingChecks + databaseSettingChecks

    /// The server's own settings.
    static let coreSettings: [Setting] = [
        Setting("TESSERA_LISTEN", \.listen, .listenAddress, default: .value("127.0.0.1:8080"), example: "0.0.0.0:8443",
                group: .server, "the address of the public listener"),
        Setting("TESSERA_ISSUER", \.issuer, .issuer,
                default: .derived("`http://` + the listen address (`https://` with `TESSERA_TLS_CERT`)") {
                    "\($0.tls.certificateFile == nil ? "http" : "https")://\($0.listen.urlAuthority)"
                },
                example: "https://id.example.com", group: .server,
                "the issuer identifier; every endpoint URL derives from it. `https://` in production; no query, fragment or trailing `/`"),
        Setting("TESSERA_ADMIN_LISTEN", \.adminListen, .listenAddressOrOff, default: .value("127.0.0.1:9464"),
                example: "off", group: .server,
                "the management listener: `/metrics`, `/healthz` and `/readyz`, on loopback by default (metrics name key ids and pool "
                    + "and Argon2 statistics, so they are never served on the public listener); `off`: no metrics"),
        Setting("TESSERA_TRUSTED_PROXIES", \.trustedProxies, .networks, default: .unset("none"),
                example: "10.0.0.0/8,127.0.0.1", group: .server,
                "proxies whose `X-Forwarded-For` names the client; nobody else's is read"),
        Setting("TESSERA_LOG_LEVEL", \.logLevel, .logLevel, default: .value("info"), example: "debug", group: .server,
                "the least severe operational log line written"),

        Setting("TESSERA_KEYS_DIR", \.keysDirectory, .path, default: .value("./Keys"),
                example: "/var/lib/tessera/keys", group: .keys, "folder for key material (see `Keys/README.md`)"),
        Setting("TESSERA_KEK_FILE", \.kekFile, .path, default: .unset("`KEYS_DIR/kek`"),
                example: "/run/secrets/tessera-kek", group: .keys, "the key-encryption key file (a mounted secret, for example)"),
        Setting("TESSERA_KEY_ROTATION_PERIOD", \.keyRotationPeriod,
                .duration(1...TimeInterval.infinity, requirement: "must be a duration such as 30d, 12h, 90m or 3600s"),
                default: .value("30d"), example: "7d", group: .keys,
                "how long a signing key signs before the next one takes over; at least twice `TESSERA_JWKS_MAX_AGE`"),
        Setting("TESSERA_JWKS_MAX_AGE", \.jwksMaxAge,
                .duration(1...TimeInterval.infinity, requirement: "must be a duration such as 10m or 600s"),
                default: .value("10m"), example: "5m", group: .keys,
                "`Cache-Control: max-age` of the JWKS and discovery documents; a new key is published for twice this long before it signs"),

        Setting("TESSERA_ACCESS_TOKEN_TTL", \.accessTokenTTL,
                .duration(1...maxAccessTokenTTL, requirement: "must be a duration from 1s to 24h, such as 10m"),
                default: .value("10m"), example: "5m", group: .tokens, "access-token lifetime for clients without their own"),
        Setting("TESSERA_CODE_TTL", \.codeTTL, .duration(1...600, example: "60s"), default: .value("60s"),
                example: "30s", group: .tokens, "authorization-code lifetime"),
        Setting("TESSERA_ID_TOKEN_TTL", \.idTokenTTL, .duration(60...86_400, example: "1h"), default: .value("1h"),
                example: "2h", group: .tokens, "ID-token lifetime"),
        Setting("TESSERA_SESSION_TTL", \.sessionTTL, .duration(60...(30 * 86_400), example: "12h"),
                default: .value("12h"), example: "8h", group: .tokens, "browser login session lifetime, from sign-in"),
        Setting("TESSERA_REFRESH_IDLE_TTL", \.refreshIdleTTL, .duration(60...(365 * 86_400), example: "7d"),
                default: .value("7d"), example: "14d", group: .tokens,
                "a refresh token unused this long expires (clients may set their own)"),
        Setting("TESSERA_REFRESH_ABSOLUTE_TTL", \.refreshAbsoluteTTL,
                .duration(60...(365 * 86_400), example: "30d"), default: .value("30d"), example: "90d", group: .tokens,
                "a refresh-token family ends this long after it began, however often it rotates (clients may set their own)"),

        Setting("TESSERA_RATE_LIMIT_TOKEN", \.rateLimits.token, .requestRate, default: .value("100"),
                example: "50", group: .rateLimits,
                "requests per second per client at `/token` (bursts of twice as many). Every limit is per instance"),
        Setting("TESSERA_RATE_LIMIT_INTROSPECTION", \.rateLimits.introspection, .requestRate,
                default: .value("2000"), example: "500", group: .rateLimits, "requests per second per client at `/introspect`"),
        Setting("TESSERA_RATE_LIMIT_REVOCATION", \.rateLimits.revocation, .requestRate,
                default: .value("50"), example: "20", group: .rateLimits, "requests per second per client at `/revoke`"),
        Setting("TESSERA_RATE_LIMIT_TOKEN_FAILURES", \.rateLimits.tokenFailures, .requestRate,
                default: .value("10"), example: "5", group: .rateLimits, "failed `/token` requests per second per source address"),
        Setting("TESSERA_RATE_LIMIT_BROWSER", \.rateLimits.browser, .requestRate, default: .value("20"),
                example: "10", group: .rateLimits,
                "requests per second per source address at `/authorize`, `/login`, `/consent` and `/logout`"),

        Setting("TESSERA_ARGON2_MEMORY_KIB", \.argon2.memoryKiB, argon2Number(
                    accepts: "`8` × lanes to `\(Argon2Parameters.verificationCeiling.memoryKiB)`"),
                default: .value(String(Argon2Parameters().memoryKiB)), example: "65536", group: .passwordHashing,
                "Argon2id memory in KiB of newly hashed secrets and passwords (OWASP's minimum recommendation: 19 MiB, 2 passes, "
                    + "1 lane); existing hashes keep their own"),
        Setting("TESSERA_ARGON2_ITERATIONS", \.argon2.iterations, argon2Number(
                    accepts: "`1` to `\(Argon2Parameters.verificationCeiling.iterations)`"),
                default: .value(String(Argon2Parameters().iterations)), example: "3", group: .passwordHashing, "Argon2id passes"),
        Setting("TESSERA_ARGON2_PARALLELISM", \.argon2.parallelism, argon2Number(
                    accepts: "`1` to `\(Argon2Parameters.verificationCeiling.parallelism)`"),
                default: .value(String(Argon2Parameters().parallelism)), example: "2", group: .passwordHashing, "Argon2id lanes"),
    ]

    /// An Argon2id parameter: any whole number here; ``coreSettingChecks`` checks the three together.
    private static func argon2Number(accepts: String) -> SettingValue<UInt32> {
        .wholeNumber(0...999_999_999, requirement: "must be a positive whole number", accepts: accepts)
    }

    static let coreSettingChecks: [SettingCheck] = [
        SettingCheck(\.argon2.memoryKiB) { configuration in
            do { try configuration.argon2.validate() } catch { return "Argon2id parameters are not usable: \(error)" }
            return nil
        },
        SettingCheck(\.keyRotationPeriod) { $0.keyLifecyclePolicy.problem },
    ]
}
