import Foundation
import NIOCore

/// A picture as stored: its type, bytes and entity tag.
package struct StoredImage: Sendable {
    package var contentType: String
    package var data: ByteBuffer
    package var etag: String

    package init(contentType: String, data: ByteBuffer, etag: String) {
        self.contentType = contentType
        self.data = data
        self.etag = etag
    }
}

/// Storage of the catalog.
package protocol ProductRepository: Sendable {
    func create(_ input: ProductInput) async throws -> Product
    func find(id: UUID) async throws -> Product?
    /// Up to `limit` products after `cursor` that pass `filter` (its words ignored), ordered by name then id.
    func list(_ filter: ProductFilter, after cursor: ProductCursor?, limit: Int) async throws -> [Product]
    /// Up to `limit` products that match `filter`'s words (typos forgiven, the last word also as a
    /// prefix) and pass its other filters, best match first, then by name and id.
    func search(_ filter: ProductFilter, after cursor: SearchCursor?, limit: Int) async throws -> [RankedProduct]
    /// The categories and price range of what `filter` finds.
    func facets(_ filter: ProductFilter) async throws -> ProductFacets
    /// Updates the product when it is still `expected` (its `ETag`; nil: whatever it is now).
    func update(id: UUID, with input: ProductInput, expected: ProductTag?) async throws -> ProductUpdate
    /// Stores the product's picture (replacing any); nil when there is no such product.
    func setImage(_ image: ProductImage, of id: UUID) async throws -> Product?
    func image(of id: UUID) async throws -> StoredImage?
    /// Whether a product was deleted (its picture with it).
    func delete(id: UUID) async throws -> Bool
    func count() async throws -> Int
}

/// What `If-Match` names: the product's version and stock (its `ETag` is `"<version>.<stock>"`; stock
/// is in it because sales change the stock and not the version).
package struct ProductTag: Sendable, Equatable {
    package var version: Int
    package var stock: Int

    package init(version: Int, stock: Int) {
        self.version = version
        self.stock = stock
    }

    /// A strong entity tag `"<version>.<stock>"`; nil for anything else (which then matches nothing).
    package init?(etag: String) {
        let text = etag.trimmingCharacters(in: .whitespaces)
        guard text.count >= 5, text.count <= 40, text.first == "\"", text.last == "\"" else { return nil }
        let parts = text.dropFirst().dropLast().split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let version = Int(parts[0]), let stock = Int(parts[1]), version >= 0, stock >= 0 else { return nil }
        self.init(version: version, stock: stock)
    }

    package var etag: String { "\"\(version).\(stock)\"" }

    /// What an `If-Match` that is not one of our tags names: no state of any product.
    package static let matchingNothing = ProductTag(version: -1, stock: -1)
}

/// How a `PUT` ended.
package enum ProductUpdate: Sendable, Equatable {
    case updated(Product)
    case notFound
    /// The product is no longer what `If-Match` named: it is now this.
    case changedMeanwhile(Product)
    /// `stockDelta` would take the stock below 0: it is this now.
    case stockWouldBeNegative(Product)
}

extension Product {
    package var tag: ProductTag { ProductTag(version: version, stock: stock) }
}
