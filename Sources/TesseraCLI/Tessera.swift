import ArgumentParser
import AuthServer
import Foundation
import OAuth
import HTTPServer
import JOSE
import Postgres
import PostgresStorage

@main
struct Tessera: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: an OAuth 2.1 / OpenID Connect authorization server.",
        subcommands: [Serve.self, Migrate.self, Dev.self, Keys.self, Clients.self, Issuers.self, Users.self, Tokens.self, Config.self]
    )
}

/// Every setting as a flag, for the commands that run the server: the flags, their help and
/// their parsing all come from the settings table (`Configuration.settings`).
struct SettingOptions: ParsableArguments {
    @Argument(parsing: .allUnrecognized,
              help: ArgumentHelp("Any of the settings below, as --flag VALUE or --flag=VALUE. A flag wins over its "
                                 + "environment variable, which wins over the default.",
                                 discussion: Configuration.settingsHelp(), valueName: "setting"))
    var arguments: [String] = []

    func validate() throws {
        do { _ = try Configuration.flagValues(arguments) } catch { throw ValidationError(error.description) }
    }
}

/// The settings the management commands (keys, clients, users, tokens) take as flags; the
/// others come from their environment variables. Names and help come from the settings table.
struct ServerOptions: ParsableArguments {
    @Option(name: settingName(\.databaseURL), help: settingHelp(\.databaseURL))
    var databaseURL: String?

    @Option(name: settingName(\.issuer), help: settingHelp(\.issuer))
    var issuer: String?

    @Option(name: settingName(\.listen), help: settingHelp(\.listen))
    var listen: String?

    @Option(name: settingName(\.keysDirectory), help: settingHelp(\.keysDirectory))
    var keysDirectory: String?

    @Option(name: settingName(\.kekFile), help: settingHelp(\.kekFile))
    var kekFile: String?

    @Option(name: settingName(\.keyRotationPeriod), help: settingHelp(\.keyRotationPeriod))
    var keyRotationPeriod: String?

    @Option(name: settingName(\.jwksMaxAge), help: settingHelp(\.jwksMaxAge))
    var jwksMaxAge: String?

    @Option(name: settingName(\.logLevel), help: settingHelp(\.logLevel))
    var logLevel: String?

    /// The flags given, as arguments for `Configuration.load`.
    var arguments: [String] {
        settingArguments([(\.databaseURL, databaseURL), (\.issuer, issuer), (\.listen, listen), (\.keysDirectory, keysDirectory),
                          (\.kekFile, kekFile), (\.keyRotationPeriod, keyRotationPeriod), (\.jwksMaxAge, jwksMaxAge), (\.logLevel, logLevel)])
    }
}

/// The flag of the setting that sets `keyPath`.
func settingName(_ keyPath: PartialKeyPath<Configuration>) -> NameSpecification {
    .customLong(Configuration.setting(keyPath)?.flag ?? String(describing: keyPath))
}

/// The one-line help of the setting that sets `keyPath`: what it does, its variable and its default.
func settingHelp(_ keyPath: PartialKeyPath<Configuration>) -> ArgumentHelp {
    guard let setting = Configuration.setting(keyPath) else { return ArgumentHelp() }
    let text = "\(setting.summary) (env \(setting.variable); default \(setting.defaultValue.documentation))."
    return ArgumentHelp(String(text.prefix(1).uppercased() + text.dropFirst()).replacingOccurrences(of: "`", with: ""),
                        valueName: setting.valueName)
}

/// `--flag=value` for each setting given a value.
func settingArguments(_ values: [(PartialKeyPath<Configuration>, String?)]) -> [String] {
    values.compactMap { keyPath, value in
        value.map { "--\(Configuration.setting(keyPath)?.flag ?? String(describing: keyPath))=\($0)" }
    }
}

/// Prints one line on standard error and exits with `code`: how bad configuration is reported.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data(("tessera: " + message + "\n").utf8))
    exit(code)
}

func loadConfiguration(_ options: ServerOptions) -> Configuration {
    loadConfiguration(arguments: options.arguments)
}

func loadConfiguration(_ options: SettingOptions) -> Configuration {
    loadConfiguration(arguments: options.arguments)
}

func loadConfiguration(arguments: [String]) -> Configuration {
    do {
        return try Configuration.load(environment: ProcessInfo.processInfo.environment, arguments: arguments)
    } catch {
        fail(error.description, code: 2)
    }
}

