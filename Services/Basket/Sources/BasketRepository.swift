import Foundation

/// How a checkout ended.
package enum CheckoutOutcome: Sendable, Equatable {
    /// The basket was emptied and the event recorded.
    case accepted(CheckoutBasket)
    /// The same `Idempotency-Key` was used before with the same request: the first answer.
    case replayed(CheckoutBasket)
    case emptyBasket
    /// Items whose products were deleted from the catalog (their names).
    case unavailableItems([String])
    /// The `Idempotency-Key` was used before with a different request.
    case idempotencyKeyReused
}

/// Storage of baskets and checkouts.
package protocol BasketRepository: Sendable {
    /// The user's basket; an empty one when there is none.
    func find(userName: String) async throws -> Basket
    /// Replaces the basket's contents.
    func replace(userName: String, items: [BasketItem]) async throws -> Basket
    func delete(userName: String) async throws
    /// Baskets with items, ordered by user name, after `cursor`.
    func list(after cursor: String?, limit: Int) async throws -> [Basket]
    /// Empties the basket and records a `CheckoutBasket` event for it, in one transaction.
    func checkout(_ request: CheckoutRequest, idempotencyKey: String?, eventBusName: String) async throws -> CheckoutOutcome
    /// The catalog read model's view of these products.
    func knownProducts(_ ids: [UUID]) async throws -> [UUID: KnownProduct]
    /// Applies a catalog event to the read model and to every basket holding the product; false
    /// when the event was older than what is known (or a repeat).
    func apply(_ change: CatalogChange) async throws -> Bool
}

/// A product as the catalog events described it.
package struct KnownProduct: Sendable, Equatable {
    package var product: CatalogProduct
    package var deleted: Bool
}

/// One catalog event, reduced to what baskets need.
package struct CatalogChange: Sendable, Equatable {
    package var productId: UUID
    package var name: String
    package var price: Decimal
    package var version: Int
    package var deleted: Bool
}
