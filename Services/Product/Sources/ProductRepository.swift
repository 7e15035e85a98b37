import Foundation

/// Storage of the catalog.
package protocol ProductRepository: Sendable {
    func create(_ input: ProductInput) async throws -> Product
    func find(id: UUID) async throws -> Product?
    /// Up to `limit` products after `cursor`, optionally of one category, ordered by name then id.
    func list(category: String?, after cursor: ProductCursor?, limit: Int) async throws -> [Product]
    /// The updated product, or nil when there is none with that id.
    func update(id: UUID, with input: ProductInput) async throws -> Product?
    /// Whether a product was deleted.
    func delete(id: UUID) async throws -> Bool
    func count() async throws -> Int
}
