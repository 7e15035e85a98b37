import Logging
import PostgresNIO

/// One schema change. Each statement runs on its own (PostgreSQL's extended protocol takes one at a time),
/// all of them in one transaction.
package struct Migration: Sendable {
    package let name: String
    package let statements: [PostgresQuery]

    package init(_ name: String, _ statements: [PostgresQuery]) {
        self.name = name
        self.statements = statements
    }
}

/// Applies migrations in order, recording each in `schema_migrations`.
///
/// A session-level advisory lock serialises instances that start at the same time, so each migration
/// runs exactly once even when two replicas boot together.
package struct Migrator: Sendable {
    package let migrations: [Migration]
    /// Distinguishes the lock of one schema from another sharing the same server.
    package let lockKey: Int64

    package init(_ migrations: [Migration], lockKey: Int64 = 0x5357_4E4D) {
        self.migrations = migrations
        self.lockKey = lockKey
    }

    package func migrate(client: DatabasePool, logger: Logger) async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                try await apply(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                throw error
            }
        }
    }

    private func apply(on connection: DatabaseConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                name TEXT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var applied = Set<String>()
        for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
            applied.insert(name)
        }
        for migration in migrations where !applied.contains(migration.name) {
            try await connection.withTransaction(logger: logger) { transaction in
                for statement in migration.statements {
                    try await transaction.query(statement, logger: logger)
                }
                try await transaction.query("INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
            logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
        }
    }
}
