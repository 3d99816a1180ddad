import Testing
@testable import AuthServer

@Suite struct ConfigurationTests {
    @Test("Defaults: 127.0.0.1:8080, issuer derived from the listen address, ./Keys, info")
    func defaults() throws {
        let configuration = try Configuration.load(environment: [:])
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(configuration.issuer.url == "http://127.0.0.1:8080")
        #expect(configuration.keysDirectory == "./Keys")
        #expect(configuration.logLevel == .info)
        #expect(configuration.databaseURL == nil)
        #expect(configuration.keyRotationPeriod == 30 * 86_400)
    }

    @Test("A retired key stays published while the longest-lived token it signed is valid (a client's 24 h access tokens, ID tokens)")
    func retiredKeysOutliveEveryTokenTheySigned() throws {
        let configuration = try Configuration.load(environment: ["TESSERA_ACCESS_TOKEN_TTL": "5m", "TESSERA_ID_TOKEN_TTL": "2h"])
        let policy = configuration.keyLifecyclePolicy
        // Any client may be given access tokens of up to 24 h at any time, so the bound is that cap.
        #expect(policy.maxTokenLifetime >= Configuration.maxAccessTokenTTL)
        #expect(policy.maxTokenLifetime >= configuration.idTokenTTL)
        #expect(policy.retiredPublicationPeriod >= 86_400 + configuration.jwksMaxAge)
        let longID = try Configuration.load(environment: ["TESSERA_ID_TOKEN_TTL": "24h"])
        #expect(longID.keyLifecyclePolicy.retiredPublicationPeriod >= 86_400 + longID.jwksMaxAge)
    }

    @Test("Metrics are on a loopback management listener of their own by default; off turns it off")
    func managementListener() throws {
        #expect(try Configuration.load(environment: [:]).adminListen == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try Configuration.load(environment: ["TESSERA_ADMIN_LISTEN": "off"]).adminListen == nil)
        #expect(try Configuration.load(environment: ["TESSERA_ADMIN_LISTEN": "[::1]:9000"]).adminListen == ListenAddress(host: "::1", port: 9000))
    }

    @Test("A flag wins over its environment variable")
    func flagsOverrideEnvironment() throws {
        let configuration = try Configuration.load(
            environment: ["TESSERA_LISTEN": "0.0.0.0:9000", "TESSERA_LOG_LEVEL": "debug", "TESSERA_ISSUER": "https://a.example"],
            arguments: ["--listen", "[::1]:7000"])
        #expect(configuration.listen == ListenAddress(host: "::1", port: 7000))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.issuer.url == "https://a.example")
    }

    @Test("Each bad value fails naming its setting", arguments: [
        ("TESSERA_LISTEN", "localhost:8080"), ("TESSERA_LISTEN", "127.0.0.1"), ("TESSERA_LISTEN", "127.0.0.1:65536"),
        ("TESSERA_LISTEN", "256.1.1.1:80"), ("TESSERA_LISTEN", "[::1:80"), ("TESSERA_LISTEN", "[fe80::1::2]:80"),
        ("TESSERA_ISSUER", "example.com"), ("TESSERA_ISSUER", "https://example.com/"), ("TESSERA_ISSUER", "https://example.com?a=b"),
        ("TESSERA_ISSUER", "https://example.com#f"), ("TESSERA_ISSUER", "https://u@example.com"), ("TESSERA_ISSUER", "https:///path"),
        ("TESSERA_LOG_LEVEL", "verbose"), ("TESSERA_DATABASE_URL", "mysql://db"),
        ("TESSERA_KEY_ROTATION_PERIOD", "soon"), ("TESSERA_KEY_ROTATION_PERIOD", "0d"), ("TESSERA_KEY_ROTATION_PERIOD", "1m"),
        ("TESSERA_JWKS_MAX_AGE", "-1"),
    ])
    func badValues(variable: String, value: String) {
        #expect {
            try Configuration.load(environment: [variable: value])
        } throws: { error in
            (error as? ConfigurationError)?.setting == variable
        }
    }

    @Test("IPv4 and IPv6 listen addresses parse; the URL authority brackets IPv6")
    func listenAddresses() throws {
        #expect(try ListenAddress(parsing: "0.0.0.0:0").port == 0)
        #expect(try ListenAddress(parsing: "[::]:80").host == "::")
        #expect(try ListenAddress(parsing: "[2001:db8::1]:443").urlAuthority == "[2001:db8::1]:443")
        #expect(try ListenAddress(parsing: "[::ffff:127.0.0.1]:1").host == "::ffff:127.0.0.1")
    }

    @Test("Durations take s, m, h and d")
    func durations() {
        #expect(DurationText.seconds("45") == 45)
        #expect(DurationText.seconds("90m") == 5_400)
        #expect(DurationText.seconds("12h") == 43_200)
        #expect(DurationText.seconds("30d") == 2_592_000)
        #expect(DurationText.seconds("1.5h") == nil)
        #expect(DurationText.seconds("d") == nil)
    }

    @Test("Endpoint URLs derive from the issuer byte for byte")
    func issuerEndpoints() throws {
        let issuer = try Issuer(parsing: "https://Auth.Example.com:8443/t/1")
        #expect(issuer.endpoint("/token") == "https://Auth.Example.com:8443/t/1/token")
    }

    @Test("Hardening settings: trusted proxies, admin listener, rate limits and the outage grace parse, and bad values name their setting")
    func hardeningSettings() throws {
        let configuration = try Configuration.load(environment: [
            "TESSERA_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "TESSERA_ADMIN_LISTEN": "127.0.0.1:9100",
            "TESSERA_RATE_LIMIT_TOKEN": "0", "TESSERA_RATE_LIMIT_BROWSER": "2.5", "TESSERA_OUTAGE_GRACE": "0",
        ])
        #expect(configuration.trustedProxies.map(\.description) == ["10.0.0.0/8", "127.0.0.1/32"])
        #expect(configuration.adminListen == ListenAddress(host: "127.0.0.1", port: 9100))
        #expect(configuration.rateLimits.token == 0)
        #expect(configuration.rateLimits.browser == 2.5)
        #expect(configuration.rateLimits.introspection == 2_000)
        #expect(configuration.outageGrace == 0)
        for (setting, value) in [("TESSERA_TRUSTED_PROXIES", "10.0.0.0/33"), ("TESSERA_ADMIN_LISTEN", "nowhere"),
                                 ("TESSERA_RATE_LIMIT_TOKEN", "-1"), ("TESSERA_RATE_LIMIT_TOKEN", "fast"), ("TESSERA_OUTAGE_GRACE", "soon"),
                                 ("TESSERA_CODE_TTL", "11m"), ("TESSERA_REFRESH_IDLE_TTL", "10s")] {
            #expect(throws: ConfigurationError.self, "\(setting)=\(value)") { try Configuration.load(environment: [setting: value]) }
            do { _ = try Configuration.load(environment: [setting: value]) } catch { #expect(error.setting == setting) }
        }
    }
}
