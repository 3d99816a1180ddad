import ArgumentParser
import AuthServer
import Foundation
import JOSE
import OAuth
import Postgres
import PostgresStorage

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the key-encryption key and the signing keys.",
        subcommands: [Init.self, List.self, Rotate.self, Retire.self]
    )

    /// The key manager of the configured database and key-encryption key.
    static func manager(_ options: ServerOptions) -> (KeyManager, PostgresPool) {
        let configuration = loadConfiguration(options)
        let pool = PostgresPool(configuration: databaseConfiguration(configuration), size: 1)
        do {
            let kek = try KeyEncryptionKey.load(path: configuration.kekPath)
            return (KeyManager(store: PostgresSigningKeyStore(pool: pool), kek: kek, policy: configuration.keyLifecyclePolicy), pool)
        } catch {
            fail("\(error)")
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the key-encryption key file (mode 0600) if it does not exist.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let configuration = loadConfiguration(options)
            do {
                let (_, created) = try KeyEncryptionKey.loadOrCreate(path: configuration.kekPath)
                print(created ? "created \(configuration.kekPath)" : "\(configuration.kekPath) exists; left as it is")
            } catch {
                fail("\(error)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the signing keys and their states.")
        @OptionGroup var options: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let configuration = loadConfiguration(options)
            let pool = PostgresPool(configuration: databaseConfiguration(configuration), size: 1)
            let keys: [SigningKeyRecord]
            do { keys = try await PostgresSigningKeyStore(pool: pool).keys() } catch { fail("\(error)") }
            await pool.close()
            let formatter = ISO8601DateFormatter()
            func time(_ date: Date?) -> String? { date.map { formatter.string(from: $0) } }
            if json {
                let rows: [[String: String]] = keys.map { key in
                    var row = ["kid": key.kid, "alg": key.algorithm.rawValue, "state": key.state.rawValue, "created_at": formatter.string(from: key.createdAt)]
                    row["activated_at"] = time(key.activatedAt)
                    row["retired_at"] = time(key.retiredAt)
                    row["unpublish_after"] = time(key.unpublishAfter)
                    return row
                }
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("KID                                          ALG    STATE    CREATED               ACTIVATED             UNPUBLISH AFTER")
            for key in keys {
                let columns = [key.kid.padding(toLength: 44, withPad: " ", startingAt: 0), key.algorithm.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0),
                               key.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                               (time(key.createdAt) ?? "-").padding(toLength: 21, withPad: " ", startingAt: 0),
                               (time(key.activatedAt) ?? "-").padding(toLength: 21, withPad: " ", startingAt: 0), time(key.unpublishAfter) ?? "-"]
                print(columns.joined(separator: " "))
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Promote the next key to active and create a new next key.")
        @OptionGroup var options: ServerOptions
        @Option(help: "RS256 or ES256 (default both).") var alg: String?
        @Flag(help: "Rotate even if the next key was published less than the publish-ahead period ago.") var force = false

        func run() async throws {
            var algorithms = JWSAlgorithm.allCases
            if let alg {
                guard let chosen = JWSAlgorithm(rawValue: alg) else { fail("--alg must be RS256 or ES256", code: 2) }
                algorithms = [chosen]
            }
            let (manager, pool) = Keys.manager(options)
            do {
                let activated = try await manager.rotate(algorithms: algorithms, force: force)
                for kid in activated { print("activated \(kid)") }
            } catch {
                fail("\(error)")
            }
            await pool.close()
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Emergency: stop signing with a key at once.",
            discussion: "The key stays published until the tokens it signed expire, unless --now unpublishes it at once (those tokens stop verifying).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The kid of the key.") var kid: String
        @Flag(help: "Also remove it from the JWKS at once.") var now = false

        func run() async throws {
            let (manager, pool) = Keys.manager(options)
            do {
                try await manager.retire(kid: kid, unpublishNow: now)
                print(now ? "retired and unpublished \(kid)" : "retired \(kid); it stays published until the tokens it signed have expired")
            } catch {
                fail("\(error)")
            }
            await pool.close()
        }
    }
}
