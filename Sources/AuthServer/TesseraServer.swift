import Foundation
import HTTPServer
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage

/// The running authorization server, and the composition root: the one place that knows
/// PostgreSQL. It builds each store once and hands each endpoint only what it uses.
public final class TesseraServer: Sendable {
    public let configuration: Configuration
    public let pool: PostgresPool
    public let logger: Logger
    public let keys: KeyService
    public let clients: ClientService
    let passwords: PasswordLogin
    let janitor: Janitor
    let revocations: RevocationService
    let usernames: UsernameCache
    /// The one LISTEN connection every cache's change notifications arrive on (nil: none).
    let notifications: PostgresNotificationHub?
    public let metrics: Metrics
    private let http: HTTPServer
    /// What the main listener answers with (both paths), for tests that drive it without a socket.
    let responder: InstrumentedResponder
    /// The management listener: `/metrics`, `/healthz` and `/readyz` on `TESSERA_ADMIN_LISTEN` (loopback by default); nil when off.
    private let admin: HTTPServer?
    /// The mTLS listener, certificate reloading and TLS metrics (TLSListeners.swift).
    let tls: TLSListeners

    /// How long a graceful shutdown waits for in-flight requests before closing them.
    public static let shutdownGrace: Duration = .seconds(10)

    /// - Parameter notifications: the change notifications, shared with `keys` (nil: none, so
    ///   registrations are never cached; for tests). Started by ``start()``.
    public init(configuration: Configuration, pool: PostgresPool, keys: KeyService, logger: Logger, audit: AuditLog = AuditLog(),
                notifications: PostgresNotificationHub? = nil, http httpConfiguration: HTTPServerConfiguration? = nil) {
        self.configuration = configuration
        self.notifications = notifications
        self.pool = pool
        self.keys = keys
        self.logger = logger
        let metrics = Metrics()
        self.metrics = metrics
        let limits = RateLimits(configuration, audit: audit, metrics: metrics)
        let kek = keys.manager.kek
        let issuer = configuration.issuer

        // Storage: each store built once.
        let feed = notifications.map { PostgresChangeFeed(hub: $0) }
        let loginStore = PostgresLoginStore(pool: pool)
        let refreshTokens = PostgresRefreshTokenStore(pool: pool)
        let users = PostgresUserStore(pool: pool)

        // Caches kept current by the change feed.
        let clients = ClientService(store: PostgresClientStore(pool: pool), issuer: issuer, logger: logger, feed: feed,
                                    argon2Parameters: configuration.argon2, outageGrace: configuration.outageGrace)
        self.clients = clients
        let revocations = RevocationService(store: loginStore, feed: feed, logger: logger, outageGrace: configuration.outageGrace)
        self.revocations = revocations
        let usernames = UsernameCache(users: users, feed: feed)
        self.usernames = usernames
        self.janitor = Janitor(store: PostgresJanitor(pool: pool), interval: configuration.janitorInterval, logger: logger)

        // The protocol: tokens, grants, revocation.
        let accessTokens = AccessTokenIssuer(
            issuer: issuer.url, defaultLifetime: Int64(configuration.accessTokenTTL),
            opaqueKeys: OpaqueTokenKeyring(kek: kek, maxTokenLifetime: Int64(Configuration.maxAccessTokenTTL)))
        let minter = TokenMinter(accessTokens: accessTokens, idTokenLifetime: Int64(configuration.idTokenTTL))
        let verifier = AccessTokenVerifier(issuer: issuer.url, opaqueKeys: accessTokens.opaqueKeys)
        let events = GrantEvents(revocations: revocations, audit: audit, metrics: metrics)
        let refreshSettings = RefreshSettings(defaultIdleLifetime: configuration.refreshIdleTTL, defaultAbsoluteLifetime: configuration.refreshAbsoluteTTL,
                                              successorKey: kek.derivedKey(purpose: "refresh token successors"))

        // The browser login, by concern.
        let cookies = Cookies(isSecure: issuer.isHTTPS)
        let browser = BrowserResponses(issuer: issuer, limits: limits)
        let sessions = LoginSessions(store: loginStore, cookies: cookies, lifetime: configuration.sessionTTL)
        let interactions = PendingInteractions(store: loginStore, cookies: cookies, csrfKey: kek.derivedKey(purpose: "browser form csrf tokens"))
        let passwords = PasswordLogin(users: users, cookies: cookies, kek: kek, argon2Parameters: configuration.argon2)
        self.passwords = passwords
        let consents = Consents(store: loginStore)
        let codes = CodeIssuance(store: loginStore, issuer: issuer, lifetime: configuration.codeTTL)
        let userInfoAudience = issuer.endpoint(UserInfoEndpoint.path)

        let routes = Routes(
            health: HealthEndpoints(isStorageReady: { await pool.ping() }),
            wellKnown: WellKnownEndpoints(issuer: issuer, keys: keys, maxAge: Int(configuration.jwksMaxAge),
                                          mtlsBaseURL: configuration.tls.mtlsBaseURL(issuer: issuer)),
            token: TokenEndpoint(
                clients: clients, keys: keys,
                clientCredentials: ClientCredentialsGrant(minter: minter),
                authorizationCode: AuthorizationCodeGrant(codes: loginStore, users: users, minter: minter, refresh: refreshSettings, observer: events),
                refreshToken: RefreshTokenGrant(tokens: refreshTokens, minter: minter, settings: refreshSettings, observer: events),
                logger: logger, audit: audit, metrics: metrics, limits: limits),
            authorization: AuthorizationEndpoint(browser: browser, clients: clients, sessions: sessions, consents: consents, interactions: interactions,
                                                 codes: codes, userInfoAudience: userInfoAudience, logger: logger),
            login: LoginEndpoint(browser: browser, clients: clients, interactions: interactions, passwords: passwords, sessions: sessions,
                                 consents: consents, codes: codes, logger: logger, audit: audit, metrics: metrics),
            userInfo: UserInfoEndpoint(verifier: verifier, keys: keys, revocations: revocations, users: users, logger: logger, audience: userInfoAudience),
            logout: LogoutEndpoint(browser: browser, clients: clients, sessions: sessions, interactions: interactions, keys: keys,
                                   refreshTokens: refreshTokens, revocations: revocations, logger: logger, audit: audit),
            revocation: RevocationEndpoint(
                clients: clients, keys: keys,
                revocation: TokenRevocation(refreshTokens: refreshTokens, revocations: loginStore, verifier: verifier, observer: events),
                logger: logger, audit: audit, metrics: metrics, limits: limits),
            introspection: IntrospectionEndpoint(clients: clients, keys: keys, verifier: verifier, revocations: revocations, usernames: usernames,
                                                 refreshTokens: refreshTokens, logger: logger, audit: audit, limits: limits),
            metrics: metrics)

        var httpConfiguration = httpConfiguration ?? HTTPServerConfiguration(host: configuration.listen.host, port: configuration.listen.port)
        httpConfiguration.host = configuration.listen.host
        httpConfiguration.port = configuration.listen.port
        configuration.http.apply(to: &httpConfiguration)
        let addresses = SourceAddressResolver(trustedProxies: configuration.trustedProxies)
        let certificates = ClientCertificateResolver(trustedProxies: configuration.trustedProxies, logger: logger)
        let log: @Sendable (String) -> Void = { message in logger.warning(message, ["component": "http"]) }
        // Metrics name key ids and pool and Argon2 statistics: never on the public listener.
        let main = routes.router()
        let responder = InstrumentedResponder(router: main, endpoints: main.paths, addresses: addresses, certificates: certificates, metrics: metrics)
        self.responder = responder
        self.tls = TLSListeners(settings: configuration.tls, responder: responder, logger: logger, metrics: metrics, log: log)
        tls.configureMain(&httpConfiguration)
        self.http = HTTPServer(configuration: httpConfiguration, responder: responder, log: log)
        if let adminListen = configuration.adminListen {
            let adminRouter = routes.adminRouter()
            self.admin = HTTPServer(configuration: HTTPServerConfiguration(host: adminListen.host, port: adminListen.port),
                                    responder: InstrumentedResponder(router: adminRouter, endpoints: adminRouter.paths, addresses: addresses,
                                                                     certificates: certificates, metrics: metrics),
                                    log: log)
        } else {
            self.admin = nil
        }
        Self.addGauges(metrics, pool: pool, argon2: ["clients": clients.argon2, "logins": passwords.argon2], keys: keys, revocations: revocations)
    }

