import ArgumentParser
import AuthServer
import Foundation
import Postgres
import PostgresStorage

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke issued tokens.",
        subcommands: [Revoke.self]
    )

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log a user out everywhere: revoke every refresh-token family of the user (optionally for one client).",
            discussion: """
                Each family's access tokens are revoked with it. The user's browser sessions end too \
                unless --client is given.
                """
        )

        @OptionGroup var options: ServerOptions
        @Option(help: "The user, by username (whatever its case).") var user: String
        @Option(help: "Only this client's families.") var client: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let configuration = loadConfiguration(options)
            let pool = PostgresPool(configuration: databaseConfiguration(configuration), size: 1)
            let users = PostgresUserStore(pool: pool)
            let found = await Users.existing(user, in: users)
            let families = await Users.run {
                try await PostgresRefreshTokenStore(pool: pool).revokeFamilies(userID: found.id, clientID: client, reason: "revoked by an operator")
            }
            let sessions = client == nil ? await Users.run { try await PostgresLoginStore(pool: pool).endSessions(userID: found.id) } : 0
            await pool.close()
            if json {
                print(ClientDocument.json(["sub": found.subject, "families_revoked": families, "sessions_ended": sessions]))
            } else {
                print("revoked \(families) refresh-token famil\(families == 1 ? "y" : "ies") of \(found.username)"
                      + (client.map { " for client \($0)" } ?? "") + (client == nil ? "; ended \(sessions) session\(sessions == 1 ? "" : "s")" : ""))
            }
        }
    }
}
