import Contracts
import EventBus
import Foundation
import Logging
import ServiceKit

/// `OrderCompleted`, `CancelShipment` and `ReturnShipment` from `shipping-orders`.
package struct ShippingCommandHandler<Repository: ShipmentRepository>: MessageHandler {
    let repository: Repository
    let delays: ShippingRules.Delays
    let logger: Logger

    package init(repository: Repository, delays: ShippingRules.Delays, logger: Logger) {
        self.repository = repository
        self.delays = delays
        self.logger = logger
    }

    package func handle(_ message: QueueMessage) async throws {
        let envelope = try EventEnvelope(message: message)
        let now = Date()
        let orderId: UUID
        let decision: ShippingRules.Decision
        let delays = delays
        if let completed = try ShopEvents.orderCompleted.detail(of: envelope) {
            orderId = completed.orderId
            decision = try await apply(orderId) { ShippingRules.created(orderId: completed.orderId, userName: completed.userName, existing: $0, now: now, delays: delays) }
        } else if let command = try ShopEvents.cancelShipment.detail(of: envelope) {
            orderId = command.orderId
            decision = try await apply(orderId) { ShippingRules.cancel(orderId: command.orderId, userName: command.userName, existing: $0, now: now) }
        } else if let command = try ShopEvents.returnShipment.detail(of: envelope) {
            orderId = command.orderId
            decision = try await apply(orderId) { ShippingRules.returnRequested(existing: $0, now: now, delays: delays) }
        } else {
            throw UnprocessableMessage("shipping-service does not handle \(envelope.source)/\(envelope.detailType)")
        }
        logger.info("shipment", metadata: [
            "orderId": "\(orderId)", "message": "\(envelope.detailType)",
            "status": "\(decision.record.map { $0.shipment.status.rawValue } ?? "unchanged")", "events": "\(decision.events)",
        ])
    }

    func apply(_ orderId: UUID, _ decide: @escaping @Sendable (ShipmentRecord?) -> ShippingRules.Decision) async throws -> ShippingRules.Decision {
        return try await repository.withShipment(orderId: orderId) { store in try await store.apply(now: Date(), decide) }
    }
}

/// The warehouse's clock: dispatches, deliveries and parcels back whose time came. The times are rows
/// in the database, so a restart keeps them; any number of replicas scan at once, each moving only
/// what it claimed, and each move checks the shipment is still where it was when claimed.
package enum ShipmentMoves {
    /// How long a claimed move is left to the replica that claimed it. Short: a move is one quick
    /// transaction, and one made late by a replica that stalled past its lease is not made at all (it
    /// checks the status it claimed), so a crash right after a claim delays parcels by seconds only.
    package static let claimLease: Duration = .seconds(5)
    /// How many claimed moves run at once.
    package static let concurrentMoves = 8

    package static func task<Repository: ShipmentRepository>(
        _ repository: Repository, delays: ShippingRules.Delays, every interval: Duration, gate: StartupGate?, logger: Logger
    ) -> PeriodicTask {
        PeriodicTask("moving due shipments", every: interval, gate: gate, logger: logger) {
            // Each move is its own transaction (one order's lock, one flush): several at once, so the
            // flushes overlap instead of queueing one behind the other.
            let claimed = try await repository.claimDue(limit: 100, lease: claimLease)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, (orderId, status)) in claimed.enumerated() {
                    if index >= concurrentMoves { try await group.next() }
                    group.addTask {
                        let decision = try await repository.withShipment(orderId: orderId) { store in
                            try await store.apply(now: Date()) { ShippingRules.due(existing: $0, claimed: status, now: Date(), delays: delays) }
                        }
                        if let record = decision.record {
                            logger.info("shipment moved", metadata: ["orderId": "\(orderId)", "status": "\(record.shipment.status.rawValue)"])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
