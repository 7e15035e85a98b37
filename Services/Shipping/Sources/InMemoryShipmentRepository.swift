import Contracts
import EventBus
import Foundation
import ServiceKit
import Synchronization

/// Shipments in memory, for tests of the routes and rules without a database; `published` holds
/// what the outbox would have sent.
package final class InMemoryShipmentRepository: ShipmentRepository {
    private let records = Mutex<[UUID: ShipmentRecord]>([:])
    private let outbox = Mutex<[PublishEntry]>([])
    private let transaction = AsyncLock()

    package init() {}

    package var published: [PublishEntry] { outbox.withLock { $0 } }

    package func withShipment<T: Sendable>(orderId: UUID, _ body: @Sendable (any ShipmentStore) async throws -> T) async throws -> T {
        try await transaction.run { try await body(Store(repository: self, orderId: orderId)) }
    }

    package func shipment(orderId: UUID) async throws -> Shipment? { records.withLock { $0[orderId]?.shipment } }

    package func shipments(before cursor: TimeCursor?, limit: Int) async throws -> [Shipment] {
        let all = records.withLock { $0.values.map(\.shipment) }.sorted { ($0.createdAt, $0.orderId.uuidString) > ($1.createdAt, $1.orderId.uuidString) }
        return Array(all.filter { shipment in
            guard let cursor else { return true }
            let position = TimeCursor(date: shipment.createdAt, id: shipment.orderId)
            return (position.microseconds, shipment.orderId.uuidString) < (cursor.microseconds, cursor.id.uuidString)
        }.prefix(limit))
    }

    package func claimDue(limit: Int, lease: Duration) async throws -> [(orderId: UUID, status: ShipmentStatus)] {
        let now = Date()
        return records.withLock { records in
            let due = records.values.filter { ($0.dueAt.map { $0 <= now } ?? false) }.sorted { $0.dueAt! < $1.dueAt! }.prefix(limit)
            for record in due { records[record.shipment.orderId]?.dueAt = now + lease.timeInterval }
            return due.map { ($0.shipment.orderId, $0.shipment.status) }
        }
    }

    struct Store: ShipmentStore {
        let repository: InMemoryShipmentRepository
        let orderId: UUID

        func record() async throws -> ShipmentRecord? { repository.records.withLock { $0[orderId] } }

        func save(_ record: ShipmentRecord?, events: [PublishEntry]) async throws {
            if let record { repository.records.withLock { $0[orderId] = record } }
            repository.outbox.withLock { $0 += events }
        }
    }
}
