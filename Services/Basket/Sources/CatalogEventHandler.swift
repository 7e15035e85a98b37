import EventBus
import Foundation
import Logging

/// Consumes `com.swn.product` events from the basket's queue into the catalog read model and the
/// baskets. Idempotent and order-tolerant through the product version.
package struct CatalogEventHandler<Repository: BasketRepository>: MessageHandler {
    let repository: Repository
    let logger: Logger

    package init(repository: Repository, logger: Logger) {
        self.repository = repository
        self.logger = logger
    }

    struct Detail: Decodable {
        var productId: UUID
        var name: String
        var price: Decimal
        var version: Int
    }

    package struct Unprocessable: Error, CustomStringConvertible {
        package var description: String
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(json: message.body)
        guard envelope.source == "com.swn.product" else { throw Unprocessable(description: "unexpected source \(envelope.source)") }
        let deleted: Bool
        switch envelope.detailType {
        case "ProductCreated", "ProductPriceChanged": deleted = false
        case "ProductDeleted": deleted = true
        default: throw Unprocessable(description: "unexpected detail-type \(envelope.detailType)")
        }
        let detail = try envelope.detail.decode(as: Detail.self)
        let applied = try await repository.apply(CatalogChange(
            productId: detail.productId, name: detail.name, price: detail.price, version: detail.version, deleted: deleted
        ))
        logger.info(applied ? "catalog change applied" : "stale catalog event ignored", metadata: [
            "productId": "\(detail.productId)", "version": "\(detail.version)", "event": "\(envelope.detailType)",
        ])
    }
}
