import Contracts
import EventBus
import Foundation
import ServiceKit

/// The catalog's decisions, without a database: what an admin's edit makes of a product, and which
/// catalog event a change publishes. Both repositories (Postgres and in memory) store what these decide.
package enum CatalogRules {
    /// An admin's edit (`PUT /product/{id}`) of `before`, as the product is at this moment (Postgres
    /// holds its row locked): the product it becomes (the next version), or why not. `If-Match`
    /// (`expected`) must name `before`; `stock` sets the stock, `stockDelta` moves it, and neither may
    /// take it below 0 (a delta that would is refused with the product as it is) or above the maximum.
    package static func edit(_ before: Product, with input: ProductInput, expected: ProductTag?) throws -> ProductUpdate {
        if let expected, expected != before.tag { return .changedMeanwhile(before) }
        let stock = input.stock ?? (before.stock + (input.stockDelta ?? 0))
        guard stock >= 0 else { return .stockWouldBeNegative(before) }
        guard stock <= ProductInput.maximumStock else {
            throw Problem.unprocessable("the stock would exceed \(ProductInput.maximumStock)", field: input.stockDelta == nil ? "stock" : "stockDelta")
        }
        var after = before
        after.name = input.name
        after.description = input.description ?? ""
        after.imageFile = input.imageFile ?? ""
        after.price = input.price
        after.category = input.category
        after.stock = stock
        after.version = before.version + 1
        return .updated(after)
    }

    /// A change of the catalog, as the repository made it.
    package enum Change: Sendable {
        case created(Product)
        case edited(before: Product, after: Product)
        case deleted(Product)
    }

    /// The event `change` publishes, or nil: baskets follow a product's price and its removal, so an
    /// edit that keeps the price publishes nothing. A deletion is one more change of the product: its
    /// version outranks every earlier event's (consumers keep the newest version they saw).
    package static func event(for change: Change) throws -> PublishEntry? {
        switch change {
        case .created(let product):
            return try entry(ShopEvents.productCreated, product, oldPrice: nil)
        case .edited(let before, let after):
            return after.price == before.price ? nil : try entry(ShopEvents.productPriceChanged, after, oldPrice: before.price)
        case .deleted(var product):
            product.version += 1
            return try entry(ShopEvents.productDeleted, product, oldPrice: nil)
        }
    }

    private static func entry(_ type: EventType<ProductChange>, _ product: Product, oldPrice: Decimal?) throws -> PublishEntry {
        try type.entry(ProductChange(
            productId: product.id, name: product.name, category: product.category, price: product.price,
            oldPrice: oldPrice, version: product.version
        ))
    }
}
