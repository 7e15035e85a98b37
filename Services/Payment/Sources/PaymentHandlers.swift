import Contracts
import EventBus
import Foundation
import Logging
import ServiceKit

/// Charges and refunds from `payment-commands`.
package struct PaymentCommandHandler<Repository: PaymentRepository>: MessageHandler {
    let repository: Repository
    let eventBusName: String
    let slowDelay: Duration
    let logger: Logger

    package init(repository: Repository, eventBusName: String, slowDelay: Duration, logger: Logger) {
        self.repository = repository
        self.eventBusName = eventBusName
        self.slowDelay = slowDelay
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        if let command = try ShopEvents.chargePayment.detail(of: envelope) {
            let replies = try await repository.withPayment(orderId: command.orderId) { store in
                let decision = PaymentRules.charge(command, existing: try await store.record(), now: Date(), slowDelay: slowDelay)
                try await store.save(decision, replies: try entries(decision, record: try await store.record()))
                return decision.replies
            }
            logger.info("charge", metadata: ["orderId": "\(command.orderId)", "replies": "\(replies)"])
        } else if let command = try ShopEvents.refundPayment.detail(of: envelope) {
            let replies = try await repository.withPayment(orderId: command.orderId) { store in
                let decision = PaymentRules.refund(orderId: command.orderId, existing: try await store.record())
                try await store.save(decision, replies: try entries(decision, record: try await store.record()))
                return decision.replies
            }
            logger.info("refund", metadata: ["orderId": "\(command.orderId)", "replies": "\(replies)"])
        } else {
            throw UnprocessableMessage("payment-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
    }

    func entries(_ decision: PaymentRules.Decision, record existing: PaymentRecord?) throws -> [PublishEntry] {
        guard let record = decision.record ?? existing else { return [] }
        return try PaymentRules.entries(decision.replies, for: record, eventBusName: eventBusName)
    }
}

/// Answers slow payments (`0077`) once their time came. The time is a row in the database, so a
/// restart keeps it.
package enum SlowPayments {
    package static func task<Repository: PaymentRepository>(
        _ repository: Repository, eventBusName: String, every interval: Duration, gate: StartupGate?, logger: Logger
    ) -> PeriodicTask {
        PeriodicTask("answering slow payments", every: interval, gate: gate, logger: logger) {
            for orderId in try await repository.due(limit: 100) {
                try await repository.withPayment(orderId: orderId) { store in
                    guard let record = try await store.record() else { return }
                    let decision = PaymentRules.decide(record)
                    try await store.save(decision, replies: try PaymentRules.entries(decision.replies, for: decision.record ?? record, eventBusName: eventBusName))
                }
                logger.info("slow payment answered", metadata: ["orderId": "\(orderId)"])
            }
        }
    }
}