    /// The port the admin listener bound, if there is one.
    public var adminPort: UInt16? { admin?.localPort }

    /// The gauges read at each scrape: the database pool, Argon2, signing keys, revocations.
    static func addGauges(_ metrics: Metrics, pool: PostgresPool, argon2 pools: KeyValuePairs<String, Argon2Pool>, keys: KeyService,
                          revocations: RevocationService) {
        metrics.addGauges {
            let pool = pool.statistics
            let argon2 = pools.map { (name: $0.key, statistics: $0.value.statistics) }
            let wait = Double(pool.totalWaitTime.components.seconds) + Double(pool.totalWaitTime.components.attoseconds) / 1e18
            var out = "# HELP tessera_db_pool_connections Database pool connections by state.\n# TYPE tessera_db_pool_connections gauge\n"
                + "tessera_db_pool_connections{state=\"in_use\"} \(pool.inUse)\n"
                + "tessera_db_pool_connections{state=\"idle\"} \(pool.size - pool.inUse)\n"
                + "# HELP tessera_db_pool_waiting Callers queued for a database connection.\n# TYPE tessera_db_pool_waiting gauge\n"
                + "tessera_db_pool_waiting \(pool.waiting)\n"
                + "# HELP tessera_db_pool_wait_seconds_total Time spent waiting for a database connection.\n"
                + "# TYPE tessera_db_pool_wait_seconds_total counter\ntessera_db_pool_wait_seconds_total \(wait)\n"
                + "# HELP tessera_db_pool_acquisitions_total Database connections handed out.\n"
                + "# TYPE tessera_db_pool_acquisitions_total counter\ntessera_db_pool_acquisitions_total \(pool.acquisitions)\n"
                + "# HELP tessera_db_pool_timeouts_total Callers that gave up waiting for a connection.\n"
                + "# TYPE tessera_db_pool_timeouts_total counter\ntessera_db_pool_timeouts_total \(pool.timeouts)\n"
                + "# HELP tessera_argon2_queue_depth Argon2id jobs waiting for the pool (clients: secrets; logins: passwords).\n"
                + "# TYPE tessera_argon2_queue_depth gauge\n"
                + argon2.map { "tessera_argon2_queue_depth{pool=\"\($0.name)\"} \($0.statistics.queued)\n" }.joined()
                + "# HELP tessera_argon2_running Argon2id jobs running.\n# TYPE tessera_argon2_running gauge\n"
                + argon2.map { "tessera_argon2_running{pool=\"\($0.name)\"} \($0.statistics.running)\n" }.joined()
                + "# HELP tessera_argon2_rejections_total Argon2id jobs refused because the queue was full.\n"
                + "# TYPE tessera_argon2_rejections_total counter\n"
                + argon2.map { "tessera_argon2_rejections_total{pool=\"\($0.name)\"} \($0.statistics.rejections)\n" }.joined()
                + "# HELP tessera_revocations_synchronized Whether revocations are answered from memory (1) or PostgreSQL (0).\n"
                + "# TYPE tessera_revocations_synchronized gauge\ntessera_revocations_synchronized \(revocations.isSynchronized ? 1 : 0)\n"
                + "# HELP tessera_signing_key_age_seconds Age of each published signing key.\n# TYPE tessera_signing_key_age_seconds gauge\n"
            let now = Date()
            for key in keys.current.ring.published {
                out += "tessera_signing_key_age_seconds{kid=\"\(key.kid)\",alg=\"\(key.algorithm.rawValue)\",state=\"\(key.state.rawValue)\"} "
                    + "\(Int(now.timeIntervalSince(key.createdAt)))\n"
            }
            return out
        }
    }

