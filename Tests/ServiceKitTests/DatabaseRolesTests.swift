import Foundation
import Logging
import PostgresNIO
import ServiceKit
import Testing
import TestSupport

/// One database role per service (`bus databases`), and TLS to Postgres (`DATABASE_TLS`), against the
/// test cluster (`scripts/postgres.sh` gives `swn` CREATEROLE and serves TLS with a private CA).
@Suite struct DatabaseRolesTests {
    static let logger = Logger(label: "test")

    /// The test cluster's CA (`scripts/postgres.sh` copies it beside the cluster).
    static var clusterCA: String {
        ProcessInfo.processInfo.environment["SWN_TEST_DATABASE_CA"]
            ?? repositoryRoot.appendingPathComponent(".data/postgres-ca.crt").path
    }

    /// Runs `body` with a fresh prefix and drops the prefixed databases and roles afterwards.
    static func withPrefix(_ names: [String], _ body: (String) async throws -> Void) async throws {
        let prefix = "t\(UUID().uuidString.lowercased().prefix(8))_"
        do {
            try await body(prefix)
        } catch {
            try? await cleanUp(prefix, names)
            throw error
        }
        try await cleanUp(prefix, names)
    }

    static func cleanUp(_ prefix: String, _ names: [String]) async throws {
        let admin = try await DatabaseBootstrap.connect(try TestDatabase.server, logger: logger)
        for name in names {
            try await admin.query("DROP DATABASE IF EXISTS \(unescaped: "\"\(prefix + name)\"") WITH (FORCE)", logger: logger)
            try await admin.query("DROP ROLE IF EXISTS \(unescaped: "\"\(prefix + name)\"")", logger: logger)
        }
        try await admin.close()
    }

    static func connect(role: String, password: String, database: String) async throws -> PostgresConnection {
        var settings = try TestDatabase.server.with(database: database)
        settings.username = role
        settings.password = password
        return try await DatabaseBootstrap.connect(settings, logger: logger)
    }

