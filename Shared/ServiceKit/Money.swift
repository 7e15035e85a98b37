import Foundation

/// Prices are `Decimal` in Swift and `NUMERIC(12,2)` in Postgres; never floating point.
package enum Money {
    /// The largest price `NUMERIC(12,2)` holds.
    package static let maximum = Decimal(string: "9999999999.99")!

    /// Rejects negative prices, prices above `maximum`, and more than two decimal places.
    package static func validate(_ amount: Decimal, field: String) throws {
        guard amount.isFinite else { throw Problem.unprocessable("\(field) must be a number", field: field) }
        guard amount >= 0 else { throw Problem.unprocessable("\(field) must not be negative", field: field) }
        guard amount <= maximum else { throw Problem.unprocessable("\(field) must be at most \(maximum)", field: field) }
        guard amount.rounded(2) == amount else {
            throw Problem.unprocessable("\(field) must have at most two decimal places", field: field)
        }
    }

    /// An amount the database returned as text (`price::text`). A value that does not read as a
    /// number is a defect to report, never a price of 0.
    package static func parse(_ text: String, column: String) throws -> Decimal {
        guard let amount = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), amount.isFinite else {
            throw UnreadableValue(column: column, value: text)
        }
        return amount
    }
}

/// A stored value that cannot be read back: a bug or a corrupted row, never a client's fault (500).
package struct UnreadableValue: Error, CustomStringConvertible {
    package let column: String
    package let value: String

    package init(column: String, value: String) {
        self.column = column
        self.value = value
    }

    package var description: String { "unreadable value in \(column): '\(value)'" }
}

extension Decimal {
    /// Rounded half-up to `scale` decimal places.
    package func rounded(_ scale: Int) -> Decimal {
        var input = self
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, .plain)
        return result
    }
}
