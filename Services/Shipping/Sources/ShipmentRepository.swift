import Contracts
import EventBus
import Foundation
import ServiceKit

/// Storage of shipments. One transaction per command or move holds the order's shipment.
package protocol ShipmentRepository: Sendable {
    func withShipment<T: Sendable>(orderId: UUID, _ body: @Sendable (any ShipmentStore) async throws -> T) async throws -> T
    func shipment(orderId: UUID) async throws -> Shipment?
    /// Newest first, after `cursor`.
    func shipments(before cursor: TimeCursor?, limit: Int) async throws -> [Shipment]
    /// Claims shipments whose next move is due, for `lease` (another replica's scan passes them by),
    /// with the status each was claimed in.
    func claimDue(limit: Int, lease: Duration) async throws -> [(orderId: UUID, status: ShipmentStatus)]
}

package protocol ShipmentStore: Sendable {
    func record() async throws -> ShipmentRecord?
    /// Stores the decision's record and its events in the outbox.
    func save(_ record: ShipmentRecord?, events: [PublishEntry]) async throws
}

extension ShipmentStore {
    /// Reads the order's shipment once, decides with `decide`, and saves the decision with its events.
    package func apply(now: Date, _ decide: (ShipmentRecord?) -> ShippingRules.Decision) async throws -> ShippingRules.Decision {
        let existing = try await record()
        let decision = decide(existing)
        let events = try (decision.record ?? existing).map {
            try ShippingRules.entries(decision.events, for: $0.shipment, now: now)
        } ?? []
        try await save(decision.record, events: events)
        return decision
    }
}
