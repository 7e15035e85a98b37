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

/// The `limit` and `cursor` query parameters of a paginated list, read the same way on every
/// route: `limit` 1...maximum (400 naming it otherwise); `cursor` opaque to clients — base64url of
/// the JSON of `Cursor`, the position after the last item of the previous page (400 when it is not
/// one this service issued).
package struct PageRequest<Cursor: Codable & Sendable>: Sendable {
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
            guard raw.count <= Self.maximumCursorLength, let data = Data(base64URL: String(raw)),
                  let decoded = try? JSONDecoder.cursor.decode(Cursor.self, from: data)
            else {
                throw Problem.badRequest("cursor is not one this service issued", field: "cursor")
            }
            cursor = decoded
        }
    }

    /// Longer than any cursor a page issues (base64url of a small JSON object).
    package static var maximumCursorLength: Int { 512 }

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
        return Page(items: items, nextCursor: items.last.map { Self.encode(cursor($0)) })
    }

    package static func encode(_ cursor: Cursor) -> String {
        ((try? JSONEncoder.cursor.encode(cursor)) ?? Data()).base64URLEncoded
    }
}

extension JSONEncoder {
    fileprivate static let cursor: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}

extension JSONDecoder {
    /// Times in cursors are range-checked (years 1 to 9999, what Postgres and `Date` both hold exactly),
    /// so a crafted cursor is a 400 here rather than a value the database or the driver refuses.
    fileprivate static let cursor: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let milliseconds = try container.decode(Double.self)
            guard milliseconds.isFinite, (-62_135_596_800_000...253_402_300_799_999).contains(milliseconds) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "time out of range")
            }
            return Date(timeIntervalSince1970: milliseconds / 1000)
        }
        return decoder
    }()
}
