import Foundation
import Hummingbird
import ServiceKit

/// What `GET /product` and `GET /product/facets` filter on, read from the query string (every bad
/// value a 400 naming its parameter).
package struct ProductFilter: Sendable, Hashable {
    /// The words searched for (`q`, lowercased, split at anything but letters and digits); empty: no search.
    package var words: [String] = []
    package var category: String?
    package var ids: [UUID]?
    package var minPrice: Decimal?
    package var maxPrice: Decimal?
    /// Only products with stock left.
    package var inStock = false

    package init(words: [String] = [], category: String? = nil, ids: [UUID]? = nil, minPrice: Decimal? = nil, maxPrice: Decimal? = nil, inStock: Bool = false) {
        self.words = words
        self.category = category
        self.ids = ids
        self.minPrice = minPrice
        self.maxPrice = maxPrice
        self.inStock = inStock
    }

    static let maximumQueryLength = 200
    static let maximumWords = 8
    static let maximumWordLength = 50

    package var searching: Bool { !words.isEmpty }

    package init(query: [String: String]) throws {
        if let q = query["q"], !q.isEmpty {
            words = try Self.words(of: q)
        }
        if let raw = query["category"], !raw.isEmpty {
            guard !raw.unicodeScalars.contains(where: TextRules.isForbidden) else {
                throw Problem.badRequest("category must not contain control or format characters", field: "category")
            }
            category = raw
        }
        minPrice = try Self.price(query["minPrice"], name: "minPrice")
        maxPrice = try Self.price(query["maxPrice"], name: "maxPrice")
        if let minPrice, let maxPrice, minPrice > maxPrice {
            throw Problem.badRequest("minPrice (\(minPrice)) must not be above maxPrice (\(maxPrice))", field: "minPrice")
        }
        switch query["inStock"] {
        case nil, "", "false": inStock = false
        case "true": inStock = true
        case let other?: throw Problem.badRequest("inStock must be true or false, not '\(other.prefix(20))'", field: "inStock")
        }
    }

    /// The words of a query: runs of letters and digits, lowercased, each once; the first 8, each cut
    /// to 50 characters. A query with none (only punctuation or spaces) searches for a word no product
    /// has, so it finds nothing.
    static func words(of q: String) throws -> [String] {
        guard q.unicodeScalars.count <= maximumQueryLength else {
            throw Problem.badRequest("q must be at most \(maximumQueryLength) characters", field: "q")
        }
        if let bad = q.unicodeScalars.first(where: TextRules.isForbidden) {
            throw Problem.badRequest("q must not contain control or format characters (found U+\(String(bad.value, radix: 16, uppercase: true)))", field: "q")
        }
        var words: [String] = []
        var current = ""
        for character in q.lowercased() {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        var seen = Set<String>()
        let distinct = words.map { String($0.prefix(maximumWordLength)) }.filter { seen.insert($0).inserted }.prefix(maximumWords)
        return distinct.isEmpty ? [Self.nothing] : Array(distinct)
    }

    /// A word no product has (a space never is in one).
    static let nothing = " "

    /// A price as the query string gives it: digits, optionally a point and one or two decimals.
    static func price(_ raw: String?, name: String) throws -> Decimal? {
        guard let raw, !raw.isEmpty else { return nil }
        let parts = raw.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, (1...10).contains(parts[0].utf8.count), parts.allSatisfy({ $0.utf8.allSatisfy { (48...57).contains($0) } }),
              parts.count == 1 || (1...2).contains(parts[1].utf8.count), let value = Decimal(string: raw, locale: Locale(identifier: "en_US_POSIX"))
        else {
            throw Problem.badRequest("\(name) must be a non-negative amount such as 19.99, not '\(raw.prefix(20))'", field: name)
        }
        return value
    }
}

/// A found product and how well it matched.
package struct RankedProduct: Codable, Sendable, Equatable {
    package var product: Product
    package var rank: Float

    package init(product: Product, rank: Float) {
        self.product = product
        self.rank = rank
    }
}

/// Where a page of search results (ordered by rank, then name, then id) starts. As a cursor: `r`
/// and the rank's 32 bits as 8 hex digits, then a `ProductCursor` (the id's 32 hex digits and the
/// name). A cursor without the rank (a plain `ProductCursor`) starts at the best matches.
package struct SearchCursor: PageCursor, Equatable {
    package var rank: Float
    package var after: ProductCursor

    package init(rank: Float, name: String, id: UUID) {
        self.rank = rank
        self.after = ProductCursor(name: name, id: id)
    }

    /// The rank of `r<8 hex digits>` at the start of `text`.
    static func rankPrefix(of text: Substring) -> Float? {
        guard text.first == "r", text.utf8.count >= 9 else { return nil }
        let digits = text.dropFirst().prefix(8)
        guard digits.allSatisfy(\.isHexDigit), let bits = UInt32(digits, radix: 16) else { return nil }
        let rank = Float(bitPattern: bits)
        // Any 32 bits are a position: NaN and negatives sort as no rank at all (the end).
        return rank.isNaN || rank < 0 ? -1 : rank
    }

    package init?(cursor text: Substring) {
        guard let after = ProductCursor(cursor: text) else { return nil }
        self.rank = Self.rankPrefix(of: text) ?? .infinity
        self.after = after
    }

    package var cursor: String {
        let hex = String(rank.bitPattern, radix: 16)
        return "r" + String(repeating: "0", count: 8 - hex.count) + hex + after.cursor
    }

    package static var pattern: String { ProductCursor.pattern }
    package static var maximumLength: Int { ProductCursor.maximumLength }
}

/// `GET /product/facets`: the categories of what the filter finds (the category filter itself left
/// out, so every other category shows its count) and the price range of what it finds.
package struct ProductFacets: Codable, Sendable, Equatable {
    package struct Category: Codable, Sendable, Equatable {
        package var name: String
        package var count: Int
    }

    package struct PriceRange: Codable, Sendable, Equatable {
        @NullWhenAbsent package var min: Decimal?
        @NullWhenAbsent package var max: Decimal?
    }

    package var categories: [Category]
    package var price: PriceRange
}
