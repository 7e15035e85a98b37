import Contracts
import EventBus
import Foundation

/// One catalog event, reduced to what baskets need, with the rules for applying it.
package struct CatalogChange: Sendable, Equatable {
    package var productId: UUID
    package var name: String
    package var price: Decimal
    package var version: Int
    package var deleted: Bool

    package init(productId: UUID, name: String, price: Decimal, version: Int, deleted: Bool) {
        self.productId = productId
        self.name = name
        self.price = price
        self.version = version
        self.deleted = deleted
    }

    /// The change an event carries; nil for an event that is not a catalog change.
    package init?(_ envelope: EventEnvelope) throws {
        for type in ShopEvents.catalogChanges {
            guard let detail = try type.detail(of: envelope) else { continue }
            self.init(productId: detail.productId, name: detail.name, price: detail.price, version: detail.version,
                      deleted: type.detailType == ShopEvents.productDeleted.detailType)
            return
        }
        return nil
    }

    /// Only a newer version wins: a late or repeated event changes nothing.
    package func supersedes(knownVersion: Int?) -> Bool {
        knownVersion.map { version > $0 } ?? true
    }

    /// A basket line after this change: unavailable once deleted; otherwise the new name and price,
    /// remembering the price the user last saw (`previousPrice`) until it is the price again.
    package func applied(to item: BasketItem) -> BasketItem {
        var item = item
        if deleted {
            item.available = false
            return item
        }
        if item.price != price { item.previousPrice = item.previousPrice ?? item.price }
        item.price = price
        item.productName = name
        item.available = true
        if item.previousPrice == price { item.previousPrice = nil }
        return item
    }

    /// The product as the basket's read model keeps it.
    package var known: KnownProduct {
        KnownProduct(product: CatalogProduct(id: productId, name: name, price: price), deleted: deleted)
    }
}
