import Foundation
import NIOSSL
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
    /// How connections are protected (`DATABASE_TLS`, or libpq's `sslmode`/`sslrootcert` in the URL).
    package private(set) var tlsMode: DatabaseTLSMode = .disable
    /// More settings for every connection of the pool (Postgres's startup parameters): the local bus's
    /// pool turns `synchronous_commit` off (see `LocalBus`).
    package var sessionParameters: [(String, String)] = []
    /// The TLS set-up for `tlsMode`, made once (the CA bundle is read when the mode is set).
    private var tls: PostgresConnection.Configuration.TLS = .disable

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
        // libpq's spelling works too: ?sslmode=verify-full&sslrootcert=/path/ca.pem
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { _, last in last }
        if let mode = query["sslmode"] {
            try useTLS(DatabaseTLSMode(mode, caFile: query["sslrootcert"], key: "DATABASE_URL"), key: "DATABASE_URL")
        }
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
        if let mode = settings.optionalString(prefix + "DATABASE_TLS") {
            let caFile = settings.optionalString(prefix + "DATABASE_TLS_CA_FILE")
            try useTLS(DatabaseTLSMode(mode, caFile: caFile, key: prefix + "DATABASE_TLS"), key: prefix + "DATABASE_TLS_CA_FILE")
        }
    }

    /// Sets how connections are protected; a CA bundle that cannot be read is a settings error naming `key`.
    package mutating func useTLS(_ mode: DatabaseTLSMode, key: String = "DATABASE_TLS_CA_FILE") throws {
        do {
            tls = try mode.configuration()
        } catch {
            throw SettingsError(key: key, value: mode.caFile ?? "", expected: "a readable PEM file of CA certificates (\(error))")
        }
        tlsMode = mode
    }

    /// How each connection of the pool (`DatabasePool`) connects: TLS as `tlsMode` says, and an
    /// attempt that gets no answer gives up after 3 s (the lease that made it answers 503).
    package var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(3)
        // Prepared statements (the hot ones: `PostgresPreparedStatement`) are planned once per
        // connection: theirs are primary-key and `= ANY` lookups, whose generic plan is the custom one,
        // and re-planning them on every call cost more than running them.
        configuration.options.additionalStartupParameters = [("plan_cache_mode", "force_generic_plan")] + sessionParameters
        return configuration
    }

    /// The same server, another database (tests create throw-away databases this way).
    package func with(database: String) -> DatabaseSettings {
        var copy = self
        copy.database = database
        return copy
    }
}

/// How a connection to Postgres is protected, as libpq's `sslmode` names it (the modes that make sense
/// for a service: no `allow`/`prefer`, which fall back to plain text an attacker can force).
package enum DatabaseTLSMode: Sendable, Equatable {
    /// Plain TCP (a private network, the local cluster, compose).
    case disable
    /// Encrypted, the server's certificate not checked (stops eavesdroppers, not impostors).
    case require
    /// Encrypted, the certificate chained to `caFile` (the system's roots when nil) and naming the host.
    case verifyFull(caFile: String?)

    package init(_ name: String, caFile: String?, key: String) throws {
        switch name {
        case "disable": self = .disable
        case "require": self = .require
        case "verify-full": self = .verifyFull(caFile: caFile.flatMap { $0.isEmpty ? nil : $0 })
        default: throw SettingsError(key: key, value: name, expected: "disable, require or verify-full")
        }
    }

    var caFile: String? {
        if case .verifyFull(let caFile) = self { caFile } else { nil }
    }

    func configuration() throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch self {
        case .disable:
            return .disable
        case .require:
            tls.certificateVerification = .none
        case .verifyFull(let caFile):
            tls.certificateVerification = .fullVerification
            if let caFile {
                // Read here, so a missing or unreadable bundle stops the start rather than every connect.
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
        }
        return .require(try NIOSSLContext(configuration: tls))
    }
}