func databaseConfiguration(_ configuration: Configuration) -> PostgresConfiguration {
    do {
        return try configuration.postgresConfiguration()
    } catch {
        fail(ConfigurationError(\.databaseURL, message: "\(error)").description, code: 2)
    }
}

/// Where migrations run: a direct connection (`TESSERA_LISTEN_DATABASE_URL` behind a
/// transaction-mode pooler), because they hold a session advisory lock and lift the timeouts.
func migrationConfiguration(_ configuration: Configuration, main: PostgresConfiguration) -> PostgresConfiguration {
    do {
        return try configuration.directPostgresConfiguration(default: main)
    } catch {
        fail("\(ConfigurationError(\Configuration.database.listenURL, message: "\(error)"))", code: 2)
    }
}

/// Builds the server; a missing or wrong key-encryption key stops here with one clear line.
func makeServer(configuration: Configuration, pool: PostgresPool, database: PostgresConfiguration, logger: Logger) async -> TesseraServer {
    do {
        return try await TesseraServer.make(configuration: configuration, pool: pool, database: database, logger: logger)
    } catch {
        fail("\(error)")
    }
}

func migrationsDirectory(_ explicit: String?) -> String {
    do {
        return try MigrationsDirectory.locate(explicit: explicit, environment: ProcessInfo.processInfo.environment)
    } catch {
        fail(error.description, code: 2)
    }
}

