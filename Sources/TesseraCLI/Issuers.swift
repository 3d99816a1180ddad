import ArgumentParser
import AuthServer
import Foundation
import JOSE
import OAuth
import Postgres
import PostgresStorage

struct Issuers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trust external issuers whose JWTs clients may exchange for tokens of this server (RFC 8693).",
        discussion: """
            A gateway can then exchange a token of the company's existing identity provider for narrow tokens \
            issued here. Each issuer's tokens are verified with its keys (a JWKS file, stored, or a JWKS URI, \
            fetched by every instance and refreshed), and must name one of its registered audiences in aud. \
            Changes reach every instance at once.
            """,
        subcommands: [Add.self, List.self, Show.self, Update.self, Remove.self]
    )

    /// The database settings as flags (`--issuer` names the issuer being registered here, not this server).
    struct DatabaseOptions: ParsableArguments {
        @Option(name: settingName(\.databaseURL), help: settingHelp(\.databaseURL))
        var databaseURL: String?

        @Option(name: settingName(\.logLevel), help: settingHelp(\.logLevel))
        var logLevel: String?

        var arguments: [String] { settingArguments([(\.databaseURL, databaseURL), (\.logLevel, logLevel)]) }
    }

    static func store(_ options: DatabaseOptions) -> PostgresTrustedIssuerStore {
        let configuration = loadConfiguration(arguments: options.arguments)
        return PostgresTrustedIssuerStore(pool: PostgresPool(configuration: databaseConfiguration(configuration), size: 1))
    }

    static func run<T>(_ operation: () async throws -> T) async -> T {
        do { return try await operation() } catch let error as TrustedIssuerStoreError {
            fail(error.description)
        } catch let error as PostgresError {
            fail("database: \(error)")
        } catch {
            fail("\(error)")
        }
    }

    /// Settings shared by `add` and `update`; an option not given leaves the value as it is.
    struct Settings: ParsableArguments {
        @Option(name: .customLong("jwks-file"), help: "A file holding the issuer's public JWKS (stored; replace it with update to rotate).")
        var jwksFile: String?
        @Option(name: .customLong("jwks-uri"), help: "Where the issuer publishes its JWKS (https; http only on loopback), fetched and refreshed by every instance.")
        var jwksURI: String?
        @Option(help: "Space-separated audiences, one of which the issuer's tokens must name in aud.")
        var audiences: String?
        @Option(name: .customLong("subject-prefix"), help: "Put before the issuer's subjects in the sub of tokens issued here (needed when its subjects are UUIDs, like this server's users).")
        var subjectPrefix: String?

        func apply(to registration: inout TrustedIssuerRegistration) {
            if jwksFile != nil && jwksURI != nil { fail("give --jwks-file or --jwks-uri, not both", code: 2) }
            if let jwksFile {
                let jwks = Clients.Settings.loadJWKS("@" + jwksFile)
                registration.jwks = jwks
                registration.jwksURI = nil
            }
            if let jwksURI {
                registration.jwksURI = jwksURI
                registration.jwks = nil
            }
            if let audiences { registration.audiences = Clients.Settings.list(audiences) }
            if let subjectPrefix { registration.subjectPrefix = subjectPrefix }
        }
    }

    static func object(_ registration: TrustedIssuerRegistration) -> [String: Any] {
        var object: [String: Any] = [
            "issuer": registration.issuer,
            "audiences": registration.audiences,
            "subject_prefix": registration.subjectPrefix,
            "jwks_uri": registration.jwksURI as Any? ?? NSNull(),
            "created_at": ClientDocument.time(registration.createdAt),
            "updated_at": ClientDocument.time(registration.updatedAt),
        ]
        if let jwks = registration.jwks, let data = try? JSONEncoder().encode(jwks), let value = try? JSONSerialization.jsonObject(with: data) {
            object["jwks"] = value
        }
        return object
    }

    static func print(_ registration: TrustedIssuerRegistration, json: Bool) {
        let object = object(registration)
        if json {
            Swift.print(ClientDocument.json(object))
            return
        }
        for key in object.keys.sorted() where key != "jwks" {
            Swift.print("\(key): \(ClientDocument.text(object[key]))")
        }
        if let jwks = registration.jwks { Swift.print("jwks: \(jwks.keys.count) key(s)") }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trust an external issuer's JWTs for token exchange.",
            discussion: "Example: tessera issuers add --issuer https://idp.example.com --jwks-uri https://idp.example.com/jwks --audiences gateway")
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The issuer identifier, exactly as its tokens' iss says.") var issuer: String
        @OptionGroup var settings: Settings
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let now = Date()
            var registration = TrustedIssuerRegistration(issuer: issuer, audiences: [], createdAt: now, updatedAt: now)
            settings.apply(to: &registration)
            if let problem = registration.problem { fail(problem, code: 2) }
            let store = Issuers.store(options)
            await Issuers.run { try await store.create(registration) }
            let stored = await Issuers.run { try await store.trustedIssuer(issuer) } ?? registration
            await store.pool.close()
            Issuers.print(stored, json: json)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a trusted issuer (new keys, audiences or prefix); options not given stay as they are.")
        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The issuer identifier.") var issuer: String
        @OptionGroup var settings: Settings
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = Issuers.store(options)
            guard var registration = await Issuers.run({ try await store.trustedIssuer(issuer) }) else {
                fail(TrustedIssuerStoreError.notFound(issuer).description)
            }
            settings.apply(to: &registration)
            if let problem = registration.problem { fail(problem, code: 2) }
            await Issuers.run { try await store.update(registration) }
            let stored = await Issuers.run { try await store.trustedIssuer(issuer) } ?? registration
            await store.pool.close()
            Issuers.print(stored, json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the trusted issuers.")
        @OptionGroup var options: DatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = Issuers.store(options)
            let registrations = await Issuers.run { try await store.trustedIssuers() }
            await store.pool.close()
            if json {
                Swift.print(ClientDocument.json(registrations.map(Issuers.object)))
                return
            }
            for registration in registrations {
                Swift.print("\(registration.issuer)  keys: \(registration.jwksURI ?? "\(registration.jwks?.keys.count ?? 0) registered")  audiences: "
                            + registration.audiences.joined(separator: " "))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one trusted issuer.")
        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The issuer identifier.") var issuer: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = Issuers.store(options)
            guard let registration = await Issuers.run({ try await store.trustedIssuer(issuer) }) else {
                fail(TrustedIssuerStoreError.notFound(issuer).description)
            }
            await store.pool.close()
            Issuers.print(registration, json: json)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop trusting an issuer (at once, on every instance).")
        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The issuer identifier.") var issuer: String

        func run() async throws {
            let store = Issuers.store(options)
            await Issuers.run { try await store.delete(issuer) }
            await store.pool.close()
            Swift.print("removed \(issuer)")
        }
    }
}
