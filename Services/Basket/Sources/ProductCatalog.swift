import Foundation

/// What the basket needs of a product.
package struct CatalogProduct: Codable, Sendable, Equatable {
    package init(id: UUID, name: String, price: Decimal, version: Int? = nil) {
        self.id = id
        self.name = name
        self.price = price
        self.version = version
    }

    package var id: UUID
    package var name: String
    package var price: Decimal
    /// The product's version when it came from the catalog itself (the read model keeps it apart).
    package var version: Int?
}

/// Where names and prices come from.
package protocol ProductCatalog: Sendable {
    /// The product, or nil when the catalog has none with that id. Throws when the catalog cannot answer.
    func product(id: UUID) async throws -> CatalogProduct?
    /// The products the catalog has among `ids` (the others are not in the answer), in one call where the
    /// catalog can. Throws when the catalog cannot answer.
    func products(ids: Set<UUID>) async throws -> [UUID: CatalogProduct]
}

extension ProductCatalog {
    package func products(ids: Set<UUID>) async throws -> [UUID: CatalogProduct] {
        try await withThrowingTaskGroup(of: CatalogProduct?.self, returning: [UUID: CatalogProduct].self) { group in
            for id in ids { group.addTask { try await product(id: id) } }
            return try await group.reduce(into: [:]) { found, product in if let product { found[product.id] = product } }
        }
    }
}

package struct CatalogUnavailable: Error, CustomStringConvertible {
    package var reason: String
    package var description: String { "catalog unavailable: \(reason)" }
}
