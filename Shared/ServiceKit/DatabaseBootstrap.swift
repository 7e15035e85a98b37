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
        try await withConnection(settings.with(database: "postgres"), logger: logger) { connection in
            do {
                let name = "\"" + settings.database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
                logger.notice("created the database", metadata: ["database": "\(settings.database)"])
            } catch let error as PSQLError where ["42P04", "23505"].contains(error.serverInfo?[.sqlState]) {
                // Another instance created it at the same moment.
            }
        }
    }

    /// Gives a service a role of its own that owns its database and nothing else (`bus databases`,
    /// run once by an administrator: the `make run` runner, compose's `database-setup`, the template's
    /// set-up task). Run again, it sets the password anew and hands over what an earlier start as the
    /// administrator left in the database's `public` schema. Nobody else may connect to the database
    /// (its `CONNECT` is revoked from `PUBLIC`), so one service's role cannot read another's tables —
    /// identity's signing key among them.
    ///
    /// `admin` needs `CREATEDB` and `CREATEROLE` (RDS's master user has both; `scripts/postgres.sh`
    /// gives them to `swn`). Role and database names and the password are bound parameters of
    /// `format(%I, %L)`: the server quotes them, and only that text is run.
    package static func provision(
        database: String, role: String, password: String, admin settings: DatabaseSettings, logger: Logger
    ) async throws {
        guard role != settings.username else {
            throw SettingsError(key: "DATABASE_ADMIN_URL", value: role, expected: "an administrator other than the service's own role")
        }
        try await withConnection(settings, logger: logger) { admin in
            let roleExists = try await exists(admin, "SELECT 1 FROM pg_roles WHERE rolname = \(role)", logger: logger)
            try await run(admin, roleExists
                ? "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', \(role), \(password))"
                : "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', \(role), \(password))", logger: logger)
            // Handing a database to a role takes membership in it (PostgreSQL 16 and RDS ask for it).
            try await run(admin, "SELECT format('GRANT %I TO CURRENT_USER', \(role)) WHERE NOT pg_has_role(CURRENT_USER, \(role), 'MEMBER')", logger: logger)
            let databaseExists = try await exists(admin, "SELECT 1 FROM pg_database WHERE datname = \(database)", logger: logger)
            try await run(admin, databaseExists
                ? "SELECT format('ALTER DATABASE %I OWNER TO %I', \(database), \(role))"
                : "SELECT format('CREATE DATABASE %I OWNER %I', \(database), \(role))", logger: logger)
            try await run(admin, "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', \(database))", logger: logger)
        }
        // Inside the database: the schema, and the tables and sequences an earlier version created as
        // the administrator (sequences of a table's columns follow their table).
        try await withConnection(settings.with(database: database), logger: logger) { inside in
            try await run(inside, "SELECT format('ALTER SCHEMA public OWNER TO %I', \(role))", logger: logger)
            try await run(inside, """
                SELECT format('ALTER %s public.%I OWNER TO %I',
                              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                              c.relname, \(role))
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                  AND pg_get_userbyid(c.relowner) <> \(role)
                  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
                """, logger: logger)
        }
        logger.notice("database provisioned", metadata: ["database": "\(database)", "role": "\(role)"])
    }

    private static func exists(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws -> Bool {
        let rows: PostgresRowSequence = try await connection.query(query, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Runs each statement the query returns (text the server built with `format`).
    private static func run(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws {
        let rows: PostgresRowSequence = try await connection.query(query, logger: logger)
        var statements: [String] = []
        for try await statement in rows.decode(String.self) { statements.append(statement) }
        for statement in statements {
            _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
    }

    /// Runs `body` on a connection of its own, closed afterwards whatever happens.
    private static func withConnection(_ settings: DatabaseSettings, logger: Logger, _ body: (PostgresConnection) async throws -> Void) async throws {
        let connection = try await connect(settings, logger: logger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    package static func connect(_ settings: DatabaseSettings, logger: Logger) async throws -> PostgresConnection {
        var configuration = settings.connectionConfiguration
        configuration.options.connectTimeout = .seconds(5)
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }
}
