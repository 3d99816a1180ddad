import ArgumentParser
import AuthServer
import Foundation
import OAuth
import PasswordHashing
import Postgres
import PostgresStorage

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and manage the users who sign in with a password.",
        discussion: """
            Passwords are never given as an option: they come from the first line of standard input \
            (--password-stdin) or are typed twice at a prompt with echo off, and are stored only as \
            Argon2id hashes. Usernames are compared whatever their case.
            """,
        subcommands: [Create.self, List.self, Show.self, SetPassword.self, Disable.self, Enable.self, Delete.self]
    )

    /// The store of the configured database.
    static func store(_ options: ServerOptions) -> (PostgresUserStore, Configuration) {
        let configuration = loadConfiguration(options)
        let pool = PostgresPool(configuration: databaseConfiguration(configuration), size: 1)
        return (PostgresUserStore(pool: pool), configuration)
    }

    /// Runs a store operation; a failure is one line on standard error.
    static func run<T>(_ operation: () async throws -> T) async -> T {
        do { return try await operation() } catch let error as UserStoreError {
            fail(error.description)
        } catch let error as PostgresError {
            fail("database: \(error)")
        } catch {
            fail("\(error)")
        }
    }

    /// The user named `username` (whatever its case), or one line on standard error.
    static func existing(_ username: String, in store: PostgresUserStore) async -> User {
        guard let user = await run({ try await store.user(username: username) }) else { fail(UserStoreError.notFound(username).description) }
        return user
    }

    /// The password's Argon2id hash with the configured cost.
    static func hash(_ password: String, _ configuration: Configuration) -> String {
        do { return try Argon2id.hash(password: Array(password.utf8), parameters: configuration.argon2) } catch { fail("\(error)") }
    }

    /// Prints the user as JSON or as lines of text; there is no password or hash to print.
    static func print(_ user: User, json: Bool) {
        let object = UserDocument.object(user)
        if json {
            Swift.print(ClientDocument.json(object))
            return
        }
        for key in object.keys.sorted() {
            Swift.print("\(key): \(ClientDocument.text(object[key]))")
        }
    }

    /// The password source shared by `create` and `set-password`.
    struct PasswordOptions: ParsableArguments {
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input (else prompt on the terminal).")
        var fromStandardInput = false
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user.",
            discussion: "Example: printf '%s\\n' \"$PASSWORD\" | tessera users create --username alice --email alice@example.com --password-stdin")
        @OptionGroup var options: ServerOptions
        @Option(help: "Username: printable ASCII without spaces, 1 to 64 characters.") var username: String
        @Option(help: "Email address.") var email: String?
        @Flag(name: .customLong("email-verified"), help: "The email address is known to belong to the user.") var isEmailVerified = false
        @Option(help: "Full name for display.") var name: String?
        @OptionGroup var password: PasswordOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let now = Date()
            let user = User(username: username, email: email, isEmailVerified: isEmailVerified, name: name,
                            createdAt: now, updatedAt: now, passwordChangedAt: now)
            // Refuse a bad record before asking for a password.
            if let problem = user.problem { fail(problem, code: 2) }
            let (store, configuration) = Users.store(options)
            if await Users.run({ try await store.user(username: username) }) != nil { fail(UserStoreError.alreadyExists(username).description) }
            let hash = Users.hash(PasswordInput.newPassword(fromStandardInput: password.fromStandardInput), configuration)
            await Users.run { try await store.create(user, passwordHash: hash) }
            let stored = await Users.run { try await store.user(id: user.id) } ?? user
            await store.pool.close()
            Users.print(stored, json: json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")
        @OptionGroup var options: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (store, _) = Users.store(options)
            let users = await Users.run { try await store.list() }
            await store.pool.close()
            if json {
                Swift.print(ClientDocument.json(users.map(UserDocument.object)))
                return
            }
            Swift.print("USERNAME                         SUB                                  EMAIL                            STATE")
            for user in users {
                Swift.print([user.username.padding(toLength: 32, withPad: " ", startingAt: 0),
                              user.subject.padding(toLength: 36, withPad: " ", startingAt: 0),
                              (user.email ?? "-").padding(toLength: 32, withPad: " ", startingAt: 0),
                              user.isDisabled ? "disabled" : "enabled"].joined(separator: " "))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user (never the password hash).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Username, whatever its case.") var username: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (store, _) = Users.store(options)
            let user = await Users.existing(username, in: store)
            await store.pool.close()
            Users.print(user, json: json)
        }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Give a user a new password.",
            discussion: "Example: printf '%s\\n' \"$PASSWORD\" | tessera users set-password alice --password-stdin")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Username, whatever its case.") var username: String
        @OptionGroup var password: PasswordOptions

        func run() async throws {
            let (store, configuration) = Users.store(options)
            let user = await Users.existing(username, in: store)
            let hash = Users.hash(PasswordInput.newPassword(fromStandardInput: password.fromStandardInput), configuration)
            await Users.run { try await store.setPassword(id: user.id, hash: hash) }
            await store.pool.close()
            Swift.print("password changed for \(user.username)")
        }
    }

    /// Runs one change on an existing user and prints what was done.
    static func change(_ options: ServerOptions, _ username: String, _ done: String,
                       _ operation: @Sendable (PostgresUserStore, UUID) async throws -> Void) async {
        let (store, _) = Users.store(options)
        let user = await existing(username, in: store)
        await run { try await operation(store, user.id) }
        await store.pool.close()
        Swift.print("\(done) \(user.username)")
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a user from signing in.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Username, whatever its case.") var username: String

        func run() async throws {
            await Users.change(options, username, "disabled") { try await $0.setDisabled(id: $1, true) }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled user sign in again.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Username, whatever its case.") var username: String

        func run() async throws {
            await Users.change(options, username, "enabled") { try await $0.setDisabled(id: $1, false) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "Username, whatever its case.") var username: String

        func run() async throws {
            await Users.change(options, username, "deleted") { try await $0.delete(id: $1) }
        }
    }
}

/// A user as JSON, with OIDC Core §5.1 claim names where they exist.
enum UserDocument {
    static func object(_ user: User) -> [String: Any] {
        [
            "sub": user.subject,
            "username": user.username,
            "email": user.email ?? NSNull(),
            "email_verified": user.isEmailVerified,
            "name": user.name ?? NSNull(),
            "disabled": user.isDisabled,
            "created_at": ClientDocument.time(user.createdAt),
            "updated_at": ClientDocument.time(user.updatedAt),
            "password_changed_at": ClientDocument.time(user.passwordChangedAt),
        ]
    }
}