    static func sqlState(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState] ?? String(reflecting: error)
        } catch {
            return "\(error)"
        }
    }

    /// Each service's role owns its database and reaches no other: product's cannot connect to
    /// identity's database (where the signing key is), nor read its tables.
    @Test func aServiceRoleReachesOnlyItsOwnDatabase() async throws {
        try await Self.withPrefix(["identity", "product"]) { prefix in
            let admin = try TestDatabase.server
            try await DatabaseBootstrap.provision(database: prefix + "identity", role: prefix + "identity", password: "identity-secret", admin: admin, logger: Self.logger)
            try await DatabaseBootstrap.provision(database: prefix + "product", role: prefix + "product", password: "product-secret", admin: admin, logger: Self.logger)

            let identity = try await Self.connect(role: prefix + "identity", password: "identity-secret", database: prefix + "identity")
            try await identity.query("CREATE TABLE signing_keys (kid text PRIMARY KEY, private_key text NOT NULL)", logger: Self.logger)
            try await identity.query("INSERT INTO signing_keys VALUES ('k1', 'secret')", logger: Self.logger)
            try await identity.close()

            // Product's role: its own database works (it creates its tables there) ...
            let product = try await Self.connect(role: prefix + "product", password: "product-secret", database: prefix + "product")
            try await product.query("CREATE TABLE products (id uuid PRIMARY KEY)", logger: Self.logger)
            // ... identity's refuses it (42501 insufficient_privilege: no CONNECT), and so does the bus's.
            let refused = await Self.sqlState {
                let other = try await Self.connect(role: prefix + "product", password: "product-secret", database: prefix + "identity")
                try? await other.close()
            }
            #expect(refused == "42501")
            // Nor can it make itself more: no role, no database, no membership.
            #expect(await Self.sqlState { try await product.query("CREATE ROLE \(unescaped: prefix)x", logger: Self.logger) } == "42501")
            #expect(await Self.sqlState { try await product.query("CREATE DATABASE \(unescaped: prefix)x", logger: Self.logger) } == "42501")
            try await product.close()
        }
    }

    /// Run again, provisioning sets the new password and hands over what an earlier version created
    /// as the administrator (the upgrade of an existing compose volume).
    @Test func provisioningAgainTakesOverTheAdministratorsTablesAndPassword() async throws {
        try await Self.withPrefix(["ordering"]) { prefix in
            let name = prefix + "ordering"
            let server = try TestDatabase.server
            let admin = try await DatabaseBootstrap.connect(server, logger: Self.logger)
            try await admin.query("CREATE DATABASE \(unescaped: name)", logger: Self.logger)
            try await admin.close()
            let inside = try await DatabaseBootstrap.connect(server.with(database: name), logger: Self.logger)
            try await inside.query("CREATE TABLE orders (n bigserial PRIMARY KEY, total numeric NOT NULL)", logger: Self.logger)
            try await inside.query("CREATE SEQUENCE order_numbers", logger: Self.logger)
            try await inside.close()

            try await DatabaseBootstrap.provision(database: name, role: name, password: "first", admin: server, logger: Self.logger)
            try await DatabaseBootstrap.provision(database: name, role: name, password: "second", admin: server, logger: Self.logger)

            #expect(await Self.sqlState { _ = try await Self.connect(role: name, password: "first", database: name) } == "28P01")
            let role = try await Self.connect(role: name, password: "second", database: name)
            // Its tables and sequences are its own: it can write, migrate and drop them.
            try await role.query("INSERT INTO orders (total) VALUES (1)", logger: Self.logger)
            try await role.query("SELECT nextval('order_numbers')", logger: Self.logger)
            try await role.query("ALTER TABLE orders ADD COLUMN note text", logger: Self.logger)
            let owners = try await role.query("""
                SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> current_user
                """, logger: Self.logger).collect().first?.decode(Int.self)
            #expect(owners == 0)
            try await role.close()
        }
    }

    /// `verify-full`: encrypted, and the server's certificate must chain to the CA and name the host
    /// (by name or by IP address).
    @Test(arguments: ["localhost", "127.0.0.1"])
    func verifyFullConnectsOverTLS(host: String) async throws {
        var settings = try TestDatabase.server
        settings.host = host
        try settings.useTLS(.verifyFull(caFile: Self.clusterCA))
        let connection = try await DatabaseBootstrap.connect(settings, logger: Self.logger)
        let ssl = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: Self.logger)
            .collect().first?.decode(Bool.self)
        try await connection.close()
        #expect(ssl == true)
    }

    /// A server whose certificate does not chain to the trusted roots is refused (the system's roots do
    /// not include the cluster's private CA); `require` still encrypts without checking.
    @Test func verifyFullRefusesAnUntrustedServer() async throws {
        var settings = try TestDatabase.server
        try settings.useTLS(.verifyFull(caFile: nil))
        await #expect(throws: (any Error).self) {
            let connection = try await DatabaseBootstrap.connect(settings, logger: Self.logger)
            try? await connection.close()
        }
        try settings.useTLS(.require)
        let connection = try await DatabaseBootstrap.connect(settings, logger: Self.logger)
        let ssl = try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: Self.logger)
            .collect().first?.decode(Bool.self)
        try await connection.close()
        #expect(ssl == true)
    }

    /// The settings: the mode by name (as libpq spells it, in the URL too), a CA bundle that cannot
    /// be read stops the start naming the variable.
    @Test func tlsSettings() throws {
        let url = "postgres://swn:swn@db.internal:5432/product"
        #expect(try DatabaseSettings(settings: Settings(["DATABASE_URL": url]), default: url).tlsMode == .disable)
        #expect(try DatabaseSettings(settings: Settings(["DATABASE_URL": url, "DATABASE_TLS": "require"]), default: url).tlsMode == .require)
        let full = try DatabaseSettings(settings: Settings(["DATABASE_URL": url, "DATABASE_TLS": "verify-full", "DATABASE_TLS_CA_FILE": Self.clusterCA]), default: url)
        #expect(full.tlsMode == .verifyFull(caFile: Self.clusterCA))
        #expect(try DatabaseSettings(url: url + "?sslmode=verify-full&sslrootcert=\(Self.clusterCA)").tlsMode == .verifyFull(caFile: Self.clusterCA))
        #expect(try DatabaseSettings(settings: Settings(["BUS_DATABASE_URL": url, "BUS_DATABASE_TLS": "require"]), key: "BUS_DATABASE_URL", default: url).tlsMode == .require)
        #expect(throws: SettingsError.self) {
            try DatabaseSettings(settings: Settings(["DATABASE_URL": url, "DATABASE_TLS": "prefer"]), default: url)
        }
        #expect(throws: SettingsError.self) {
            try DatabaseSettings(settings: Settings(["DATABASE_URL": url, "DATABASE_TLS": "verify-full", "DATABASE_TLS_CA_FILE": "/nonexistent/ca.pem"]), default: url)
        }
    }
}
