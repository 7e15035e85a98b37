import Logging
import PostgresNIO

/// Creates a service's database the first time it starts, so that no list of databases has to be
/// kept anywhere else (compose, `scripts/postgres.sh`, the AWS set-up). The configured role needs
/// `CREATEDB` (the postgres image's user, RDS's master user and `postgres.sh`'s `swn` have it);
/// an existing database is left alone.
package enum DatabaseBootstrap {
    package static func createIfMissing(_ settings: DatabaseSettings, logger: Logger) async throws {
        do {
            try await connect(settings, logger: logger).close()
            return
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "3D000" {
            // invalid_catalog_name: the database does not exist yet.
        }
        let connection = try await connect(settings.with(database: "postgres"), logger: logger)
        do {
            let name = "\"" + settings.database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            logger.notice("created the database", metadata: ["database": "\(settings.database)"])
        } catch let error as PSQLError where ["42P04", "23505"].contains(error.serverInfo?[.sqlState]) {
            // Another instance created it at the same moment.
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    static func connect(_ settings: DatabaseSettings, logger: Logger) async throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: .disable
        )
        configuration.options.connectTimeout = .seconds(5)
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }
}
