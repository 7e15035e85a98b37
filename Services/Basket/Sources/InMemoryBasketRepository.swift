import Contracts
import EventBus
import Foundation
import ServiceKit
import Synchronization

/// Baskets, checkouts and the catalog read model in memory: for tests of the HTTP API and the
/// rules without a database. `published` holds what the outbox would have sent. One lock serialises
/// every checkout and catalog update, as the Postgres transactions do per basket and product.
package final class InMemoryBasketRepository: BasketRepository {
    struct State {
        var baskets: [String: [BasketItem]] = [:]
        var checkouts: [String: [String: StoredCheckout]] = [:]
        var known: [UUID: (change: CatalogChange, version: Int)] = [:]
        var published: [PublishEntry] = []
    }

    let state = Mutex(State())
    /// Held for the whole of a checkout or catalog update (the transaction).
    let transaction = AsyncLock()

    package init() {}

    /// Every event recorded by checkouts, oldest first.
    package var published: [PublishEntry] { state.withLock { $0.published } }

    package func find(userName: String) async throws -> Basket {
        Basket(userName: userName, items: state.withLock { $0.baskets[userName] ?? [] })
    }

    package func replace(userName: String, items: [BasketItem]) async throws -> Basket {
        try await transaction.run {
            state.withLock { $0.baskets[userName] = items.isEmpty ? nil : items }
            return Basket(userName: userName, items: items)
        }
    }

    package func delete(userName: String) async throws {
        _ = state.withLock { $0.baskets.removeValue(forKey: userName) }
    }

    package func list(after cursor: String?, limit: Int) async throws -> [Basket] {
        state.withLock { state in
            state.baskets.keys.sorted().filter { name in cursor.map { name > $0 } ?? true }.prefix(limit)
                .map { Basket(userName: $0, items: state.baskets[$0] ?? []) }
        }
    }

    package func knownProducts(_ ids: [UUID]) async throws -> [UUID: KnownProduct] {
        state.withLock { state in
            var known: [UUID: KnownProduct] = [:]
            for id in ids { if let entry = state.known[id] { known[id] = entry.change.known } }
            return known
        }
    }

    package func checkout<T: Sendable>(userName: String, _ body: @Sendable (any CheckoutStore) async throws -> T) async throws -> T {
        try await transaction.run { try await body(Store(repository: self, userName: userName)) }
    }

    package func updateCatalog<T: Sendable>(productId: UUID, _ body: @Sendable (any CatalogStore) async throws -> T) async throws -> T {
        try await transaction.run { try await body(CatalogEntry(repository: self, productId: productId)) }
    }

    struct Store: CheckoutStore {
        let repository: InMemoryBasketRepository
        let userName: String

        func storedCheckout(idempotencyKey: String) async throws -> StoredCheckout? {
            repository.state.withLock { $0.checkouts[userName]?[idempotencyKey] }
        }

        func basket() async throws -> Basket { try await repository.find(userName: userName) }

        func record(_ checkout: CheckoutBasket, event: PublishEntry, idempotencyKey: String?, request: String) async throws {
            repository.state.withLock { state in
                state.published.append(event)
                state.baskets[userName] = nil
                if let idempotencyKey { state.checkouts[userName, default: [:]][idempotencyKey] = StoredCheckout(request: request, response: checkout) }
            }
        }
    }

    struct CatalogEntry: CatalogStore {
        let repository: InMemoryBasketRepository
        let productId: UUID

        func knownVersion() async throws -> Int? { repository.state.withLock { $0.known[productId]?.version } }

        func saveKnown(_ change: CatalogChange) async throws {
            repository.state.withLock { $0.known[productId] = (change, change.version) }
        }

        func lines() async throws -> [BasketLine] {
            repository.state.withLock { state in
                state.baskets.sorted { $0.key < $1.key }.flatMap { userName, items in
                    items.enumerated().filter { $0.element.productId == productId }
                        .map { BasketLine(userName: userName, line: $0.offset, item: $0.element) }
                }
            }
        }

        func save(_ lines: [BasketLine]) async throws {
            repository.state.withLock { state in
                for line in lines where state.baskets[line.userName]?.indices.contains(line.line) == true {
                    state.baskets[line.userName]![line.line] = line.item
                }
            }
        }
    }
}
