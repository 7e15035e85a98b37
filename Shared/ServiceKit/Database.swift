import Logging
import PostgresNIO

extension ReadinessCheck {
    /// Passes when the database answers a trivial query.
    package static func postgres(_ client: DatabasePool, name: String = "database", logger: Logger) -> ReadinessCheck {
        ReadinessCheck(name) {
            try await client.query("SELECT 1", logger: logger)
        }
    }
}

/// Runs `body` with a client that lives only for that call (set-up work before a service is built).
package func withTemporaryPostgresClient<T: Sendable>(
    _ settings: DatabaseSettings, logger: Logger, _ body: @escaping @Sendable (DatabasePool) async throws -> T
) async throws -> T {
    var settings = settings
    settings.maximumConnections = min(settings.maximumConnections, 2)
    settings.minimumConnections = 0
    let client = DatabasePool(settings: settings, logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await client.run(); return nil }
        defer { group.cancelAll() }
        return try await withTimeout(.seconds(30)) { try await retryingWhileDatabaseUnavailable { try await body(client) } }
    }
}

/// A statement put together from parts, every value bound as a parameter (`$n`, never spliced into
/// the text): for one statement made of shared parts, such as the outbox's insert inside a
/// repository's write, so a transaction takes one round trip where it would take several.
package struct SQLStatement: Sendable {
    package private(set) var sql = ""
    package private(set) var bindings = PostgresBindings()
    /// How many elements the statement's `WITH` clause has.
    package private(set) var withElements = 0

    package init() {}

    package mutating func append(_ text: String) {
        sql += text
    }

    /// Adds `element` (`name AS (…)`) to the statement's `WITH` clause, which the first one opens.
    /// Everything the statement says after its `WITH` clause goes in with `append`.
    package mutating func with(_ element: String) {
        sql += withElements == 0 ? "WITH " : ", "
        sql += element
        withElements += 1
    }

    /// Binds `value` and returns its placeholder.
    package mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws -> String {
        try bindings.append(value)
        return "$\(bindings.count)"
    }

    /// Binds `value` (NULL when nil) and returns its placeholder.
    package mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value?) throws -> String {
        try bindings.append(value)
        return "$\(bindings.count)"
    }

    /// Binds what `body` appends, in order; returns the first one's placeholder number.
    package mutating func bind(_ body: (inout PostgresBindings) throws -> Void) rethrows -> Int {
        let first = bindings.count + 1
        try body(&bindings)
        return first
    }

    package var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

/// Transaction-scoped advisory locks on text keys, taken in the order given (prepared once per
/// connection): `try await connection.lock(["basket:" + user])`.
package struct AdvisoryLocks: PostgresPreparedStatement {
    package static let name = "advisory_locks_v1"
    package static let sql = "SELECT count(pg_advisory_xact_lock(hashtextextended(k.key, 0)))::int FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n)"
    package static let bindingDataTypes: [PostgresDataType] = [.textArray]
    package typealias Row = Int
    let keys: [String]

    package init(keys: [String]) { self.keys = keys }

    package func makeBindings() throws -> PostgresBindings { try PostgresBindings(binding: keys) }
    package func decodeRow(_ row: PostgresRow) throws -> Int { try row.decode(Int.self) }

    /// The two keys, as SQL, of an advisory lock on the row whose `bigint` id is `column`: `lockClass`
    /// (one per kind of row, apart from these one-key locks) and the id folded into an `int`.
    package static func rowKey(_ lockClass: Int, _ column: String) -> String { "\(lockClass), (\(column) % 2147483647)::int" }
}

extension DatabaseConnection {
    /// Takes transaction-scoped advisory locks on `keys`, in order (one prepared round trip).
    package func lock(_ keys: [String], logger: Logger) async throws {
        _ = try await execute(AdvisoryLocks(keys: keys), logger: logger)
    }
}

extension PostgresBindings {
    /// The bindings of a prepared statement, in order: `try PostgresBindings(binding: id, limit)`.
    package init<each Value: PostgresThrowingDynamicTypeEncodable>(binding value: repeat each Value) throws {
        self.init()
        repeat try append(each value)
    }
}

/// Runs `body` again while it fails because the database is away, with a capped backoff (start-up
/// work, which is idempotent: the database may be restarting, or was created a moment ago). The
/// caller bounds the whole (`withTimeout`); other errors end it at once.
package func retryingWhileDatabaseUnavailable<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> sending T
) async throws -> sending T {
    var failures = 0
    while true {
        do {
            return try await body()
        } catch where DatabaseUnavailable.isUnavailability(error) && !Task.isCancelled {
            failures += 1
            try await Task.sleep(for: min(.milliseconds(50) * (1 << min(failures, 10)), .seconds(1)))
        }
    }
}
