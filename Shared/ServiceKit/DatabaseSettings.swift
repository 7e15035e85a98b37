import Foundation
import PostgresNIO

/// Connection settings parsed from a `postgres://user:password@host:port/database` URL.
package struct DatabaseSettings: Sendable {
    package var host: String
    package var port: Int
    package var username: String
    package var password: String?
    package var database: String
    /// The pool's size (`DatabasePool`): connections are opened on demand and kept.
    package var maximumConnections: Int = 10
    /// Connections opened at start; nil: all of them (the default).
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

    /// How each connection of the pool (`DatabasePool`) connects: no TLS on the local network, and an
    /// attempt that gets no answer gives up after 3 s (the lease that made it answers 503).
    package var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable
        )
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }

    /// The same server, another database (tests create throw-away databases this way).
    package func with(database: String) -> DatabaseSettings {
        var copy = self
        copy.database = database
        return copy
    }
}
