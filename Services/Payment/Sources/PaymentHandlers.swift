import Contracts
import EventBus
import Foundation
import Logging
import ServiceKit

/// Charges and refunds from `payment-commands`.
package struct PaymentCommandHandler<Repository: PaymentRepository>: MessageHandler {
    let repository: Repository
    let slowDelay: Duration
    let logger: Logger

    package init(repository: Repository, slowDelay: Duration, logger: Logger) {
        self.repository = repository
        self.slowDelay = slowDelay
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        if let command = try ShopEvents.chargePayment.detail(of: envelope) {
            let decision = try await repository.withPayment(orderId: command.orderId) { store in
                try await store.apply() { PaymentRules.charge(command, existing: $0, now: Date(), slowDelay: slowDelay) }
            }
            logger.info("charge", metadata: ["orderId": "\(command.orderId)", "replies": "\(decision.replies)"])
        } else if let command = try ShopEvents.refundPayment.detail(of: envelope) {
            let decision = try await repository.withPayment(orderId: command.orderId) { store in
                try await store.apply() { PaymentRules.refund(orderId: command.orderId, existing: $0) }
            }
            logger.info("refund", metadata: ["orderId": "\(command.orderId)", "replies": "\(decision.replies)"])
        } else {
            throw UnprocessableMessage("payment-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
    }

}

/// Answers slow payments (`0077`) once their time came. The time is a row in the database, so a
/// restart keeps it; any number of replicas scan at once, each answering only what it claimed.
package enum SlowPayments {
    /// How long a claimed payment is left to the replica that claimed it.
    package static let claimLease: Duration = .seconds(30)

    package static func task<Repository: PaymentRepository>(
        _ repository: Repository, every interval: Duration, gate: StartupGate?, logger: Logger
    ) -> PeriodicTask {
        PeriodicTask("answering slow payments", every: interval, gate: gate, logger: logger) {
            for orderId in try await repository.claimDue(limit: 100, lease: claimLease) {
                _ = try await repository.withPayment(orderId: orderId) { store in
                    try await store.apply() { $0.map(PaymentRules.decide) ?? PaymentRules.Decision() }
                }
                logger.info("slow payment answered", metadata: ["orderId": "\(orderId)"])
            }
        }
    }
}
