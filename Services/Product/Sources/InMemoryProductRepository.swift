import Foundation
import NIOCore
import Synchronization

/// The catalog in memory: for tests of the HTTP API and the rules without a database. It keeps
/// the same order, paging and versioning as the Postgres repository; it publishes no events.
package final class InMemoryProductRepository: ProductRepository {
    private let products = Mutex<[UUID: Product]>([:])
    private let images = Mutex<[UUID: StoredImage]>([:])

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

    package func list(_ filter: ProductFilter, after cursor: ProductCursor?, limit: Int) async throws -> [Product] {
        products.withLock { products in
            products.values
                .filter { Self.passes($0, filter) }
                .filter { product in cursor.map { (product.name, product.id.uuidString) > ($0.name, $0.id.uuidString) } ?? true }
                .sorted { ($0.name, $0.id.uuidString) < ($1.name, $1.id.uuidString) }
                .prefix(limit).map { $0 }
        }
    }

    /// Words found as prefixes of the product's words (no typo tolerance here: that is Postgres's).
    package func search(_ filter: ProductFilter, after cursor: SearchCursor?, limit: Int) async throws -> [RankedProduct] {
        products.withLock { products in
            products.values
                .filter { Self.passes($0, filter) }
                .compactMap { product -> RankedProduct? in
                    let words = "\(product.name) \(product.category) \(product.description)".lowercased()
                        .split { !$0.isLetter && !$0.isNumber }.map(String.init)
                    let hits = filter.words.filter { word in words.contains { $0.hasPrefix(word) } }.count
                    return hits == filter.words.count ? RankedProduct(product: product, rank: Float(hits)) : nil
                }
                .filter { found in
                    cursor.map { found.rank < $0.rank || (found.rank == $0.rank && (found.product.name, found.product.id.uuidString) > ($0.after.name, $0.after.id.uuidString)) } ?? true
                }
                .sorted { ($1.rank, $0.product.name, $0.product.id.uuidString) < ($0.rank, $1.product.name, $1.product.id.uuidString) }
                .prefix(limit).map { $0 }
        }
    }

    package func facets(_ filter: ProductFilter) async throws -> ProductFacets {
        var withoutCategory = filter
        withoutCategory.category = nil
        let all = try await filter.searching ? search(withoutCategory, after: nil, limit: .max).map(\.product) : list(withoutCategory, after: nil, limit: .max)
        let found = all.filter { filter.category == nil || $0.category == filter.category }
        let counts = Dictionary(grouping: all, by: \.category).map { ProductFacets.Category(name: $0.key, count: $0.value.count) }
            .sorted { ($1.count, $0.name) < ($0.count, $1.name) }
        return ProductFacets(categories: counts, price: .init(min: found.map(\.price).min(), max: found.map(\.price).max()))
    }

    static func passes(_ product: Product, _ filter: ProductFilter) -> Bool {
        (filter.category.map { product.category == $0 } ?? true)
            && (filter.ids.map { $0.contains(product.id) } ?? true)
            && (filter.minPrice.map { product.price >= $0 } ?? true)
            && (filter.maxPrice.map { product.price <= $0 } ?? true)
            && (!filter.inStock || product.stock > 0)
    }

    package func setImage(_ image: ProductImage, of id: UUID) async throws -> Product? {
        let product = products.withLock { products -> Product? in
            products[id]?.imageUrl = ProductImage.url(of: id, tag: image.etag)
            return products[id]
        }
        if product != nil {
            images.withLock { $0[id] = StoredImage(contentType: image.format.contentType, data: ByteBuffer(data: image.data), etag: image.etag) }
        }
        return product
    }

    package func image(of id: UUID) async throws -> StoredImage? {
        images.withLock { $0[id] }
    }

    package func update(id: UUID, with input: ProductInput, expected: ProductTag?) async throws -> ProductUpdate {
        try products.withLock { products in
            guard let before = products[id] else { return .notFound }
            let decision = try CatalogRules.edit(before, with: input, expected: expected)
            guard case .updated(var after) = decision else { return decision }
            after.updatedAt = Date()
            products[id] = after
            return .updated(after)
        }
    }

    package func delete(id: UUID) async throws -> Bool {
        images.withLock { _ = $0.removeValue(forKey: id) }
        return products.withLock { $0.removeValue(forKey: id) != nil }
    }

    package func count() async throws -> Int {
        products.withLock { $0.count }
    }
}
