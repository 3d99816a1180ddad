import HTTPServer
import OAuth
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
    private let http: HTTPServer

    /// How long a graceful shutdown waits for in-flight requests before closing them.
    public static let shutdownGrace: Duration = .seconds(10)

    /// - Parameter listenerConfiguration: where to listen for change notifications (nil: no
    ///   listener, so registrations are never cached; for tests).
    public init(configuration: Configuration, pool: PostgresPool, keys: KeyService, logger: Logger,
                listenerConfiguration: PostgresConfiguration? = nil, http httpConfiguration: HTTPServerConfiguration? = nil) {
        self.configuration = configuration
        self.pool = pool
        self.keys = keys
        self.logger = logger
        let tokenEndpointURL = configuration.issuer.endpoint(TokenEndpoint.path)
        let clients = ClientService(pool: pool, issuer: configuration.issuer, tokenEndpoint: tokenEndpointURL, logger: logger,
                                    listenerConfiguration: listenerConfiguration, argon2Parameters: configuration.argon2)
        self.clients = clients
        let tokenIssuer = AccessTokenIssuer(
            issuer: configuration.issuer.url, defaultLifetime: Int64(configuration.accessTokenTTL),
            opaqueKeys: OpaqueTokenKeyring(kek: keys.manager.kek, maxTokenLifetime: Int64(Configuration.maxAccessTokenTTL)))
        var httpConfiguration = httpConfiguration ?? HTTPServerConfiguration(host: configuration.listen.host, port: configuration.listen.port)
        httpConfiguration.host = configuration.listen.host
        httpConfiguration.port = configuration.listen.port
        let browserLogin = BrowserLogin(
            pool: pool, clients: clients, issuer: configuration.issuer, kek: keys.manager.kek, codeTTL: configuration.codeTTL,
            sessionTTL: configuration.sessionTTL, argon2Parameters: configuration.argon2, logger: logger)
        self.browserLogin = browserLogin
        self.janitor = Janitor(store: PostgresJanitor(pool: pool), interval: configuration.janitorInterval, logger: logger)
        let revocations = RevocationService(store: browserLogin.store, listenerConfiguration: listenerConfiguration, logger: logger)
        self.revocations = revocations
        let usernames = UsernameCache(users: browserLogin.users, listenerConfiguration: listenerConfiguration)
        self.usernames = usernames
        let verifier = AccessTokenVerifier(issuer: configuration.issuer.url, opaqueKeys: tokenIssuer.opaqueKeys)
        let routes = Routes(
            health: HealthEndpoints(pool: pool),
            wellKnown: WellKnownEndpoints(issuer: configuration.issuer, keys: keys, maxAge: Int(configuration.jwksMaxAge)),
            token: TokenEndpoint(clients: clients, keys: keys, issuer: tokenIssuer, login: browserLogin,
                                 refresh: RefreshService(pool: pool, kek: keys.manager.kek, idleLifetime: configuration.refreshIdleTTL,
                                                         absoluteLifetime: configuration.refreshAbsoluteTTL),
                                 idTokenLifetime: Int64(configuration.idTokenTTL), logger: logger),
            authorization: AuthorizationEndpoint(login: browserLogin, logger: logger),
            login: LoginEndpoint(login: browserLogin, logger: logger),
            userInfo: UserInfoEndpoint(verifier: verifier,
                                       keys: keys, revocations: revocations, users: browserLogin.users, logger: logger),
            logout: LogoutEndpoint(login: browserLogin, keys: keys, refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger),
            revocation: RevocationEndpoint(clients: clients, keys: keys, verifier: verifier, loginStore: browserLogin.store,
                                           refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger),
            introspection: IntrospectionEndpoint(clients: clients, keys: keys, verifier: verifier, revocations: revocations, usernames: usernames,
                                                 refreshTokens: PostgresRefreshTokenStore(pool: pool), logger: logger))
        self.http = HTTPServer(configuration: httpConfiguration, responder: routes.router(), log: { message in
            logger.warning(message, ["component": "http"])
        })
    }

    /// Builds the server from its configuration: reads the key-encryption key (a
    /// missing or wrong one is an error here, at start), prepares the signing keys.
    public static func make(configuration: Configuration, pool: PostgresPool, database: PostgresConfiguration, logger: Logger) async throws -> TesseraServer {
        let kek = try KeyEncryptionKey.load(path: configuration.kekPath)
        let manager = KeyManager(store: PostgresSigningKeyStore(pool: pool), kek: kek, policy: configuration.keyLifecyclePolicy)
        // Check the lifecycle several times within the shortest period that matters, at most every 30 s.
        let policy = configuration.keyLifecyclePolicy
        let checkEvery = min(30, max(1, min(policy.rotationPeriod, policy.publishAhead) / 4))
        let keys = KeyService(manager: manager, logger: logger, listenerConfiguration: database,
                              maintenanceInterval: .milliseconds(Int64(checkEvery * 1_000)))
        try await keys.prepare()
        return TesseraServer(configuration: configuration, pool: pool, keys: keys, logger: logger, listenerConfiguration: database)
    }

    /// Binds the listening socket and starts serving.
    public func start() throws {
        keys.start()
        clients.start()
        janitor.start()
        revocations.start()
        usernames.start()
        try http.start()
        logger.info("listening", ["address": "\(configuration.listen.host):\(http.localPort)", "issuer": configuration.issuer.url])
    }

    /// The port actually bound (useful with port 0).
    public var localPort: UInt16 { http.localPort }

    /// Stops accepting, lets in-flight requests finish within ``shutdownGrace``, then closes the pool.
    public func shutdown() async {
        logger.info("shutting down", ["grace_seconds": "\(Self.shutdownGrace.components.seconds)"])
        await http.shutdown(deadline: Self.shutdownGrace)
        await keys.stop()
        await clients.stop()
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