/// Applies pending migrations and reports each one.
func applyMigrations(directory: String, pool: PostgresPool, logger: Logger) async {
    do {
        let applied = try await Migrator(directory: directory, checksum: SHA256.hexDigest).migrate(using: pool)
        for migration in applied {
            logger.info("migration applied", ["version": String(migration.version), "name": migration.name])
        }
        logger.info("database schema is up to date", ["applied_now": String(applied.count)])
    } catch {
        fail("migration failed: \(error)")
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the authorization server.",
        discussion: """
            Refuses to start with an http:// issuer or with the key-encryption key `tessera dev` made, \
            unless TESSERA_ALLOW_INSECURE=1 (development only).
            """
    )

    static let allowInsecure = "TESSERA_ALLOW_INSECURE"

    /// Exits with status 2, saying why, when the configuration is unfit for production and
    /// TESSERA_ALLOW_INSECURE=1 does not say that this is deliberate.
    static func refuseInsecure(_ configuration: Configuration, environment: [String: String], logger: Logger) {
        var reasons: [String] = []
        if !configuration.issuer.isHTTPS {
            reasons.append("the issuer \(configuration.issuer.url) is http:// (session cookies and tokens would travel in the clear, "
                           + "and cookies could not be Secure or __Host- prefixed)")
        }
        if FileManager.default.fileExists(atPath: Dev.developmentMarker(kekPath: configuration.kekPath)) {
            reasons.append("the key-encryption key \(configuration.kekPath) was made by `tessera dev` for development "
                           + "(create a production one with `tessera keys init` in a folder of its own)")
        }
        guard !reasons.isEmpty else { return }
        if environment[allowInsecure] == "1" {
            logger.warning("serving an insecure configuration because \(allowInsecure)=1", ["reasons": reasons.joined(separator: "; ")])
            return
        }
        fail("refusing to serve: " + reasons.joined(separator: "; and ") + ". Set \(allowInsecure)=1 to serve anyway (development only).", code: 2)
    }

    @OptionGroup var options: SettingOptions

    @Flag(help: "Apply pending database migrations before serving.")
    var migrate = false

    @Option(name: .customLong("migrations-dir"), help: "Folder of SQL migrations (env TESSERA_MIGRATIONS_DIR).")
    var migrationsDirectoryPath: String?

    func run() async throws {
        let configuration = loadConfiguration(options)
        let logger = Logger(level: configuration.logLevel)
        Self.refuseInsecure(configuration, environment: ProcessInfo.processInfo.environment, logger: logger)
        let database = databaseConfiguration(configuration)
        let pool = configuration.makePool(database)
        if migrate {
            let migrations = PostgresPool(configuration: migrationConfiguration(configuration, main: database), size: 1)
            await applyMigrations(directory: migrationsDirectory(migrationsDirectoryPath), pool: migrations, logger: logger)
            await migrations.close()
        }
        let server = await makeServer(configuration: configuration, pool: pool, database: database, logger: logger)
        do {
            try await server.runUntilSignalled()
        } catch {
            fail("cannot serve on \(configuration.listen): \(error)")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations, in order, and exit.")

    @Option(name: settingName(\.databaseURL), help: settingHelp(\.databaseURL))
    var databaseURL: String?

    @Option(name: .customLong("migrations-dir"), help: "Folder of SQL migrations (env TESSERA_MIGRATIONS_DIR).")
    var migrationsDirectoryPath: String?

    @Option(name: settingName(\.logLevel), help: settingHelp(\.logLevel))
    var logLevel: String?

    func run() async throws {
        let configuration = loadConfiguration(arguments: settingArguments([(\.databaseURL, databaseURL), (\.logLevel, logLevel)]))
        let logger = Logger(level: configuration.logLevel)
        let pool = PostgresPool(configuration: migrationConfiguration(configuration, main: databaseConfiguration(configuration)), size: 1)
        await applyMigrations(directory: migrationsDirectory(migrationsDirectoryPath), pool: pool, logger: logger)
        await pool.close()
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a development server on a private PostgreSQL cluster under .data/.",
        discussion: """
            Initialises the cluster on first use (as the postgres user when run as root), starts it on a \
            Unix socket inside .data/, migrates, and serves. Ctrl-C stops the server and the cluster; \
            a second run reuses the data.
            """
    )

    @OptionGroup var options: SettingOptions

    @Option(name: .customLong("data-dir"), help: "Folder for the private cluster (default ./.data).")
    var dataDirectory = ".data"

    @Option(name: .customLong("migrations-dir"), help: "Folder of SQL migrations (env TESSERA_MIGRATIONS_DIR).")
    var migrationsDirectoryPath: String?

    @Option(name: .customLong("dev-https-listen"), help: "https listener beside the http one, with a development certificate (off: none).")
    var httpsListen = "127.0.0.1:8443"

    @Option(name: .customLong("dev-mtls-listen"), help: "Listener that asks for client certificates of the development CA (off: none).")
    var mtlsListen = "127.0.0.1:8444"

    func run() async throws {
        var configuration = loadConfiguration(options)
        let logger = Logger(level: configuration.logLevel)
        let say: @Sendable (String) -> Void = { line in
            print("tessera dev: " + line)
            fflush(nil)  // progress must show at once, even when standard output is a pipe
        }
        let cluster = DevelopmentDatabase(stateDirectory: dataDirectory, say: say)
        let session: DevelopmentDatabase.Session
        do {
            session = try cluster.start()
            try await cluster.createDatabaseIfMissing()
        } catch {
            fail("\(error)")
        }
        if configuration.databaseURL == nil {
            configuration.databaseURL = session.databaseURL
        }
        let certificates = configureDevelopmentTLS(&configuration, say: say)
        let database = databaseConfiguration(configuration)
        let pool = configuration.makePool(database)
        await applyMigrations(directory: migrationsDirectory(migrationsDirectoryPath), pool: pool, logger: logger)
        do {
            if try KeyEncryptionKey.loadOrCreate(path: configuration.kekPath).created {
                // Marked, so that `tessera serve` refuses it unless told that this is development.
                _ = FileManager.default.createFile(atPath: Self.developmentMarker(kekPath: configuration.kekPath),
                                               contents: Data("made by `tessera dev`: a development key-encryption key\n".utf8))
                say("created the key-encryption key \(configuration.kekPath) (mode 0600; never commit it; development only)")
            }
        } catch {
            cluster.stop(session)
            fail("\(error)")
        }
        let server = await makeServer(configuration: configuration, pool: pool, database: database, logger: logger)
        // From here on Ctrl-C is kept until the server and the cluster can stop cleanly.
        let termination = TerminationWatch()
        do {
            try server.start()
        } catch {
            cluster.stop(session)
            fail("cannot serve on \(configuration.listen): \(error)")
        }
        let base = "http://\(configuration.listen.host.contains(":") ? "[\(configuration.listen.host)]" : configuration.listen.host):\(server.localPort)"
        say("serving \(configuration.issuer.url) on \(base)")
        say("try:  curl -i \(base)/readyz")
        if let certificates {
            sayTLS(certificates, configuration: configuration, server: server, say: say)
        }
        if let admin = configuration.adminListen, let port = server.adminPort {
            say("metrics (management listener):  curl -s http://\(admin.urlAuthority(port: port))/metrics")
        }
        if let demo = await Self.seedDemoClient(PostgresClientStore(pool: pool), configuration: configuration, say: say) {
            say("a machine-to-machine token for the demo client (its secret is new at every start of tessera dev):")
            say("      curl -s -u \(demo.id):\(demo.secret) -d grant_type=client_credentials -d scope=demo:read \(base)/token")
        }
        if let password = await Self.seedDemoBrowserLogin(PostgresClientStore(pool: pool), users: PostgresUserStore(pool: pool), configuration: configuration, say: say) {
            let verifier = Base64URL.encode(SecureRandom.bytes(32))
            let challenge = Base64URL.encode(SHA256.hash(Array(verifier.utf8)))
            let redirect = FormURLEncoded.encode(Self.demoRedirectURI)
            say("a browser login (authorization code with PKCE) for the demo web app:")
            say("  1. open  \(configuration.issuer.url)/authorize?response_type=code&client_id=\(Self.demoWebClientID)&redirect_uri=\(redirect)"
                + "&scope=openid+profile+email&state=demo&code_challenge=\(challenge)&code_challenge_method=S256")
            say("  2. sign in as \(Self.demoUsername) with the password \(password) (new at every start of tessera dev)")
            say("  3. the browser lands on \(Self.demoRedirectURI)?code=... (nothing listens there: copy the code from the address bar)")
            say("  4. within \(Int(configuration.codeTTL)) s:  curl -s \(base)/token -d grant_type=authorization_code -d client_id=\(Self.demoWebClientID) "
                + "-d redirect_uri=\(redirect) -d code_verifier=\(verifier) -d code=CODE")
        }
        say("press Ctrl-C to stop the server and the database")
        _ = await termination.wait()
        await server.shutdown()
        cluster.stop(session)
    }

    /// The file that marks a key-encryption key as made by `tessera dev`.
    static func developmentMarker(kekPath: String) -> String { kekPath + ".development" }

    static let demoClientID = "demo-service"
    static let demoWebClientID = "demo-web"
    static let demoUsername = "demo"
    static let demoRedirectURI = "http://127.0.0.1:8400/callback"

    /// Registers the demo web app (a public client using PKCE) and the demo user on first use,
    /// and gives the user a fresh random password at every start (development only).
    static func seedDemoBrowserLogin(_ store: PostgresClientStore, users: PostgresUserStore, configuration: Configuration,
                                     say: (String) -> Void) async -> String? {
        let password = Base64URL.encode(SecureRandom.bytes(12))
        let hash = Clients.hash(password, configuration)
        do {
            let now = Date()
            if try await store.client(id: demoWebClientID) == nil {
                let client = Client(
                    id: demoWebClientID, name: "Demo web app", type: .public, authMethod: .none, grantTypes: [.authorizationCode],
                    redirectURIs: [demoRedirectURI], allowedScopes: Scope(["openid", "profile", "email"]),
                    defaultScopes: Scope(["openid"]), audiences: [], postLogoutRedirectURIs: ["http://127.0.0.1:8400/"],
                    createdAt: now, updatedAt: now)
                try await store.create(client, secretHash: nil)
                say("registered the demo web app \(demoWebClientID) (public, PKCE, redirect URI \(demoRedirectURI))")
            }
            if let user = try await users.user(username: demoUsername) {
                try await users.setPassword(id: user.id, hash: hash)
            } else {
                let user = User(username: demoUsername, email: "demo@example.com", isEmailVerified: true, name: "Demo User",
                                createdAt: now, updatedAt: now, passwordChangedAt: now)
                try await users.create(user, passwordHash: hash)
                say("created the demo user \(demoUsername)")
            }
            return password
        } catch {
            say("could not prepare the demo browser login: \(error)")
            return nil
        }
    }

    /// Registers the demo client on first use and gives it a fresh secret at every start,
    /// so the printed command always works (development only: `serve` never does this).
    static func seedDemoClient(_ store: PostgresClientStore, configuration: Configuration, say: (String) -> Void) async -> (id: String, secret: String)? {
        let secret = Clients.newSecret()
        let hash = Clients.hash(secret, configuration)
        do {
            if try await store.client(id: demoClientID) == nil {
                let now = Date()
                let client = Client(
                    id: demoClientID, name: "Demo service", type: .confidential, authMethod: .clientSecretBasic,
                    grantTypes: [.clientCredentials], allowedScopes: Scope(["demo:read", "demo:write"]), defaultScopes: Scope(["demo:read"]),
                    audiences: ["https://api.demo.example"], createdAt: now, updatedAt: now)
                try await store.create(client, secretHash: hash)
                say("registered the demo client \(demoClientID) (scopes demo:read demo:write, audience https://api.demo.example)")
            } else {
                try await store.rotateSecret(id: demoClientID, newHash: hash, oldSecretValidFor: 0)
            }
            return (demoClientID, secret)
        } catch {
            say("could not prepare the demo client: \(error)")
            return nil
        }
    }
}
