import EventBus
import Foundation
import Logging

/// Consumes catalog events from the basket's queue into the catalog read model and the baskets.
/// Idempotent and order-tolerant through the product version.
package struct CatalogEventHandler<Repository: BasketRepository>: MessageHandler {
    let repository: Repository
    let logger: Logger

    package init(repository: Repository, logger: Logger) {
        self.repository = repository
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        guard let change = try CatalogChange(envelope) else {
            throw UnprocessableMessage("basket-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
        let applied = try await Self.apply(change, on: repository)
        logger.info(applied ? "catalog change applied" : "stale catalog event ignored", metadata: [
            "productId": "\(change.productId)", "version": "\(change.version)", "event": "\(envelope.detailType)",
        ])
    }

    /// Applies a change to the read model and every basket line of the product; false when it was
    /// older than what is known (or a repeat).
    package static func apply(_ change: CatalogChange, on repository: Repository) async throws -> Bool {
        try await repository.updateCatalog(productId: change.productId) { store in
            guard change.supersedes(knownVersion: try await store.knownVersion()) else { return false }
            try await store.saveKnown(change)
            let changed = try await store.lines().compactMap { line -> BasketLine? in
                let item = change.applied(to: line.item)
                return item == line.item ? nil : BasketLine(userName: line.userName, line: line.line, item: item)
            }
            try await store.save(changed)
            return true
        }
    }
}