    /// Builds the server from its configuration: reads the key-encryption key (a
    /// missing or wrong one is an error here, at start), prepares the signing keys.
    public static func make(configuration: Configuration, pool: PostgresPool, database: PostgresConfiguration, logger: Logger,
                            audit: AuditLog = AuditLog()) async throws -> TesseraServer {
        let kek = try KeyEncryptionKey.load(path: configuration.kekPath)
        let manager = KeyManager(store: PostgresSigningKeyStore(pool: pool), kek: kek, policy: configuration.keyLifecyclePolicy)
        // Check the lifecycle several times within the shortest period that matters, at most every 30 s.
        let policy = configuration.keyLifecyclePolicy
        let checkEvery = min(30, max(1, min(policy.rotationPeriod, policy.publishAhead) / 4))
        // LISTEN needs a session of its own on PostgreSQL itself, never one through a pooler.
        let notifications = PostgresNotificationHub(configuration: try configuration.directPostgresConfiguration(default: database))
        let keys = KeyService(manager: manager, logger: logger, feed: PostgresChangeFeed(hub: notifications),
                              maintenanceInterval: .milliseconds(Int64(checkEvery * 1_000)), audit: audit)
        try await keys.prepare()
        return TesseraServer(configuration: configuration, pool: pool, keys: keys, logger: logger, audit: audit, notifications: notifications)
    }

