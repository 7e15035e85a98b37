import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// A throw-away database on the test server, so each test starts empty and tests run in parallel.
///
/// The server comes from `SWN_TEST_DATABASE_URL` (`make test` points it at the private cluster).
package struct TestDatabase: Sendable {
    package let settings: DatabaseSettings

    package static var server: DatabaseSettings {
        get throws {
            try DatabaseSettings(url: ProcessInfo.processInfo.environment["SWN_TEST_DATABASE_URL"]
                ?? "postgres://swn:swn@127.0.0.1:55432/postgres")
        }
    }

    package static let logger = Logger(label: "test")

    /// What every service process started by a test gets: pools that open connections on demand
    /// (the tests run dozens of services side by side; the benchmarks and `make chaos` run the defaults).
    package static let processEnvironment = ["DATABASE_MIN_CONNECTIONS": "0", "BUS_DATABASE_MIN_CONNECTIONS": "0"]

    /// Creates a fresh database, runs `body` with it, and drops it afterwards.
    package static func with<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let name = "test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        let server = try server
        try await admin(server) { connection in
            try await connection.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        }
        // Pools are fixed and opened at start by default (DatabaseSettings); tests run dozens of
        // services side by side, so theirs open connections on demand.
        var settings = server.with(database: name)
        settings.maximumConnections = 20
        settings.minimumConnections = 0
        let database = TestDatabase(settings: settings)
        do {
            let result = try await body(database)
            try await drop(name, server: server)
            return result
        } catch {
            try? await drop(name, server: server)
            throw error
        }
    }

    /// Drops the database; retried a few times, since an autovacuum worker of another role may be in it
    /// (FORCE ends it only with `pg_signal_backend`, which `scripts/postgres.sh` grants).
    private static func drop(_ name: String, server: DatabaseSettings) async throws {
        for attempt in 1...10 {
            do {
                try await admin(server) { connection in
                    try await connection.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
                }
                return
            } catch where attempt < 10 {
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    private static func admin(_ server: DatabaseSettings, _ body: (PostgresConnection) async throws -> Void) async throws {
        let configuration = PostgresConnection.Configuration(
            host: server.host, port: server.port, username: server.username, password: server.password,
            database: server.database, tls: .disable
        )
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            do {
                try await body(connection)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch let error as PSQLError {
            // PSQLError's description hides the server's message; a failing test should show it.
            throw TestDatabaseError(description: String(reflecting: error))
        }
    }

    /// Runs `body` with a started client on this database.
    package func withClient<T: Sendable>(_ body: @Sendable (DatabasePool) async throws -> T) async throws -> T {
        let client = DatabasePool(settings: settings, logger: Self.logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            let result = try await body(client)
            group.cancelAll()
            return result
        }
    }

    /// A URL for processes started by end-to-end tests.
    package var url: String {
        "postgres://\(settings.username):\(settings.password ?? "")@\(settings.host):\(settings.port)/\(settings.database)"
    }
}

/// A set-up failure of the test database server, with the server's own message.
package struct TestDatabaseError: Error, CustomStringConvertible {
    package var description: String
}

extension DatabasePool {
    /// The columns `table`'s indexes hold (keys, and those a partial index's predicate names), how many
    /// indexes it has, and its foreign keys: what decides whether an update can be HOT (no new index
    /// entries, the WAL record only the changed bytes), how many index entries an insert writes, and what
    /// an insert share-locks.
    package func indexedColumns(of table: String) async throws -> (columns: Set<String>, indexes: Int, foreignKeys: Int) {
        var columns: Set<String> = []
        let keys = try await query(
            """
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = \(table)::regclass
            UNION
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
            WHERE i.indrelid = \(table)::regclass AND i.indpred IS NOT NULL
              AND pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M')
            """,
            logger: TestDatabase.logger
        )
        for try await name in keys.decode(String.self) { columns.insert(name) }
        let counts = try await query(
            """
            SELECT (SELECT count(*) FROM pg_index WHERE indrelid = \(table)::regclass)::int,
                   (SELECT count(*) FROM pg_constraint WHERE conrelid = \(table)::regclass AND contype = 'f')::int
            """,
            logger: TestDatabase.logger
        )
        var (indexes, foreignKeys) = (0, 0)
        for try await (i, f) in counts.decode((Int, Int).self) { (indexes, foreignKeys) = (i, f) }
        return (columns, indexes, foreignKeys)
    }
}
