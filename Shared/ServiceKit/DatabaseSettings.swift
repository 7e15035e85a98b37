import Foundation
import PostgresNIO

/// Connection settings parsed from a `postgres://user:password@host:port/database` URL.
package struct DatabaseSettings: Sendable {
    package var host: String
    package var port: Int
    package var username: String
    package var password: String?
    package var database: String
    /// The pool's size. All of them are opened at start and kept (see `clientConfiguration`).
    package var maximumConnections: Int = 10
    /// Connections kept open even when idle; nil: all of them (the default, see `clientConfiguration`).
    /// Tests that run dozens of services side by side set 0.
    package var minimumConnections: Int?

    package init(host: String, port: Int, username: String, password: String?, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    package init(url: String) throws {
        guard let components = URLComponents(string: url),
              components.scheme == "postgres" || components.scheme == "postgresql",
              let host = components.host, !host.isEmpty
        else { throw SettingsError(key: "DATABASE_URL", value: url, expected: "a postgres://user:password@host:port/database URL") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        self.init(
            host: host,
            port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password,
            database: database.isEmpty ? (components.user ?? "postgres") : database
        )
    }

    /// Reads `key` (a URL), falling back to the given local default.
    package init(settings: Settings, key: String = "DATABASE_URL", default defaultURL: String) throws {
        try self.init(url: settings.string(key, default: defaultURL))
        // The service's own pool, and a smaller one for the local bus (BUS_DATABASE_URL).
        let prefix = key == "DATABASE_URL" ? "" : "BUS_"
        self.maximumConnections = try settings.int(prefix + "DATABASE_MAX_CONNECTIONS", default: key == "DATABASE_URL" ? 10 : 6)
        self.minimumConnections = try settings.optionalString(prefix + "DATABASE_MIN_CONNECTIONS").map { _ in
            try settings.int(prefix + "DATABASE_MIN_CONNECTIONS", default: 0)
        }
        // A password from a secret store (ECS injects it) wins over one in the URL.
        if key == "DATABASE_URL", let password = settings.optionalString("DATABASE_PASSWORD") { self.password = password }
    }

    package var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable
        )
        configuration.options.maximumConnections = maximumConnections
        // A fixed pool: every connection is a "minimum" connection, so returning one to the pool
        // schedules no idle-timeout timer, and without keep-alive pings no keep-alive timer either.
        // PostgresNIO runs each such timer as a task sleeping in `Task.sleep` and cancels it when the
        // connection is leased again; on Linux a cancelled sleep keeps its memory until its original
        // deadline (swiftlang/swift#60441), so a timer per query grew the heap by ~1 KB per request
        // for up to a minute. Idle connections are not pinged: Postgres does not drop them, and a
        // broken one fails its next query, which the callers retry (queues) or answer 503 (HTTP).
        configuration.options.minimumConnections = min(minimumConnections ?? maximumConnections, maximumConnections)
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The same server, another database (tests create throw-away databases this way).
    package func with(database: String) -> DatabaseSettings {
        var copy = self
        copy.database = database
        return copy
    }
}