    /// Binds the listening socket and starts serving.
    public func start() throws {
        keys.start()
        clients.start()
        janitor.start()
        revocations.start()
        usernames.start()
        // Every subscriber is in place: one connection now listens for all of them.
        notifications?.start()
        try http.start()
        logger.info("listening", ["address": "\(configuration.listen.host):\(http.localPort)", "issuer": configuration.issuer.url,
                                  "scheme": configuration.tls.isMainListenerHTTPS ? "https" : "http"])
        try tls.start()
        if let admin, let adminListen = configuration.adminListen {
            try admin.start()
            logger.info("admin listening", ["address": "\(adminListen.host):\(admin.localPort)", "paths": "/metrics /healthz /readyz"])
        }
    }

    /// The port actually bound (useful with port 0).
    public var localPort: UInt16 { http.localPort }
    /// The port the mTLS listener bound, if there is one.
    public var mtlsPort: UInt16? { tls.mutualPort }
    /// The port of the https listener beside the main one, if there is one.
    public var httpsPort: UInt16? { tls.additionalPort }

    /// Stops accepting, lets in-flight requests finish within ``shutdownGrace``, then closes the pool.
    public func shutdown() async {
        logger.info("shutting down", ["grace_seconds": "\(Self.shutdownGrace.components.seconds)"])
        async let tlsStopped: Void = tls.shutdown(deadline: Self.shutdownGrace)
        await http.shutdown(deadline: Self.shutdownGrace)
        await tlsStopped
        await admin?.shutdown(deadline: .seconds(1))
        notifications?.stop()
        await keys.stop()
        await clients.stop()
        passwords.shutdown()
        await janitor.stop()
        await revocations.stop()
        await usernames.stop()
        await pool.close()
        logger.info("stopped")
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully.
    public func runUntilSignalled() async throws {
        let termination = TerminationWatch()
        try start()
        let signal = await termination.wait()
        logger.info("signal received", ["signal": "\(signal)"])
        await shutdown()
    }
}
