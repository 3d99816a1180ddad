import Postgres
import Testing
@testable import AuthServer

@Suite struct ConfigurationDatabaseTests {
    @Test("Defaults: a pool of 8, 5 s to wait for it, 5 s per statement, 2 s per lock wait, 3 s to connect")
    func defaults() throws {
        let settings = try Configuration.load(environment: [:]).database
        #expect(settings.poolSize == 8)
        #expect(settings.poolWait == .seconds(5))
        #expect(settings.statementTimeout == .seconds(5))
        #expect(settings.lockTimeout == .seconds(2))
        #expect(settings.connectTimeout == .seconds(3))
    }

    @Test("Each bound is read from its variable, in seconds or milliseconds, and reaches libpq's configuration")
    func values() throws {
        let configuration = try Configuration.load(environment: [
            "TESSERA_DB_POOL_SIZE": "20", "TESSERA_DB_POOL_WAIT": "1500ms", "TESSERA_DB_STATEMENT_TIMEOUT": "10s",
            "TESSERA_DB_LOCK_TIMEOUT": "250ms", "TESSERA_DB_CONNECT_TIMEOUT": "4s",
        ])
        #expect(configuration.database.poolSize == 20)
        #expect(configuration.database.poolWait == .milliseconds(1_500))
        let postgres = try configuration.postgresConfiguration()
        #expect(postgres.statementTimeout == .seconds(10))
        #expect(postgres.lockTimeout == .milliseconds(250))
        #expect(postgres.connectTimeoutSeconds == 4)
    }

    @Test("Each bad value fails naming its setting", arguments: [
        ("TESSERA_DB_POOL_SIZE", "0"), ("TESSERA_DB_POOL_SIZE", "many"), ("TESSERA_DB_POOL_SIZE", "1001"),
        ("TESSERA_DB_POOL_WAIT", "0s"), ("TESSERA_DB_POOL_WAIT", "soon"), ("TESSERA_DB_STATEMENT_TIMEOUT", "0"),
        ("TESSERA_DB_STATEMENT_TIMEOUT", "2h"), ("TESSERA_DB_LOCK_TIMEOUT", "50ms"), ("TESSERA_DB_LOCK_TIMEOUT", "1.5s"),
        ("TESSERA_DB_CONNECT_TIMEOUT", "1s"), ("TESSERA_DB_POOLER", "session"), ("TESSERA_LISTEN_DATABASE_URL", "mysql://db"),
    ])
    func badValues(variable: String, value: String) {
        #expect {
            try Configuration.load(environment: [variable: value])
        } throws: { error in
            (error as? ConfigurationError)?.setting == variable
        }
    }

    @Test("Behind a transaction pooler the pool sends no session state, and LISTEN and migrations use the direct URL")
    func pooler() throws {
        let configuration = try Configuration.load(environment: [
            "TESSERA_DATABASE_URL": "postgresql://127.0.0.1:6432/tessera", "TESSERA_DB_POOLER": "transaction",
            "TESSERA_LISTEN_DATABASE_URL": "postgresql://db1:5432,db2:5432/tessera?target_session_attrs=read-write",
        ])
        let pooled = try configuration.postgresConfiguration()
        #expect(pooled.isBehindTransactionPooler)
        let direct = try configuration.directPostgresConfiguration(default: pooled)
        #expect(!direct.isBehindTransactionPooler)
        #expect(direct.statementTimeout == pooled.statementTimeout)
        // Without a pooler the listener shares the main URL.
        let plain = try Configuration.load(environment: ["TESSERA_DATABASE_URL": "postgresql://h1,h2,h3/tessera?target_session_attrs=read-write"])
        let main = try plain.postgresConfiguration()
        #expect(!main.isBehindTransactionPooler)
        #expect(plain.database.listenURL == nil)
    }

    @Test("A transaction pooler without a direct URL for LISTEN is refused, naming TESSERA_LISTEN_DATABASE_URL")
    func poolerNeedsDirectURL() {
        #expect {
            try Configuration.load(environment: ["TESSERA_DB_POOLER": "transaction"])
        } throws: { error in
            (error as? ConfigurationError)?.setting == "TESSERA_LISTEN_DATABASE_URL"
        }
    }
}
