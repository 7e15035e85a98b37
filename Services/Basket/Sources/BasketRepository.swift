import Foundation

/// How a checkout ended.
package enum CheckoutOutcome: Sendable, Equatable {
    /// The basket was emptied and the event recorded.
    case accepted(CheckoutBasket)
    /// The same `Idempotency-Key` was used before with the same request: the first answer.
    case replayed(CheckoutBasket)
    case emptyBasket
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
}
