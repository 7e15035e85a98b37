import Contracts
import EventBus
import Foundation

/// Storage of baskets, checkouts and the catalog read model. It reads and writes; the rules live
/// in `CheckoutRules`, `CatalogChange` and `BasketInput`.
package protocol BasketRepository: Sendable {
    /// The user's basket; an empty one when there is none. Never writes.
    func find(userName: String) async throws -> Basket
    /// Replaces the basket's contents.
    func replace(userName: String, items: [BasketItem]) async throws -> Basket
    func delete(userName: String) async throws
    /// Baskets with items, ordered by user name, after `cursor` (a user name).
    func list(after cursor: String?, limit: Int) async throws -> [Basket]
    /// The catalog read model's view of these products.
    func knownProducts(_ ids: [UUID]) async throws -> [UUID: KnownProduct]
    /// Runs `body` in one transaction that holds `userName`'s basket: checkouts of one basket run
    /// one after the other, and what `body` records commits together or not at all.
    func checkout<T: Sendable>(userName: String, _ body: @Sendable (any CheckoutStore) async throws -> T) async throws -> T
    /// Runs `body` in one transaction that holds the product's read-model entry and its basket lines.
    func updateCatalog<T: Sendable>(productId: UUID, _ body: @Sendable (any CatalogStore) async throws -> T) async throws -> T
}

/// One user's basket inside a checkout transaction.
package protocol CheckoutStore: Sendable {
    func storedCheckout(idempotencyKey: String) async throws -> StoredCheckout?
    func basket() async throws -> Basket
    /// Records the accepted checkout: the event in the outbox, the basket emptied, the answer kept
    /// (under `idempotencyKey`, when given).
    func record(_ checkout: CheckoutBasket, event: PublishEntry, idempotencyKey: String?, request: String) async throws
}

/// One product's entry in the read model and the basket lines holding it, inside a transaction.
package protocol CatalogStore: Sendable {
    func knownVersion() async throws -> Int?
    func saveKnown(_ change: CatalogChange) async throws
    func lines() async throws -> [BasketLine]
    /// Writes back lines whose item changed.
    func save(_ lines: [BasketLine]) async throws
}

/// A basket line as stored: whose basket, which line.
package struct BasketLine: Sendable, Equatable {
    package var userName: String
    package var line: Int
    package var item: BasketItem

    package init(userName: String, line: Int, item: BasketItem) {
        self.userName = userName
        self.line = line
        self.item = item
    }
}

/// A product as the catalog events described it.
package struct KnownProduct: Sendable, Equatable {
    package var product: CatalogProduct
    package var deleted: Bool

    package init(product: CatalogProduct, deleted: Bool) {
        self.product = product
        self.deleted = deleted
    }
}
