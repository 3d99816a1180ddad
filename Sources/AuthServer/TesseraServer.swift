import Foundation
import HTTPServer
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage

/// The running authorization server: configuration, the database pool and the
/// HTTP routes wired together.
public final class TesseraServer: Sendable {
    public let configuration: Configuration
    public let pool: PostgresPool
    public let logger: Logger
    public let keys: KeyService
    public let clients: ClientService
    let browserLogin: BrowserLogin
    let janitor: Janitor
    let revocations: RevocationService
    let usernames: UsernameCache
    /// The one LISTEN connection every cache's change notifications arrive on (nil: none).
    let notifications: PostgresNotificationHub?
    public let metrics: Metrics
    private let http: HTTPServer
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
        let metrics = Metrics()
        self.metrics = metrics
        let limits = RateLimits(configuration, audit: audit, metrics: metrics)
        self.pool = pool
        self.keys = keys
        self.logger = logger
        let clients = ClientService(pool: pool, issuer: configuration.issuer, logger: logger,
                                    notifications: notifications, argon2Parameters: configuration.argon2,
                                    outageGrace: configuration.outageGrace)
        self.clients = clients
        let tokenIssuer = AccessTokenIssuer(
            issuer: configuration.issuer.url, defaultLifetime: Int64(configuration.accessTokenTTL),
            opaqueKeys: OpaqueTokenKeyring(kek: keys.manager.kek, maxTokenLifetime: Int64(Configuration.maxAccessTokenTTL)))
        var httpConfiguration = httpConfiguration ?? HTTPServerConfiguration(host: configuration.listen.host, port: configuration.listen.port)
        httpConfiguration.host = configuration.listen.host
        httpConfiguration.port = configuration.listen.port
        configuration.http.apply(to: &httpConfiguration)
        let browserLogin = BrowserLogin(
            pool: pool, clients: clients, issuer: configuration.issuer, kek: keys.manager.kek, codeTTL: configuration.codeTTL,
            sessionTTL: configuration.sessionTTL, argon2Parameters: configuration.argon2, logger: logger, limits: limits)
        self.browserLogin = browserLogin
        self.janitor = Janitor(store: PostgresJanitor(pool: pool), interval: configuration.janitorInterval, logger: logger)
        let revocations = RevocationService(store: browserLogin.store, notifications: notifications, logger: logger,
                                            outageGrace: configuration.outageGrace)
        self.revocations = revocations
        let usernames = UsernameCache(users: browserLogin.users, notifications: notifications)
        self.usernames = usernames
        let verifier = AccessTokenVerifier(issuer: configuration.issuer.url, opaqueKeys: tokenIssuer.opaqueKeys)
        let routes = Routes(
            health: HealthEndpoints(pool: pool),
            wellKnown: WellKnownEndpoints(issuer: configuration.issuer, keys: keys, maxAge: Int(configuration.jwksMaxAge),
                                          mtlsBaseURL: configuration.tls.mtlsBaseURL(issuer: configuration.issuer)),
            token: TokenEndpoint(clients: clients, keys: keys, issuer: tokenIssuer, login: browserLogin,
                                 refresh: RefreshService(pool: pool, kek: keys.manager.kek, idleLifetime: configuration.refreshIdleTTL,
                                                         absoluteLifetime: configuration.refreshAbsoluteTTL),
                                 idTokenLifetime: Int64(configuration.idTokenTTL), logger: logger, audit: audit, metrics: metrics, limits: limits,
                                 revocations: revocations),
            authorization: AuthorizationEndpoint(login: browserLogin, logger: logger),
            login: LoginEndpoint(login: browserLogin, logger: logger, audit: audit, metrics: metrics),
            userInfo: UserInfoEndpoint(verifier: verifier,
                                       keys: keys, revocations: revocations, users: browserLogin.users, logger: logger,
                                       audience: configuration.issuer.endpoint(UserInfoEndpoint.path)),
            logout: LogoutEndpoint(login: browserLogin, keys: keys, refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger,
                                   audit: audit, revocations: revocations),
            revocation: RevocationEndpoint(clients: clients, keys: keys, verifier: verifier, loginStore: browserLogin.store,
                                           refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger, audit: audit, metrics: metrics,
                                           limits: limits, revocations: revocations),
            introspection: IntrospectionEndpoint(clients: clients, keys: keys, verifier: verifier, revocations: revocations, usernames: usernames,
                                                 refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger, audit: audit, limits: limits),
            metrics: metrics)
        let addresses = SourceAddressResolver(trustedProxies: configuration.trustedProxies)
        let certificates = ClientCertificateResolver(trustedProxies: configuration.trustedProxies, logger: logger)
        let log: @Sendable (String) -> Void = { message in logger.warning(message, ["component": "http"]) }
        // Metrics name key ids and pool and Argon2 statistics: never on the public listener.
        let main = routes.router()
        let mainResponder = InstrumentedResponder(router: main, endpoints: main.paths, addresses: addresses, certificates: certificates, metrics: metrics)
        self.tls = TLSListeners(settings: configuration.tls, responder: mainResponder, logger: logger, metrics: metrics, log: log)
        tls.configureMain(&httpConfiguration)
        self.http = HTTPServer(configuration: httpConfiguration, responder: mainResponder, log: log)
        if let adminListen = configuration.adminListen {
            let adminRouter = routes.adminRouter()
            self.admin = HTTPServer(configuration: HTTPServerConfiguration(host: adminListen.host, port: adminListen.port),
                                    responder: InstrumentedResponder(router: adminRouter, endpoints: adminRouter.paths, addresses: addresses,
                                                                     certificates: certificates, metrics: metrics),
                                    log: log)
        } else {
            self.admin = nil
        }
        Self.addGauges(metrics, pool: pool, argon2: ["clients": clients.argon2, "logins": browserLogin.argon2], keys: keys, revocations: revocations)
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
        let notifications = PostgresNotificationHub(configuration: database)
        let keys = KeyService(manager: manager, logger: logger, notifications: notifications,
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
        browserLogin.argon2.shutdown()
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
