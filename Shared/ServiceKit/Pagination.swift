import Foundation
import Hummingbird

/// One page of a list: its items and, when more follow, the cursor of the next page.
package struct Page<Item: Codable & Sendable>: Codable, Sendable {
    package var items: [Item]
    package var nextCursor: String?

    package init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// A list's position as the `cursor` query parameter carries it: plain text in a form every string
/// matching `pattern` (and no longer than `maximumLength`) decodes to a position — so an API fuzzer's
/// "valid" cursor is valid, and anything else is a 400. The OpenAPI file declares the same pattern
/// for each list (a test compares).
package protocol PageCursor: Sendable {
    /// The position `text` names; nil only for text that does not match `pattern`.
    init?(cursor text: Substring)
    var cursor: String { get }
    /// An ECMA/PCRE regular expression for the whole value (the empty first-page value matches too).
    static var pattern: String { get }
    static var maximumLength: Int { get }
}

/// The `limit` and `cursor` query parameters of a paginated list, read the same way on every
/// route: `limit` 1...maximum (400 naming it otherwise); `cursor` the position after the last item of
/// the previous page (`PageCursor`; 400 when it is not in the cursor's form; empty: the first page).
package struct PageRequest<Cursor: PageCursor>: Sendable {
    package var limit: Int
    package var cursor: Cursor?

    package init(limit: Int, cursor: Cursor? = nil) {
        self.limit = limit
        self.cursor = cursor
    }

    package init(_ request: Request, defaultLimit: Int, maximumLimit: Int) throws {
        let query = request.uri.queryParameters
        limit = try Self.limit(query["limit"].map(String.init), default: defaultLimit, maximum: maximumLimit)
        cursor = nil
        if let raw = query["cursor"], !raw.isEmpty {
            guard raw.count <= Cursor.maximumLength, let decoded = Cursor(cursor: Substring(raw)) else {
                throw Problem.badRequest("cursor is not in the form this list issues", field: "cursor")
            }
            cursor = decoded
        }
    }

    /// `limit` as a query parameter: absent → `defaultValue`, else an integer 1...maximum.
    package static func limit(_ raw: String?, default defaultValue: Int, maximum: Int) throws -> Int {
        guard let raw else { return defaultValue }
        guard let value = Int(raw), (1...maximum).contains(value) else {
            throw Problem.badRequest("limit must be an integer from 1 to \(maximum)", field: "limit")
        }
        return value
    }

    /// How many rows to fetch: one more than the page, to tell whether another follows.
    package var fetchLimit: Int { limit + 1 }

    /// The page of `fetched` (up to `fetchLimit` rows), with the next cursor taken from its last item.
    package func page<Item: Codable & Sendable>(_ fetched: [Item], cursor: (Item) -> Cursor) -> Page<Item> {
        guard fetched.count > limit else { return Page(items: fetched, nextCursor: nil) }
        let items = Array(fetched.prefix(limit))
        return Page(items: items, nextCursor: items.last.map { cursor($0).cursor })
    }
}

/// The pieces cursors are made of, each with a pattern every match of which decodes.
package enum CursorPart {
    /// Unpadded base64url of any bytes: groups of four, then two or three (one alone is no byte).
    package static let textPattern = "(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?"
    /// A UUID as 32 hex digits.
    package static let uuidPattern = "[0-9A-Fa-f]{32}"

    /// Text as unpadded base64url of its UTF-8.
    package static func encode(text: String) -> String { Data(text.utf8).base64URLEncoded }

    /// Text back from `textPattern`: bytes that are not UTF-8, and NUL (which Postgres text cannot
    /// hold), become U+FFFD, so any match names some position. Nil when `raw` does not match.
    package static func decodeText(_ raw: Substring) -> String? {
        guard raw.utf8.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in raw.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
    }

    package static func encode(uuid: UUID) -> String {
        uuid.uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// A UUID from exactly 32 hex digits.
    package static func decodeUUID(_ raw: Substring) -> UUID? {
        guard raw.utf8.count == 32, raw.utf8.allSatisfy({ $0.isHexDigit }) else { return nil }
        let hex = Array(raw)
        let groups = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }
        return UUID(uuidString: groups.joined(separator: "-"))
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

/// A position in a list ordered by one text (the basket list, by user name): that text.
package struct NameCursor: PageCursor, Equatable {
    package var name: String

    package init(name: String) { self.name = name }

    package init?(cursor text: Substring) {
        guard let name = CursorPart.decodeText(text) else { return nil }
        self.name = name
    }

    package var cursor: String { CursorPart.encode(text: name) }
    package static var pattern: String { "^\(CursorPart.textPattern)$" }
    /// 128 user-name scalars of up to 4 bytes each, in base64url.
    package static var maximumLength: Int { 684 }
}

/// A position in a newest-first list ordered by a time and an id (orders, shipments): after the item
/// with this time and id. The time travels in microseconds, Postgres's precision, so no item is
/// skipped or repeated. As a cursor: the microseconds since 1970 (at most 16 digits: years 1653 to
/// 2286, which Postgres and `Date` both hold), a dot, and the id's 32 hex digits.
package struct TimeCursor: PageCursor, Equatable {
    package var microseconds: Int64
    package var id: UUID

    package init(date: Date, id: UUID) {
        self.microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        self.id = id
    }

    package init?(cursor text: Substring) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let digits = parts.first,
              digits.utf8.count <= (digits.hasPrefix("-") ? 17 : 16), digits.utf8.dropFirst(digits.hasPrefix("-") ? 1 : 0).allSatisfy({ (48...57).contains($0) }),
              let microseconds = Int64(digits), let id = CursorPart.decodeUUID(parts[1])
        else { return nil }
        self.microseconds = microseconds
        self.id = id
    }

    package var cursor: String { "\(microseconds).\(CursorPart.encode(uuid: id))" }
    package static var pattern: String { "^(?:-?[0-9]{1,16}\\.\(CursorPart.uuidPattern))?$" }
    package static var maximumLength: Int { 17 + 1 + 32 }

    package var date: Date { Date(timeIntervalSince1970: Double(microseconds) / 1_000_000) }
}
