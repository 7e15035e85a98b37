import Foundation
import Synchronization

/// The catalog in memory: for tests of the HTTP API and the rules without a database. It keeps
/// the same order, paging and versioning as the Postgres repository; it publishes no events.
package final class InMemoryProductRepository: ProductRepository {
    private let products = Mutex<[UUID: Product]>([:])

    package init() {}

    package func create(_ input: ProductInput) async throws -> Product {
        let now = Date()
        let product = Product(
            id: UUID(), name: input.name, description: input.description ?? "", imageFile: input.imageFile ?? "",
            price: input.price, category: input.category, stock: input.stock ?? 0, version: 1, createdAt: now, updatedAt: now
        )
        products.withLock { $0[product.id] = product }
        return product
    }

    package func find(id: UUID) async throws -> Product? {
        products.withLock { $0[id] }
    }

    package func list(category: String?, ids: [UUID]?, after cursor: ProductCursor?, limit: Int) async throws -> [Product] {
        products.withLock { products in
            products.values
                .filter { product in category.map { product.category == $0 } ?? true }
                .filter { product in ids.map { $0.contains(product.id) } ?? true }
                .filter { product in cursor.map { (product.name, product.id.uuidString) > ($0.name, $0.id.uuidString) } ?? true }
                .sorted { ($0.name, $0.id.uuidString) < ($1.name, $1.id.uuidString) }
                .prefix(limit).map { $0 }
        }
    }

    package func update(id: UUID, with input: ProductInput, expected: ProductTag?) async throws -> ProductUpdate {
        products.withLock { products in
            guard var product = products[id] else { return .notFound }
            if let expected, expected != product.tag { return .changedMeanwhile(product) }
            if let delta = input.stockDelta, product.stock + delta < 0 { return .stockWouldBeNegative(product) }
            product.name = input.name
            product.description = input.description ?? ""
            product.imageFile = input.imageFile ?? ""
            product.price = input.price
            product.category = input.category
            product.stock = input.stock ?? (product.stock + (input.stockDelta ?? 0))
            product.version += 1
            product.updatedAt = Date()
            products[id] = product
            return .updated(product)
        }
    }

    package func delete(id: UUID) async throws -> Bool {
        products.withLock { $0.removeValue(forKey: id) != nil }
    }

    package func count() async throws -> Int {
        products.withLock { $0.count }
    }
}
