import Contracts
import EventBus
import Foundation
import Logging
import PostgresNIO

/// Turns `CheckoutBasket` events into orders and starts each one's saga in the same transaction.
/// Idempotent: a redelivered event finds its order made.
package struct CheckoutHandler<Repository: OrderRepository>: MessageHandler {
    let saga: SagaRunner<Repository>
    let logger: Logger

    package init(saga: SagaRunner<Repository>, logger: Logger) {
        self.saga = saga
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        guard let checkout = try ShopEvents.checkoutBasket.detail(of: envelope) else {
            throw UnprocessableMessage("ordering-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
        try CheckoutValidation.validate(checkout)
        let created: Bool
        do {
            created = try await saga.repository.createOrder(from: checkout) { store in _ = try await saga.apply(.started, on: store) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState]?.hasPrefix("22") == true {
            // A data exception (a value Postgres refuses) fails the same way every time.
            throw UnprocessableMessage("the database refused a value: \(error.serverInfo?[.message] ?? "\(error.code)")")
        }
        logger.info(created ? "order created" : "duplicate checkout event ignored", metadata: [
            "checkoutId": "\(checkout.checkoutId)", "userName": "\(checkout.userName)", "messageID": "\(message.messageID)",
        ])
    }
}
