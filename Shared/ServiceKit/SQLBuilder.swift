import PostgresNIO

/// A statement put together from parts, every value a bound parameter: for a query whose `WHERE`
/// names only the filters given. (A `($1 IS NULL OR column = $1)` switch serves every combination
/// with one text, but its generic plan, which the pool's connections use, cannot drop the switches
/// and scans the table.)
///
///     var sql = SQLBuilder("SELECT id FROM products WHERE true")
///     if let category { sql.append(" AND category = \(sql.bind(category))") }
package struct SQLBuilder: Sendable {
    package private(set) var sql: String
    package private(set) var binds = PostgresBindings()

    package init(_ sql: String = "") {
        self.sql = sql
    }

    /// Appends SQL text written by the program (never a value: those go through `bind`).
    package mutating func append(_ text: String) {
        sql += text
    }

    /// Binds `value` and returns its placeholder (`$n`) to write into the text.
    package mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    package var query: PostgresQuery {
        PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}
